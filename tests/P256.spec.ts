import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Cell, beginCell, toNano } from '@ton/core';
import '@ton/test-utils';
import * as fc from 'fast-check';
import { KeyObject, X509Certificate, createHash, generateKeyPairSync, sign, verify } from 'crypto';
import { readFileSync } from 'fs';
import { join } from 'path';
import { P256Harness } from '../build/P256Harness/P256Harness_P256Harness';
import { G, N, P, bytesToChain, modInv, mul, onCurve, pairBytes, randScalar, sha256, signDigest, to32, toBig, verifyDigest } from './helpers/p256';

const FIXTURE = join(__dirname, 'fixtures', 'tdx');

function keyXY(key: KeyObject): [bigint, bigint] {
    const jwk = key.export({ format: 'jwk' });
    return [toBig(Buffer.from(jwk.x!, 'base64url')), toBig(Buffer.from(jwk.y!, 'base64url'))];
}

/** Minimal DER walker: [tag, header length, content length] at `off`. */
function derAt(buf: Buffer, off: number): { tag: number; hdr: number; len: number } {
    const tag = buf[off];
    let len = buf[off + 1];
    let hdr = 2;
    if (len & 0x80) {
        const n = len & 0x7f;
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + buf[off + 2 + i];
        hdr += n;
    }
    return { tag, hdr, len };
}

/** A certificate's TBS bytes and its ECDSA signature (r, s). */
function certParts(der: Buffer): { tbs: Buffer; r: bigint; s: bigint } {
    const outer = derAt(der, 0);
    let off = outer.hdr;
    const tbsH = derAt(der, off);
    const tbs = der.subarray(off, off + tbsH.hdr + tbsH.len);
    off += tbsH.hdr + tbsH.len;
    const alg = derAt(der, off);
    off += alg.hdr + alg.len;
    const bits = derAt(der, off); // BIT STRING: 00 || ECDSA-Sig-Value
    const sig = der.subarray(off + bits.hdr + 1, off + bits.hdr + bits.len);
    const seq = derAt(sig, 0);
    let o = seq.hdr;
    const rH = derAt(sig, o);
    const r = toBig(sig.subarray(o + rH.hdr, o + rH.hdr + rH.len));
    o += rH.hdr + rH.len;
    const sH = derAt(sig, o);
    const s = toBig(sig.subarray(o + sH.hdr, o + sH.hdr + sH.len));
    return { tbs, r, s };
}

interface SignedItem {
    name: string;
    data: Buffer;
    r: bigint;
    s: bigint;
    key: [bigint, bigint];
}

/** The four signatures of the real TDX quote, with their signed bytes and signer keys. */
function fixtureSignatures(): SignedItem[] {
    const quote = readFileSync(join(FIXTURE, 'quote-v4.bin'));
    const expected = JSON.parse(readFileSync(join(FIXTURE, 'quote-v4.expected.json'), 'utf8'));
    const pair = (b: Buffer): [bigint, bigint] => [toBig(b.subarray(0, 32)), toBig(b.subarray(32, 64))];
    const hexPair = (h: string) => pair(Buffer.from(h, 'hex'));
    const authLen = quote.readUInt16LE(1218);
    const certOff = 1218 + 2 + authLen;
    expect(quote.readUInt16LE(certOff)).toBe(5);
    const pemLen = quote.readUInt32LE(certOff + 2);
    const pem = quote.subarray(certOff + 6, certOff + 6 + pemLen).toString('latin1');
    const ders = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
    expect(ders.length).toBe(3);
    // The DER parse agrees with Node's X.509 reader on who signed what.
    const x509 = ders.map((d) => new X509Certificate(d));
    expect(x509[0].verify(x509[1].publicKey)).toBe(true);
    expect(x509[1].verify(x509[2].publicKey)).toBe(true);
    const pck = certParts(ders[0]);
    const platform = certParts(ders[1]);
    const [qr, qs] = pair(quote.subarray(636, 700));
    const [er, es] = pair(quote.subarray(1154, 1218));
    return [
        { name: 'quote body', data: quote.subarray(0, 632), r: qr, s: qs, key: pair(quote.subarray(700, 764)) },
        { name: 'QE report', data: quote.subarray(770, 1154), r: er, s: es, key: hexPair(expected.certificates[0].publicKey) },
        { name: 'PCK certificate', data: pck.tbs, r: pck.r, s: pck.s, key: hexPair(expected.certificates[1].publicKey) },
        { name: 'Platform CA certificate', data: platform.tbs, r: platform.r, s: platform.s, key: hexPair(expected.intelSgxRootCaPublicKey) },
    ];
}

