/** The global under which the test environment hands the worker realm's modules to test files. */
export const OUTER_REALM = '__cocoonOuterRealm';

export type OuterRealmModules = { emulator: unknown; core: unknown; jssha: unknown; nativeCellHashes: boolean };

/** In a test file: the modules the test environment handed over, or an error naming what is missing. */
export function providedModules(what: string): OuterRealmModules {
    const outer = (globalThis as Record<string, unknown>)[OUTER_REALM] as OuterRealmModules | undefined;
    if (!outer) throw new Error(`${what} was not provided: run the tests with tests/jest/environment.ts as jest's testEnvironment`);
    return outer;
}
