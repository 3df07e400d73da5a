import type { Config } from 'jest';

const config: Config = {
    preset: 'ts-jest',
    testEnvironment: '@ton/sandbox/jest-environment',
    testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    roots: ['<rootDir>/tests'],
    globalSetup: '<rootDir>/tests/globalSetup.ts',
    // Sandbox emulation of long flows is CPU-bound; CI runs on two cores.
    testTimeout: 120_000,
};

export default config;
