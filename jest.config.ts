import type { Config } from 'jest';
import { cpus } from 'node:os';

const config: Config = {
    preset: 'ts-jest',
    testEnvironment: '@ton/sandbox/jest-environment',
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
