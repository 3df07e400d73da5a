import * as fc from 'fast-check';
import MappedJsSha from 'jssha';
import JsSha256 from 'jssha/dist/sha256';
import JsSha512 from 'jssha/dist/sha512';
import { sha256_sync, sha512_sync } from '@ton/crypto';
import { beginCell } from '@ton/core';
import NativeSha from './nativeSha';

/** jssha itself (its per-variant builds, which the test environment's mapping of `jssha` leaves alone). */
function jsSha(variant: 'SHA-256' | 'SHA-512', hex: string, hmacKeyHex?: string): string {
    const options = hmacKeyHex === undefined ? undefined : { hmacKey: { value: hmacKeyHex, format: 'HEX' as const } };
    const h = variant === 'SHA-256' ? new JsSha256(variant, 'HEX', options) : new JsSha512(variant, 'HEX', options);
    h.update(hex);
    return h.getHash('HEX');
}

function nativeSha(variant: string, hex: string, hmacKeyHex?: string): string {
    const h = new NativeSha(variant, 'HEX', hmacKeyHex === undefined ? undefined : { hmacKey: { value: hmacKeyHex, format: 'HEX' } });
    return h.update(hex).getHash('HEX');
}

describe("the test environment's jssha (tests/jest/nativeSha.ts)", () => {
    const bytes = fc.uint8Array({ minLength: 0, maxLength: 300 }).map((b) => Buffer.from(b).toString('hex'));

    it('gives the digests jssha gives: SHA-256, SHA-512 and HMAC-SHA-512, the empty input included', () => {
        for (const variant of ['SHA-256', 'SHA-512'] as const) expect(nativeSha(variant, '')).toBe(jsSha(variant, ''));
        fc.assert(
            fc.property(bytes, bytes, (data, key) => {
                expect(nativeSha('SHA-256', data)).toBe(jsSha('SHA-256', data));
                expect(nativeSha('SHA-512', data)).toBe(jsSha('SHA-512', data));
                expect(nativeSha('SHA-512', data, key)).toBe(jsSha('SHA-512', data, key));
            }),
            { numRuns: 200 },
        );
    });

    it("is what @ton/crypto's synchronous hashes use in the test files, and they agree with jssha", () => {
        expect(MappedJsSha).toBe(NativeSha);
        const data = Buffer.from('cocoon');
        expect(sha256_sync(data).toString('hex')).toBe(jsSha('SHA-256', data.toString('hex')));
        expect(sha512_sync(data).toString('hex')).toBe(jsSha('SHA-512', data.toString('hex')));
        // A known cell hash: the empty cell's (TON's cell hash is SHA-256 over its representation).
        expect(beginCell().endCell().hash().toString('hex')).toBe('96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7');
    });

    it('refuses any call it does not serve', () => {
        expect(() => new NativeSha('SHA-384', 'HEX')).toThrow(/SHA-256 and SHA-512/);
        expect(() => new NativeSha('SHA-256', 'TEXT')).toThrow(/over hex/);
        expect(() => new NativeSha('SHA-512', 'HEX', { hmacKey: { value: 'k', format: 'TEXT' } })).toThrow(/hex key/);
        expect(() => new NativeSha('SHA-256', 'HEX').getHash('B64')).toThrow(/one hex digest/);
        expect(() => new NativeSha('SHA-256', 'HEX').getHash('HEX', { outputUpper: true })).toThrow(/without options/);
        expect(() => new NativeSha('SHA-256', 'HEX').update('abc')).toThrow(/whole bytes of hex/);
        expect(() => new NativeSha('SHA-256', 'HEX').update('zz')).toThrow(/whole bytes of hex/);
        const once = new NativeSha('SHA-256', 'HEX').update('00');
        once.getHash('HEX');
        expect(() => once.getHash('HEX')).toThrow(/one digest per hash/);
    });
});
