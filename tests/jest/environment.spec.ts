import * as tonCore from '@ton/core';
import { Dictionary } from '@ton/core';
import { OUTER_REALM, OuterRealmModules } from './outerRealm';

describe('the test environment (tests/jest/environment.ts)', () => {
    const outer = (globalThis as Record<string, unknown>)[OUTER_REALM] as OuterRealmModules;

    it("gives every test file the worker realm's @ton/core, whose cells hash with nativeSha.ts", () => {
        expect(tonCore).toBe(outer.core);
        const OuterJsSha = outer.jssha as new (variant: string, format: string) => unknown;
        expect(() => new OuterJsSha('SHA-384', 'HEX')).toThrow(/nativeSha\.ts serves/);
    });

    it("shares the worker realm's Map, so a dictionary's map is a Map in the test file too", () => {
        const dict = Dictionary.empty(Dictionary.Keys.Uint(8), Dictionary.Values.Uint(8));
        dict.set(1, 2);
        expect((dict as unknown as { _map: unknown })._map).toBeInstanceOf(Map);
    });
});
