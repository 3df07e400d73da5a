import { providedModules } from './outerRealm';

/**
 * What the sandbox's Executor gets for `./emulator-emscripten.js` in a test file (jest.config.ts
 * `moduleNameMapper`): the emulator's glue as the test environment loaded it (environment.ts).
 */
export = providedModules('the TVM emulator').emulator;
