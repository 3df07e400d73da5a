import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Cell, beginCell, toNano } from '@ton/core';
import '@ton/test-utils';
import * as fc from 'fast-check';
import { KeyObject, X509Certificate, createHash, generateKeyPairSync, sign, verify } from 'crypto';
import { readFileSync } from 'fs';
import { join } from 'path';
import { P256Harness } from '../build/P256Harness/P256Harness_P256Harness';
import { G, N, P, add, bytesToChain, mod, modInv, mul, onCurve, pairBytes, randScalar, sha256, signDigest, to32, toBig, verifyDigest } from './helpers/p256';
import { P256Hint, halfSizeDecomposition, oddSplit, p256Hint, p256HintCell, p256LiftX } from '../wrappers/p256Hints';

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

/** The hint cell for (digest, r, s) under key q, as a submitter computes it. */
function hintOf(digest: bigint, r: bigint, s: bigint, q: [bigint, bigint]): Cell {
    return p256HintCell(p256Hint(digest, r, s, { x: q[0], y: q[1] }));
}

/** Mod n, as p256.tact reduces hint congruences. */
const modN = (x: bigint) => mod(x, N);

/**
 * A signature whose point R = u1*G + u2*Q has x >= n (so r = x - n): such an
 * R comes from a nonce with probability 2^-128, so the key is made to fit
 * instead, Q = (R - u1*G) / u2.
 */
