import * as tonCore from '@ton/core';
import { beginCell, Dictionary } from '@ton/core';
import { providedModules } from './outerRealm';

describe('the test environment (tests/jest/environment.ts)', () => {
    const outer = providedModules('the test environment');

    it("gives every test file the worker realm's @ton/core, which hashes cells through nativeSha.ts", () => {
        expect(tonCore).toBe(outer.core);
        expect(outer.nativeCellHashes).toBe(true);
        const OuterJsSha = outer.jssha as { started: number };
        const before = OuterJsSha.started;
        const cell = beginCell().storeUint(Date.now(), 64).endCell();
        expect(cell.hash()).toHaveLength(32);
        expect(OuterJsSha.started).toBeGreaterThan(before);
    });

    it("shares the worker realm's Map, so a dictionary's map is a Map in the test file too", () => {
        const dict = Dictionary.empty(Dictionary.Keys.Uint(8), Dictionary.Values.Uint(8));
        dict.set(1, 2);
        expect((dict as unknown as { _map: unknown })._map).toBeInstanceOf(Map);
    });
});
