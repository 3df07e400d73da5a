import type { Config } from 'jest';
import { cpus } from 'node:os';

const config: Config = {
    // Each file compiled alone, without type-checking it against the whole program: on a clean clone
    // that checking was a large share of npm test's time, and `npx tsc --noEmit` (CI's type-check step,
    // tests included) already checks every type once.
    transform: { '^.+\\.tsx?$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }] },
    // The sandbox's environment, with the emulator's glue and @ton/core loaded once in the worker's
    // own realm rather than in each test file's context, and cells hashed with Node's SHA-2 rather
    // than jssha's JavaScript (tests/jest/environment.ts and nativeSha.ts say why).
    testEnvironment: '<rootDir>/tests/jest/environment.ts',
    moduleNameMapper: {
        '^\\./emulator-emscripten\\.js$': '<rootDir>/tests/jest/emulatorModule.ts',
        '^@ton/core$': '<rootDir>/tests/jest/tonCore.ts',
        '^jssha$': '<rootDir>/tests/jest/nativeSha.ts',
    },
    testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    roots: ['<rootDir>/tests'],
    globalSetup: '<rootDir>/tests/globalSetup.ts',
    // Sandbox emulation of long flows is CPU-bound; CI runs on two cores.
    testTimeout: 120_000,
    // Two workers even on two cores: the suites that drive daemons spend much of their time waiting
    // on them, and two workers took npm test from 13.1 to 9.8 minutes there (bench/RESULTS.md).
    maxWorkers: Math.max(2, cpus().length - 1),
};

export default config;