function signatureWithLargeX(): { e: bigint; r: bigint; s: bigint; q: [bigint, bigint]; R: [bigint, bigint] } {
    let x = N + 1n;
    let y: bigint | null = null;
    while ((y = p256LiftX(x)) === null) x++;
    const R: [bigint, bigint] = [x, y];
    const r = x - N;
    const e = randScalar();
    const s = randScalar();
    const w = modInv(s, N);
    const u1 = modN(e * w);
    const u2 = modN(r * w);
    const minusU1G = mul(N - u1, G)!;
    const q = mul(modInv(u2, N), add(R, minusU1G))!;
    return { e, r, s, q, R };
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

    /** The contract's verdict with the honest hint. */
    const verifyWithHint = (digest: bigint, r: bigint, s: bigint, q: [bigint, bigint]) => h.getVerify(digest, r, s, q[0], q[1], hintOf(digest, r, s, q));

    async function sendVerify(digest: bigint, r: bigint, s: bigint, q: [bigint, bigint], queryId: bigint, hint = hintOf(digest, r, s, q)) {
        const res = await h.send(user.getSender(), { value: toNano('1') }, { $$type: 'P256VerifyDigest', queryId, digest, signature: pairBytes(r, s), publicKey: pairBytes(q[0], q[1]), hint });
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
                // The submitter's hint for what it sends: for a tampered signature a well-formed
                // one (R on the curve, a true decomposition) that the contract must still refuse.
                const got = await verifyWithHint(digest, r, s, keyXY(key));
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
        // the tampered digest with the untampered signature's hint
        expect(await sendVerify(e ^ 1n, toBig(sig.subarray(0, 32)), toBig(sig.subarray(32)), q, 3n, hintOf(e, toBig(sig.subarray(0, 32)), toBig(sig.subarray(32)), q))).toBe(false);
    });

    describe('edge cases', () => {
        const d = randScalar();
        const Q = mul(d, G)!;
        const e = randScalar();
        const [r, s] = signDigest(e, d);

        it('accepts the untouched signature and its high-s twin (n - s)', async () => {
            expect(await verifyWithHint(e, r, s, Q)).toBe(true);
            expect(await verifyWithHint(e, r, N - s, Q)).toBe(true);
            // Intel's own signatures include high-s ones; Node accepts them too
            const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
            for (let i = 0; i < 6; i++) {
                const msg = Buffer.from(`high-s ${i}`);
                const sig = sign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
                const rr = toBig(sig.subarray(0, 32));
                const hs = N - toBig(sig.subarray(32)) > N / 2n ? N - toBig(sig.subarray(32)) : toBig(sig.subarray(32));
                expect(hs > N / 2n).toBe(true);
                expect(verify('sha256', msg, { key: publicKey, dsaEncoding: 'ieee-p1363' }, pairBytes(rr, hs))).toBe(true);
                expect(await verifyWithHint(sha256(msg), rr, hs, keyXY(publicKey))).toBe(true);
            }
        });

        it('rejects r or s of 0 or n (and above n)', async () => {
            // with the valid signature's own hint and with the hint computed for the bad values
            const good = hintOf(e, r, s, Q);
            for (const [rr, ss] of [
                [0n, s],
                [r, 0n],
                [N, s],
                [r, N],
                [r + N < 1n << 256n ? r + N : N + 1n, s],
                [r, (1n << 256n) - 1n],
            ]) {
                expect(await verifyWithHint(e, rr, ss, Q)).toBe(false);
                expect(await h.getVerify(e, rr, ss, Q[0], Q[1], good)).toBe(false);
            }
            expect(await sendVerify(e, 0n, s, Q, 10n)).toBe(false);
            expect(await sendVerify(e, r, N, Q, 11n)).toBe(false);
        });

        it('rejects a key off the curve, the point at infinity (0, 0) and unreduced coordinates', async () => {
            const hint = hintOf(e, r, s, Q);
            expect(onCurve(Q[0], Q[1] ^ 1n)).toBe(false);
            expect(await h.getOnCurve(Q[0], Q[1])).toBe(true);
            expect(await h.getOnCurve(Q[0], Q[1] ^ 1n)).toBe(false);
            expect(await h.getOnCurve(0n, 0n)).toBe(false);
            expect(await h.getOnCurve(Q[0] + P < 1n << 256n ? Q[0] + P : P, Q[1])).toBe(false);
            expect(await h.getOnCurve(Q[0], P - Q[1])).toBe(true);
            expect(await h.getOnCurve(-1n, Q[1])).toBe(false);
            expect(await h.getVerify(e, r, s, Q[0], Q[1] ^ 1n, hint)).toBe(false);
            expect(await h.getVerify(e, r, s, 0n, 0n, hint)).toBe(false);
            expect(await h.getVerify(e, r, s, Q[0] + P < 1n << 256n ? Q[0] + P : Q[0], Q[1], hint)).toBe(Q[0] + P >= 1n << 256n);
            expect(await h.getVerify(e, r, s, Q[0], P - Q[1], hint)).toBe(false); // -Q
            expect(await verifyWithHint(e, r, s, [Q[0], P - Q[1]])).toBe(false);
            expect(await sendVerify(e, r, s, [0n, 0n], 12n, hint)).toBe(false);
        });

        it('reduces a digest >= n mod n, as ECDSA does', async () => {
            const big = N + 12345n; // a 256-bit value above n
            expect(big < 1n << 256n).toBe(true);
            const [br, bs] = signDigest(big, d);
            expect(verifyDigest(big, br, bs, Q[0], Q[1])).toBe(true);
            expect(await verifyWithHint(big, br, bs, Q)).toBe(true);
            // the same signature is valid for big - n (equal mod n) and not for big + 1
            expect(await verifyWithHint(big - N, br, bs, Q)).toBe(true);
            expect(await h.getVerify(big - N, br, bs, Q[0], Q[1], hintOf(big, br, bs, Q))).toBe(true);
            expect(await verifyWithHint(big + 1n, br, bs, Q)).toBe(false);
            const top = (1n << 256n) - 1n;
            const [tr, ts] = signDigest(top, d);
            expect(await verifyWithHint(top, tr, ts, Q)).toBe(true);
        });

        it('handles u1 = 0 (digest 0) and keys that are small multiples of G', async () => {
            const [zr, zs] = signDigest(0n, d);
            expect(await verifyWithHint(0n, zr, zs, Q)).toBe(true);
            for (const k of [1n, 2n, 3n, N - 1n]) {
                const K = mul(k, G)!;
                const [kr, ks] = signDigest(e, k);
                expect(await verifyWithHint(e, kr, ks, K)).toBe(true);
                expect(await verifyWithHint(e + 1n, kr, ks, K)).toBe(false);
            }
        });

        it('handles additions of equal and opposite points inside the ladder (u1 = u2, Q = +-G)', async () => {
            // With key d = 1 (Q = G) and digest e = r, u1 = u2: the G and Q tables hold the same
            // points, and R is a multiple of G too, the cases an addition formula cannot do.
            for (let i = 0; i < 3; i++) {
                const k = randScalar();
                const r1 = mul(k, G)![0] % N;
                const s1 = (modInv(k, N) * 2n * r1) % N;
                expect(verifyDigest(r1, r1, s1, G[0], G[1])).toBe(true);
                expect(await verifyWithHint(r1, r1, s1, G)).toBe(true);
                expect(await verifyWithHint(r1, r1, s1 ^ 1n, G)).toBe(false);
            }
            // With Q = -G and u1 = u2 the sum is the point at infinity: no R exists, and the
            // best-effort hint (R with x = r, lifted) is refused.
            const minusG: [bigint, bigint] = [G[0], P - G[1]];
            const r2 = 12345n;
            expect(verifyDigest(r2, r2, 777n, ...minusG)).toBe(false);
            expect(await verifyWithHint(r2, r2, 777n, minusG)).toBe(false);
        });

        it('accepts R with x = r + n (x(R) >= n) only with that hint', async () => {
            const t = signatureWithLargeX();
            expect(t.r + N).toBe(t.R[0]);
            expect(verifyDigest(t.e, t.r, t.s, ...t.q)).toBe(true);
            const hint = p256Hint(t.e, t.r, t.s, { x: t.q[0], y: t.q[1] });
            expect(hint.rxPlusN).toBe(true);
            expect(hint.ry).toBe(t.R[1]);
            expect(await h.getVerify(t.e, t.r, t.s, t.q[0], t.q[1], p256HintCell(hint))).toBe(true);
            // the same hint claiming x = r
            expect(await h.getVerify(t.e, t.r, t.s, t.q[0], t.q[1], p256HintCell({ ...hint, rxPlusN: false }))).toBe(false);
            // and x = r + n claimed where r + n is not a field element (r + n >= p)
            const [br, bs] = [P - N + 5n, s];
            const bh = p256Hint(e, br, bs, { x: Q[0], y: Q[1] });
            expect(await h.getVerify(e, br, bs, Q[0], Q[1], p256HintCell({ ...bh, rxPlusN: true }))).toBe(false);
        });
    });

    describe('forged hints', () => {
        const d = randScalar();
        const Q = mul(d, G)!;
        const e = randScalar();
        const [r, s] = signDigest(e, d);
        const honest = p256Hint(e, r, s, { x: Q[0], y: Q[1] });
        const check = (hint: P256Hint, digest = e) => h.getVerify(digest, r, s, Q[0], Q[1], p256HintCell(hint));
        const u1 = modN(e * modInv(s, N));
        const u2 = modN(r * modInv(s, N));

        it('the honest hint satisfies the relations the contract checks', async () => {
            const { ry, c0, c1, a, b } = honest;
            expect(onCurve(r, ry)).toBe(true);
            expect(b).not.toBe(0n);
            expect(a < 1n << 128n && -a < 1n << 128n && b < 1n << 128n && -b < 1n << 128n).toBe(true);
            expect(modN(a)).toBe(modN(b * u2));
            expect(modN(c0 + (c1 << 128n))).toBe(modN(b * u1));
            expect(c0 & 1n).toBe(1n);
            expect(c1 & 1n).toBe(1n);
            expect(await check(honest)).toBe(true);
            // the cell layout is the one the contract parses
            const parsed = await h.getParseHint(p256HintCell(honest));
            expect({ ry: parsed.ry, rxPlusN: parsed.rxPlusN, c0: parsed.c0, c1: parsed.c1, a: parsed.a, b: parsed.b }).toEqual(honest);
        });

        it('refuses a wrong R: -R, a point off the curve, y = 0 or p', async () => {
            expect(await check({ ...honest, ry: P - honest.ry })).toBe(false);
            // -R with every scalar negated as well
            const neg = oddSplit(modN(-(honest.c0 + (honest.c1 << 128n))));
            expect(await check({ ...honest, ry: P - honest.ry, a: -honest.a, b: -honest.b, ...neg })).toBe(false);
            expect(await check({ ...honest, ry: honest.ry ^ 1n })).toBe(false);
            expect(await check({ ...honest, ry: 0n })).toBe(false);
            // an unreduced y (R's y + p does not fit) and y = p itself
            expect(await check({ ...honest, ry: P })).toBe(false);
        });

        it('refuses b = 0, which would make every R pass the ladder', async () => {
            // a = 0 and c = 0 (mod n) satisfy both congruences when b = 0 ...
            const zero = { ...honest, a: 0n, b: 0n, ...oddSplit(0n) };
            expect(modN(zero.c0 + (zero.c1 << 128n))).toBe(0n);
            // ... and the ladder alone would call the sum infinity for any R on the curve
            const ladder = await h.getLadderIsZero(zero.c0, zero.c1, 0n, 0n, Q[0], Q[1], r, honest.ry);
            expect(ladder).toBe(true);
            expect(await check(zero)).toBe(false);
            // also with an R that is not the signature's
            const other = mul(randScalar(), G)!;
            expect(await h.getLadderIsZero(zero.c0, zero.c1, 0n, 0n, Q[0], Q[1], other[0], other[1])).toBe(true);
        });

        it('refuses a wrong decomposition', async () => {
            expect(await check({ ...honest, a: honest.a + 1n })).toBe(false);
            expect(await check({ ...honest, b: honest.b + 1n })).toBe(false);
            expect(await check({ ...honest, a: -honest.a, b: -honest.b })).toBe(false);
            expect(await check({ ...honest, c0: honest.c0 + 2n })).toBe(false);
            expect(await check({ ...honest, c1: honest.c1 + 2n })).toBe(false);
            // the hint of another digest
            expect(await check(p256Hint(e + 1n, r, s, { x: Q[0], y: Q[1] }))).toBe(false);
            // a consistent decomposition (a, b scaled by 2 and c with them), which is sound: accepted
            // when within bounds, as any true one is
            if (-(1n << 127n) < honest.a && honest.a < 1n << 127n && -(1n << 127n) < honest.b && honest.b < 1n << 127n) {
                const c2 = oddSplit(modN(2n * (honest.c0 + (honest.c1 << 128n))));
                expect(await check({ ...honest, a: 2n * honest.a, b: 2n * honest.b, ...c2 })).toBe(true);
            }
        });

        it('refuses even c0 or c1 (the odd-digit recoding needs odd halves) and other splits of c', async () => {
            const c = honest.c0 + (honest.c1 << 128n);
            // the same c split with an even low half
            expect(await check({ ...honest, c0: honest.c0 - 1n, c1: honest.c1 })).toBe(false);
            expect(await check({ ...honest, c0: honest.c0 + (1n << 128n), c1: honest.c1 - 1n })).toBe(false);
            // c + n: the same value mod n, the other parity; its odd split is fine
            expect(await check({ ...honest, ...oddSplit(c + N) })).toBe(true);
        });

        it('keeps a and b within the ladder bounds by the field widths', async () => {
            // A decomposition with |a| or |b| >= 2^128 does not fit the hint cell at all ...
            expect(() => p256HintCell({ ...honest, a: honest.a + (1n << 129n) })).toThrow();
            expect(() => p256HintCell({ ...honest, b: -(1n << 128n) - 1n })).toThrow();
            expect(() => p256HintCell({ ...honest, c0: 1n << 129n })).toThrow();
            // ... and the extremes that do fit still meet the congruence checks
            expect(await check({ ...honest, a: -(1n << 128n) })).toBe(false);
            expect(await check({ ...honest, b: -(1n << 128n) })).toBe(false);
            expect(await check({ ...honest, a: (1n << 128n) - 1n, b: (1n << 128n) - 1n })).toBe(false);
            // and a cell one field short does not parse
            const short = beginCell().storeUint(honest.ry, 256).storeBit(false).storeInt(honest.c0, 130).endCell();
            await expect(h.getVerify(e, r, s, Q[0], Q[1], short)).rejects.toThrow();
        });

        it('the ladder getter agrees with the reference on random relations', async () => {
            // c0 G + c1 2^128 G + a Q - b R for random scalars: zero exactly when R is the right point
            for (let i = 0; i < 4; i++) {
                const k = randScalar();
                const Rk = mul(k, G)!; // R = k G, Q = d G: zero iff c + a d - b k = 0 (mod n)
                const { a, b } = halfSizeDecomposition(randScalar());
                const c = modN(b * k - a * d);
                const { c0, c1 } = oddSplit(c);
                expect(await h.getLadderIsZero(c0, c1, a, b, Q[0], Q[1], Rk[0], Rk[1])).toBe(true);
                const off = oddSplit(modN(c + 1n));
                expect(await h.getLadderIsZero(off.c0, off.c1, a, b, Q[0], Q[1], Rk[0], Rk[1])).toBe(false);
            }
        });
    });

    describe('hint computation (wrappers/p256Hints.ts)', () => {
        it('decomposes any u into |a|, |b| < 2^128 with b != 0 and a = b u (mod n)', () => {
            const cases = [1n, 2n, 3n, (1n << 128n) - 1n, 1n << 128n, N - 1n, N - 2n, N / 2n, (N + 1n) / 2n];
            for (let i = 0; i < 500; i++) cases.push(randScalar());
            for (const u of cases) {
                const { a, b } = halfSizeDecomposition(u);
                expect(b).not.toBe(0n);
                expect(a < 1n << 128n && -a < 1n << 128n).toBe(true);
                expect(b < 1n << 128n && -b < 1n << 128n).toBe(true);
                expect(modN(a - b * u)).toBe(0n);
            }
        });

        it('splits c into odd halves below 2^129 that sum to c (mod n)', () => {
            for (const c of [0n, 1n, 2n, N - 1n, 1n << 128n, (1n << 128n) + 1n, ...Array.from({ length: 200 }, randScalar)]) {
                const { c0, c1 } = oddSplit(c);
                expect(c0 & 1n).toBe(1n);
                expect(c1 & 1n).toBe(1n);
                expect(c0 < 1n << 129n && -c0 < 1n << 129n && c1 < 1n << 129n && -c1 < 1n << 129n).toBe(true);
                expect(modN(c0 + (c1 << 128n) - c)).toBe(0n);
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
                const hint = hintOf(sha256(item.data), item.r, item.s, item.key);
                const send = (data: Buffer, queryId: bigint) =>
                    h.send(
                        user.getSender(),
                        { value: toNano('1') },
                        {
                            $$type: 'P256VerifyData',
                            queryId,
                            signature: pairBytes(item.r, item.s),
                            publicKey: pairBytes(...item.key),
                            hint,
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
