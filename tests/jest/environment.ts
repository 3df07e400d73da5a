// First: it puts Node's SHA-2 in jssha's place before the sandbox's environment loads @ton/core.
import { outerRealmModules } from './workerRealm';
import { OUTER_REALM } from './outerRealm';
import SandboxEnvironment from '@ton/sandbox/dist/jest/BenchmarkEnvironment';

/**
 * The sandbox's own test environment, with one change: the JavaScript that does the emulation's
 * heavy lifting (the glue of TVM's WebAssembly emulator, and @ton/core, which serialises, parses
 * and hashes every cell) is loaded in the jest worker's own realm, once, and handed to each test
 * file (emulatorModule.ts, tonCore.ts; jest.config.ts maps the imports there).
 *
 * Why: jest runs each test file in a separate context, where every read of a global (`BigInt`,
 * `Buffer`, `Math`, `performance`) goes through the context's interceptors. The emulated TVM asks
 * the glue for the time about once every ten gas units, and the sandbox serialises and re-parses
 * a contract's whole state around each of its transactions; in the test files' context an
 * RSA-4096 verification took 0.9 s against 0.43 s in plain Node, and the attestation suite spent
 * most of its time in @ton/core. @ton/core is the same instance for every file a worker runs (it
 * keeps no state between calls); each test file still gets its own emulator instance. What
 * crosses the realms is @ton/core's objects and the arrays, plain objects and errors passed to and
 * from it: the worker's Map is shared (below), and an error @ton/core throws is not an
 * `instanceof Error` of the test file's realm (checks by message are unaffected).
 */
export default class CocoonSandboxEnvironment extends SandboxEnvironment {
    constructor(...args: ConstructorParameters<typeof SandboxEnvironment>) {
        super(...args);
        this.global[OUTER_REALM] = outerRealmModules();
        // @ton/core's dictionaries hold this realm's Maps, which the sandbox (in the test file's
        // context) tells apart with `instanceof Map` when it copies a snapshot: one Map for both.
        this.global.Map = Map;
    }
}
