import { join, dirname } from 'node:path';
import NativeSha from './nativeSha';
import { OuterRealmModules } from './outerRealm';

/**
 * jssha is replaced by nativeSha.ts in this realm's module cache, as jest.config.ts maps it in
 * the test files' context, so @ton/core hashes cells with Node's SHA-2 on both sides. This runs
 * when environment.ts, this file's only importer (test files never load it), first imports it,
 * before anything in the jest worker loads @ton/crypto (which keeps the jssha it got); if
 * something had, cells are hashed with jssha, slower but the same, and `nativeCellHashes` says
 * so (environment.spec.ts checks it).
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
