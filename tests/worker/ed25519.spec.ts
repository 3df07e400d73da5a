import fc from 'fast-check';
import { keyPairFromSeed, sign as naclSign, signVerify as naclVerify } from '@ton/crypto';
import { sign, signVerify } from '../../helpers/ed25519';

/**
 * helpers/ed25519.ts (OpenSSL) must agree with @ton/crypto (tweetnacl), which it
 * replaced for receipts and vouchers: the same signature bytes, and the same
 * verdict on valid, tampered and foreign signatures.
 */
describe('native Ed25519 agrees with @ton/crypto', () => {
    it('signs byte for byte the same and verifies the same', () => {
        fc.assert(
            fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), fc.nat(), (seed, msg, flip) => {
                const kp = keyPairFromSeed(Buffer.from(seed));
                const m = Buffer.from(msg);
                const sig = sign(m, kp.secretKey);
                expect(sig).toEqual(naclSign(m, kp.secretKey));
                expect(signVerify(m, sig, kp.publicKey)).toBe(true);
                const bad = Buffer.from(sig);
                bad[flip % 64] ^= 1 << (flip % 8);
                expect(signVerify(m, bad, kp.publicKey)).toBe(naclVerify(m, bad, kp.publicKey));
                expect(signVerify(m, bad, kp.publicKey)).toBe(false);
            }),
            { numRuns: 25 },
        );
    });

    it('refuses another key, wrong lengths and an invalid public key like tweetnacl', () => {
        const a = keyPairFromSeed(Buffer.alloc(32, 1));
        const b = keyPairFromSeed(Buffer.alloc(32, 2));
        const m = Buffer.from('voucher');
        const sig = sign(m, a.secretKey);
        expect(signVerify(m, sig, b.publicKey)).toBe(false);
        expect(signVerify(m, sig.subarray(0, 63), a.publicKey)).toBe(false);
        expect(signVerify(m, sig, a.publicKey.subarray(0, 31))).toBe(false);
        const notAPoint = Buffer.alloc(32, 0xff);
        expect(signVerify(m, sig, notAPoint)).toBe(naclVerify(m, sig, notAPoint));
    });

    it('a secret key whose halves disagree signs as tweetnacl does', () => {
        const a = keyPairFromSeed(Buffer.alloc(32, 3));
        const b = keyPairFromSeed(Buffer.alloc(32, 4));
        const mixed = Buffer.concat([a.secretKey.subarray(0, 32), b.publicKey]);
        const m = Buffer.from('receipt');
        expect(sign(m, mixed)).toEqual(naclSign(m, mixed));
    });
});
