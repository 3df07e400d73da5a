import { OUTER_REALM, OuterRealmModules } from './outerRealm';

/**
 * What the sandbox's Executor gets for `./emulator-emscripten.js` in a test file (jest.config.ts
 * `moduleNameMapper`): the emulator's glue as the test environment loaded it (environment.ts).
 */
const outer = (globalThis as Record<string, unknown>)[OUTER_REALM] as OuterRealmModules | undefined;
if (!outer) throw new Error(`the TVM emulator was not provided: run the tests with tests/jest/environment.ts as jest's testEnvironment`);
export = outer.emulator;
