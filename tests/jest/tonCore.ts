import { providedModules } from './outerRealm';

/**
 * What a test file gets for `@ton/core` (jest.config.ts `moduleNameMapper`): the one instance the
 * test environment loaded in the worker's realm (environment.ts says why), so the sandbox, the
 * wrappers and the tests all build and compare the same Cell, Address and Builder classes.
 */
export = providedModules('@ton/core').core;
