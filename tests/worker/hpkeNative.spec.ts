import { randomBytes } from 'node:crypto';
import { Aes128Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { deriveKeyPair, generateX25519, setupBaseR, setupBaseS, x25519PublicOf } from '../../helpers/hpkeNative';

const hex = (s: string) => Buffer.from(s, 'hex');
const ab = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** RFC 9180 Appendix A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode. */
const A11 = {
    info: hex('4f6465206f6e2061204772656369616e2055726e'),
    ikmE: hex('7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234'),
    pkEm: hex('37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431'),
    skEm: hex('52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736'),
    ikmR: hex('6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037'),
    skRm: hex('4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8'),
    pkRm: hex('3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d'),
    pt: hex('4265617574792069732074727574682c20747275746820626561757479'),
    encryptions: [
        { aad: '436f756e742d30', ct: 'f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a' },
        { aad: '436f756e742d31', ct: 'af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84' },
        { aad: '436f756e742d32', ct: '498dfcabd92e8acedc281e85af1cb4e3e31c7dc394a1ca20e173cb72516491588d96a19ad4a683518973dcc180' },
    ],
    exports: [
        { ctx: '', value: '3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee' },
        { ctx: '00', value: '2e8f0b54673c7029649d4eb9d5e33bf1872cf76d623ff164ac185da9e88c21a5' },
        { ctx: '54657374436f6e74657874', value: 'e9e43065102c3836401bed8c3c3c75ae46be1639869391d62c61f1ec7af54931' },
    ],
};

const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes128Gcm() });

describe('native HPKE (helpers/hpkeNative.ts) against RFC 9180 A.1.1', () => {
    it('derives the vector key pairs', () => {
        expect(deriveKeyPair(A11.ikmE)).toEqual({ privateKey: A11.skEm, publicKey: A11.pkEm });
        expect(deriveKeyPair(A11.ikmR)).toEqual({ privateKey: A11.skRm, publicKey: A11.pkRm });
        expect(x25519PublicOf(A11.skRm)).toEqual(A11.pkRm);
    });

    it('sender: enc, the three ciphertexts and the exports', () => {
        const { enc, ctx } = setupBaseS(A11.pkRm, A11.info, A11.ikmE);
        expect(enc).toEqual(A11.pkEm);
        for (const e of A11.encryptions) expect(ctx.seal(A11.pt, hex(e.aad)).toString('hex')).toBe(e.ct);
        for (const x of A11.exports) expect(ctx.export(hex(x.ctx), 32).toString('hex')).toBe(x.value);
    });

    it('recipient: opens the vector ciphertexts in order, refuses a tampered one', () => {
        const ctx = setupBaseR(A11.pkEm, A11.skRm, A11.pkRm, A11.info);
        for (const e of A11.encryptions) expect(ctx.open(hex(e.ct), hex(e.aad))).toEqual(A11.pt);
        for (const x of A11.exports) expect(ctx.export(hex(x.ctx), 32).toString('hex')).toBe(x.value);
        const fresh = setupBaseR(A11.pkEm, A11.skRm, A11.pkRm, A11.info);
        const bad = hex(A11.encryptions[0].ct);
        bad[3] ^= 1;
        expect(() => fresh.open(bad, hex(A11.encryptions[0].aad))).toThrow();
    });

    it('refuses a low-order (all-zero shared secret) ephemeral key', () => {
        expect(() => setupBaseR(Buffer.alloc(32), A11.skRm, A11.pkRm, A11.info)).toThrow();
    });
});

describe('native HPKE interoperates with @hpke/core', () => {
    it('native sender -> @hpke/core recipient, same exports', async () => {
        for (let i = 0; i < 5; i++) {
            const r = generateX25519();
            const info = randomBytes(i * 7);
            const pt = randomBytes(1 + i * 100);
            const aad = randomBytes(i);
            const { enc, ctx } = setupBaseS(r.publicKey, info);
            const ct = ctx.seal(pt, aad);
            const rc = await suite.createRecipientContext({ recipientKey: await suite.kem.deserializePrivateKey(ab(r.privateKey)), enc: ab(enc), info: ab(info) });
            expect(Buffer.from(await rc.open(ab(ct), ab(aad)))).toEqual(pt);
            expect(Buffer.from(await rc.export(ab(Buffer.from('x')), 28))).toEqual(ctx.export(Buffer.from('x'), 28));
        }
    });

    it('@hpke/core sender -> native recipient, same exports', async () => {
        for (let i = 0; i < 5; i++) {
            const kp = await suite.kem.generateKeyPair();
            const pk = Buffer.from(await suite.kem.serializePublicKey(kp.publicKey));
            const sk = Buffer.from(await suite.kem.serializePrivateKey(kp.privateKey));
            expect(x25519PublicOf(sk)).toEqual(pk);
            const info = randomBytes(5 + i);
            const pt = randomBytes(3 + i * 50);
            const aad = randomBytes(10);
            const sc = await suite.createSenderContext({ recipientPublicKey: kp.publicKey, info: ab(info) });
            const ct = Buffer.from(await sc.seal(ab(pt), ab(aad)));
            const ctx = setupBaseR(Buffer.from(sc.enc), sk, pk, info);
            expect(ctx.open(ct, aad)).toEqual(pt);
            expect(ctx.export(Buffer.from('cocoon'), 28)).toEqual(Buffer.from(await sc.export(ab(Buffer.from('cocoon')), 28)));
        }
    });
});
