import { OUTER_REALM, OuterRealmModules } from './outerRealm';

/**
 * What a test file gets for `@ton/core` (jest.config.ts `moduleNameMapper`): the one instance the
 * test environment loaded in the worker's realm (environment.ts says why), so the sandbox, the
 * wrappers and the tests all build and compare the same Cell, Address and Builder classes.
 */
const outer = (globalThis as Record<string, unknown>)[OUTER_REALM] as OuterRealmModules | undefined;
if (!outer) throw new Error(`@ton/core was not provided: run the tests with tests/jest/environment.ts as jest's testEnvironment`);
export = outer.core;
