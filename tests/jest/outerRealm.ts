import { join, dirname } from 'node:path';
import NativeSha from './nativeSha';

/** The global under which the test environment hands the worker realm's modules to test files. */
export const OUTER_REALM = '__cocoonOuterRealm';

export type OuterRealmModules = { emulator: unknown; core: unknown; jssha: unknown; nativeCellHashes: boolean };

/**
 * jssha is replaced by nativeSha.ts in this realm's module cache, as jest.config.ts maps it in
 * the test files' context, so @ton/core hashes cells with Node's SHA-2 on both sides. This runs
 * when environment.ts first imports this file, before anything in the jest worker loads
 * @ton/crypto (which keeps the jssha it got); if something had, cells are hashed with jssha,
 * slower but the same, and `nativeCellHashes` says so (environment.spec.ts checks it).
 */
function useNativeSha(): boolean {
    if (require.cache[require.resolve('@ton/crypto')]) return false;
    const jsshaFile = require.resolve('jssha');
    require(jsshaFile);
    const cached = require.cache[jsshaFile];
    if (!cached) return false;
    cached.exports = NativeSha;
    return true;
}
const nativeCellHashes = useNativeSha();

let loaded: OuterRealmModules | undefined;

/** The modules test files share from the jest worker's own realm, loaded once per worker (environment.ts says why). */
export function outerRealmModules(): OuterRealmModules {
    if (loaded) return loaded;
    const emulatorFile = join(dirname(require.resolve('@ton/sandbox/package.json')), 'dist/executor/emulator-emscripten.js');
    loaded = { emulator: require(emulatorFile), core: require('@ton/core'), jssha: require('jssha'), nativeCellHashes };
    return loaded;
}

/** In a test file: the modules the test environment handed over, or an error naming what is missing. */
export function providedModules(what: string): OuterRealmModules {
    const outer = (globalThis as Record<string, unknown>)[OUTER_REALM] as OuterRealmModules | undefined;
    if (!outer) throw new Error(`${what} was not provided: run the tests with tests/jest/environment.ts as jest's testEnvironment`);
    return outer;
}