describe('P-256 verification (contracts/lib/p256.tact)', () => {
    let chain: Blockchain;
    let user: SandboxContract<TreasuryContract>;
    let h: SandboxContract<P256Harness>;

    beforeAll(async () => {
        chain = await Blockchain.create();
        user = await chain.treasury('user');
        h = chain.openContract(await P256Harness.fromInit(0n));
        const res = await h.send(user.getSender(), { value: toNano('1') }, null);
        expect(res.transactions).toHaveTransaction({ to: h.address, deploy: true, success: true });
    });

    async function sendVerify(digest: bigint, r: bigint, s: bigint, q: [bigint, bigint], queryId: bigint) {
        const res = await h.send(user.getSender(), { value: toNano('1') }, { $$type: 'P256VerifyDigest', queryId, digest, signature: pairBytes(r, s), publicKey: pairBytes(q[0], q[1]) });
        expect(res.transactions).toHaveTransaction({ to: h.address, success: true });
        expect(await h.getLastQueryId()).toBe(queryId);
        return h.getLastValid();
    }

    it('agrees with Node crypto (ieee-p1363) on 300 random cases, valid and tampered', async () => {
        const variants = ['valid', 'digest', 'r', 's', 'key'] as const;
        const seen = new Map<string, number>();
        await fc.assert(
            fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.constantFrom(...variants), fc.nat(255), async (msgBytes, variant, bit) => {
                const msg = Buffer.from(msgBytes);
                const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
                const sig = sign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
                let digest = toBig(createHash('sha256').update(msg).digest());
                let r = toBig(sig.subarray(0, 32));
                let s = toBig(sig.subarray(32));
                let key = publicKey;
                let expected: boolean;
                const flip = (x: bigint) => x ^ (1n << BigInt(bit));
                if (variant === 'digest') {
                    // Node verifies messages, not digests: the reference verifier is the oracle here,
                    // and Node confirms the untouched signature.
                    digest = flip(digest);
                    expect(verify('sha256', msg, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
                    expected = verifyDigest(digest, r, s, ...keyXY(key));
                } else {
                    if (variant === 'r') r = flip(r);
                    if (variant === 's') s = flip(s);
                    if (variant === 'key') key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
                    expected = verify('sha256', msg, { key, dsaEncoding: 'ieee-p1363' }, pairBytes(r, s));
                }
                expect(expected).toBe(variant === 'valid');
                const got = await h.getVerify(digest, r, s, ...keyXY(key));
                expect(got).toBe(expected);
                seen.set(variant, (seen.get(variant) ?? 0) + 1);
            }),
            { numRuns: 300 },
        );
        for (const v of variants) expect(seen.get(v) ?? 0).toBeGreaterThan(20);
    }, 600_000);

    it('verifies inside a transaction (receiver) and rejects a tampered one', async () => {
        const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        const msg = Buffer.from('cocoon attestation');
        const sig = sign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        const q = keyXY(publicKey);
        const e = sha256(msg);
        expect(await sendVerify(e, toBig(sig.subarray(0, 32)), toBig(sig.subarray(32)), q, 1n)).toBe(true);
        expect(await sendVerify(e ^ 1n, toBig(sig.subarray(0, 32)), toBig(sig.subarray(32)), q, 2n)).toBe(false);
    });

    describe('edge cases', () => {
        const d = randScalar();
        const Q = mul(d, G)!;
        const e = randScalar();
        const [r, s] = signDigest(e, d);

        it('accepts the untouched signature and its high-s twin (n - s)', async () => {
            expect(await h.getVerify(e, r, s, Q[0], Q[1])).toBe(true);
            expect(await h.getVerify(e, r, N - s, Q[0], Q[1])).toBe(true);
            // Intel's own signatures include high-s ones; Node accepts them too
            const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
            for (let i = 0; i < 6; i++) {
                const msg = Buffer.from(`high-s ${i}`);
                const sig = sign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
                const rr = toBig(sig.subarray(0, 32));
                const hs = N - toBig(sig.subarray(32)) > N / 2n ? N - toBig(sig.subarray(32)) : toBig(sig.subarray(32));
                expect(hs > N / 2n).toBe(true);
                expect(verify('sha256', msg, { key: publicKey, dsaEncoding: 'ieee-p1363' }, pairBytes(rr, hs))).toBe(true);
                expect(await h.getVerify(sha256(msg), rr, hs, ...keyXY(publicKey))).toBe(true);
            }
        });

        it('rejects r or s of 0 or n (and above n)', async () => {
            for (const [rr, ss] of [
                [0n, s],
                [r, 0n],
                [N, s],
                [r, N],
                [r + N < 1n << 256n ? r + N : N + 1n, s],
                [r, (1n << 256n) - 1n],
            ]) {
                expect(await h.getVerify(e, rr, ss, Q[0], Q[1])).toBe(false);
            }
            expect(await sendVerify(e, 0n, s, Q, 10n)).toBe(false);
            expect(await sendVerify(e, r, N, Q, 11n)).toBe(false);
        });

        it('rejects a key off the curve, the point at infinity (0, 0) and unreduced coordinates', async () => {
            expect(onCurve(Q[0], Q[1] ^ 1n)).toBe(false);
            expect(await h.getOnCurve(Q[0], Q[1])).toBe(true);
            expect(await h.getOnCurve(Q[0], Q[1] ^ 1n)).toBe(false);
            expect(await h.getVerify(e, r, s, Q[0], Q[1] ^ 1n)).toBe(false);
            expect(await h.getVerify(e, r, s, 0n, 0n)).toBe(false);
            expect(await h.getVerify(e, r, s, Q[0] + P < 1n << 256n ? Q[0] + P : Q[0], Q[1])).toBe(Q[0] + P >= 1n << 256n);
            expect(await h.getVerify(e, r, s, Q[0], P - Q[1])).toBe(false); // -Q
            expect(await sendVerify(e, r, s, [0n, 0n], 12n)).toBe(false);
        });

        it('reduces a digest >= n mod n, as ECDSA does', async () => {
            const big = N + 12345n; // a 256-bit value above n
            expect(big < 1n << 256n).toBe(true);
            const [br, bs] = signDigest(big, d);
            expect(verifyDigest(big, br, bs, Q[0], Q[1])).toBe(true);
            expect(await h.getVerify(big, br, bs, Q[0], Q[1])).toBe(true);
            // the same signature is valid for big - n (equal mod n) and not for big + 1
            expect(await h.getVerify(big - N, br, bs, Q[0], Q[1])).toBe(true);
            expect(await h.getVerify(big + 1n, br, bs, Q[0], Q[1])).toBe(false);
            const top = (1n << 256n) - 1n;
            const [tr, ts] = signDigest(top, d);
            expect(await h.getVerify(top, tr, ts, Q[0], Q[1])).toBe(true);
        });

        it('handles u1 = 0 (digest 0) and keys that are small multiples of G', async () => {
            const [zr, zs] = signDigest(0n, d);
            expect(await h.getVerify(0n, zr, zs, Q[0], Q[1])).toBe(true);
            for (const k of [1n, 2n, 3n, N - 1n]) {
                const K = mul(k, G)!;
                const [kr, ks] = signDigest(e, k);
                expect(await h.getVerify(e, kr, ks, K[0], K[1])).toBe(true);
                expect(await h.getVerify(e + 1n, kr, ks, K[0], K[1])).toBe(false);
            }
        });

        it('handles additions of equal and opposite points inside the ladder (u1 = u2, Q = +-G)', async () => {
            // With key d = 1 (Q = G) and digest e = r, u1 = u2: every window adds the same
            // multiple of G twice, the case the addition formulas cannot do and the ladder
            // must turn into a doubling.
            for (let i = 0; i < 3; i++) {
                const k = randScalar();
                const r1 = mul(k, G)![0] % N;
                const s1 = (modInv(k, N) * 2n * r1) % N;
                expect(verifyDigest(r1, r1, s1, G[0], G[1])).toBe(true);
                expect(await h.getVerify(r1, r1, s1, G[0], G[1])).toBe(true);
                expect(await h.getVerify(r1, r1, s1 ^ 1n, G[0], G[1])).toBe(false);
            }
            // With Q = -G and u1 = u2 the sum is the point at infinity: rejected.
            const minusG: [bigint, bigint] = [G[0], P - G[1]];
            const r2 = 12345n;
            expect(verifyDigest(r2, r2, 777n, ...minusG)).toBe(false);
            expect(await h.getVerify(r2, r2, 777n, ...minusG)).toBe(false);
            const inf = await h.getMulAdd(5n, 5n, ...minusG);
            expect(inf.z % P).toBe(0n);
        });

        it('modInverse and invModN agree with the reference', async () => {
            for (const a of [1n, 2n, N - 1n, N - 2n]) expect(await h.getInvModN(a)).toBe(modInv(a, N));
            for (let i = 0; i < 5; i++) {
                const a = randScalar();
                expect(await h.getModInverse(a, N)).toBe(modInv(a, N));
                expect(await h.getInvModN(a)).toBe(modInv(a, N));
                expect(await h.getModInverse(a % P || 1n, P)).toBe(modInv(a % P || 1n, P));
            }
        });
    });

    describe('SHA-256 over a cell chain', () => {
        it('matches Node for lengths 0..1200 and any chunking', async () => {
            for (const [len, chunk] of [
                [0, 127],
                [1, 127],
                [55, 127],
                [64, 127],
                [127, 127],
                [128, 127],
                [300, 100],
                [300, 1],
                [1200, 127],
                [1200, 13],
            ] as const) {
                const data = Buffer.from(Array.from({ length: len }, (_, i) => (i * 7 + len) & 0xff));
                expect(await h.getHashData(bytesToChain(data, chunk))).toBe(sha256(data));
            }
        });

        it('hashes in a transaction', async () => {
            const data = Buffer.alloc(1200, 0xab);
            const res = await h.send(
                user.getSender(),
                { value: toNano('1') },
                {
                    $$type: 'P256HashData',
                    queryId: 5n,
                    data: bytesToChain(data),
                },
            );
            expect(res.transactions).toHaveTransaction({ to: h.address, success: true });
            expect(await h.getLastHash()).toBe(sha256(data));
        });

        it('refuses a cell whose data is not whole bytes', async () => {
            const odd = beginCell().storeUint(1, 3).endCell();
            await expect(h.getHashData(odd)).rejects.toThrow();
        });
    });

    describe('the real TDX quote (tests/fixtures/tdx/quote-v4.bin)', () => {
        const items = fixtureSignatures();
        for (const item of items) {
            it(`${item.name}: verifies with the digest computed on chain, fails with one flipped byte`, async () => {
                expect(verifyDigest(sha256(item.data), item.r, item.s, ...item.key)).toBe(true);
                const send = (data: Buffer, queryId: bigint) =>
                    h.send(
                        user.getSender(),
                        { value: toNano('1') },
                        {
                            $$type: 'P256VerifyData',
                            queryId,
                            signature: pairBytes(item.r, item.s),
                            publicKey: pairBytes(...item.key),
                            data: bytesToChain(data),
                        },
                    );
                let res = await send(item.data, 100n);
                expect(res.transactions).toHaveTransaction({ to: h.address, success: true });
                expect(await h.getLastHash()).toBe(sha256(item.data));
                expect(await h.getLastValid()).toBe(true);
                const bad = Buffer.from(item.data);
                bad[Math.floor(bad.length / 2)] ^= 0x01;
                res = await send(bad, 101n);
                expect(res.transactions).toHaveTransaction({ to: h.address, success: true });
                expect(await h.getLastQueryId()).toBe(101n);
                expect(await h.getLastValid()).toBe(false);
            });
        }
    });

    describe('harness receivers', () => {
        it('refuse a malformed body (truncated signature) with a cell underflow', async () => {
            const body = beginCell().storeUint(P256Harness.opcodes.P256VerifyDigest, 32).storeUint(1, 64).storeUint(5, 256).storeBuffer(to32(1n)).endCell();
            const res = await user.send({ to: h.address, value: toNano('1'), body });
            expect(res.transactions).toHaveTransaction({ to: h.address, success: false, exitCode: 9 });
        });

        it('cannot be made to report validity for a call that failed', async () => {
            const before = await h.getLastQueryId();
            const res = await user.send({ to: h.address, value: toNano('1'), body: Cell.EMPTY });
            expect(res.transactions).toHaveTransaction({ to: h.address, success: true });
            expect(await h.getLastQueryId()).toBe(before);
        });
    });
});
