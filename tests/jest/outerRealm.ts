import { join, dirname } from 'node:path';
import NativeSha from './nativeSha';

/** The global under which the test environment hands the outer realm's modules to test files. */
export const OUTER_REALM = '__cocoonOuterRealm';

export type OuterRealmModules = { emulator: unknown; core: unknown; jssha: unknown };

let loaded: OuterRealmModules | undefined;

/**
 * The modules test files share from the jest worker's own realm, loaded once per worker (see
 * environment.ts for why). jssha is replaced by nativeSha.ts in this realm's module cache before
 * @ton/core loads, as jest.config.ts maps it in the test files' realm, so cells are hashed with
 * Node's SHA-2 on both sides.
 */
export function outerRealmModules(): OuterRealmModules {
    if (loaded) return loaded;
    const jsshaFile = require.resolve('jssha');
    require(jsshaFile);
    const cached = require.cache[jsshaFile];
    if (!cached) throw new Error(`jssha did not load from ${jsshaFile}`);
    cached.exports = NativeSha;
    const emulatorFile = join(dirname(require.resolve('@ton/sandbox/package.json')), 'dist/executor/emulator-emscripten.js');
    loaded = { emulator: require(emulatorFile), core: require('@ton/core'), jssha: cached.exports };
    return loaded;
}
