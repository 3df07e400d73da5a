import { ExitCode } from '../wrappers/exitCodes';
import { Blockchain, BlockchainSnapshot, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Cell, Transaction, beginCell, toNano } from '@ton/core';
import '@ton/test-utils';
import * as fc from 'fast-check';
import { createHash } from 'crypto';
import { readFileSync } from 'fs';
import { join } from 'path';
import { P384Harness, P384Hint } from '../build/P384Harness/P384Harness_P384Harness';
import {
    P384_G,
    P384_N,
    P384_P,
    digestCell,
    multiplesCell,
    p384Hint,
    p384HintCell,
    p384MultiMul,
    p384MultiplesCell,
    p384OnCurve,
    p384Quotients,
    p384VerifyReference,
    pairCell,
    readMultiplesCell,
} from '../wrappers/p384Hints';
import { P384_LADDER_START } from '../helpers/p384Ladder';
import { modInv } from '../helpers/modular';
import { parseAmdCertificate } from '../wrappers/snp';
import { computeGas } from '../bench/lib/gas';
import { P384Inputs, P384Key, p384Inputs, p384KeyPair, p384NodeVerify, p384Sign, sha384, slopeHalves, withSlopeHalfFlipped } from './helpers/p384';

const W = 1n << 192n;
const WINDOWS = 49;
// windows per transaction: the first also runs every check but the ladder
const PLAN = [16, 18, 15];
const TX_GAS_LIMIT = 1_000_000n;

type Mutation = 'none' | 'digest' | 'key' | 'r' | 's' | 'highS';
const MUTATIONS: Mutation[] = ['none', 'digest', 'key', 'r', 's', 'highS'];

interface Case {
    msg: Buffer;
    e: bigint;
    r: bigint;
    s: bigint;
    key: P384Key;
    /** the key the verifier is given (another one for 'key') */
    shown: P384Key;
    valid: boolean;
}

/** A signature by `key` (or the other key) on msg, mutated; `valid` is Node's verdict on what is presented. */
function makeCase(key: P384Key, other: P384Key, msg: Buffer, mutation: Mutation, flip: number): Case {
    let { r, s } = p384Sign(key, msg);
    let shownMsg = msg;
    let shown = key;
    if (mutation === 'digest') shownMsg = Buffer.concat([msg, Buffer.from([flip & 0xff])]);
    if (mutation === 'key') shown = other;
    if (mutation === 'r') r = r ^ (1n << BigInt(flip % 384));
    if (mutation === 's') s = s ^ (1n << BigInt(flip % 384));
    if (mutation === 'highS') s = P384_N - s;
    const valid = p384NodeVerify(shown.publicKey, shownMsg, r, s);
    return { msg: shownMsg, e: sha384(shownMsg), r, s, key, shown, valid };
}

const slices = (i: P384Inputs) => [i.digest.beginParse(), i.publicKey.beginParse(), i.signature.beginParse(), i.hint] as const;

describe('P384 (ECDSA secp384r1 over a digest)', () => {
    let chain: Blockchain;
    let user: SandboxContract<TreasuryContract>;
    let h: SandboxContract<P384Harness>;
    let fresh: BlockchainSnapshot;
    // a few keys reused across cases: key generation is not what is tested
    const keys = Array.from({ length: 4 }, () => p384KeyPair());

    beforeAll(async () => {
        chain = await Blockchain.create();
        user = await chain.treasury('user');
        h = chain.openContract(await P384Harness.fromInit(0n));
        await h.send(user.getSender(), { value: toNano('1') }, null);
        fresh = chain.snapshot();
    });

    afterEach(async () => {
        await chain.loadFrom(fresh);
    });

    const verifyGetter = (i: P384Inputs) => h.getVerify(...slices(i), i.slopesFor(0, WINDOWS));
    const prepared = (i: P384Inputs) => h.getPrepared(...slices(i));
    const hashOf = (i: P384Inputs) => h.getInputHash(...slices(i));

    async function start(i: P384Inputs, windows: number, queryId = 1n, slopes = i.slopesFor(0, windows)) {
        return h.send(user.getSender(), { value: toNano('2') }, { $$type: 'P384VerifyStart', queryId, windows: BigInt(windows), ...i, slopes });
    }
    /** The next windows, with their slopes (from where the harness says the verification stands, as a submitter reads it). */
    async function resume(verification: bigint, i: P384Inputs, windows: number, queryId = 2n, slopes?: Cell, at?: number) {
        const from = at ?? Number((await h.getWindowsDone(verification)) ?? 0n);
        return h.send(
            user.getSender(),
            { value: toNano('2') },
            { $$type: 'P384VerifyContinue', queryId, windows: BigInt(windows), verification, from: BigInt(from), ...i, slopes: slopes ?? i.slopesFor(from, windows) },
        );
    }

    /** The whole verification in transactions of PLAN's sizes; their gas, each under a transaction's limit. */
    async function verifyInSteps(i: P384Inputs): Promise<{ result: boolean | null; txs: Transaction[] }> {
        const verification = await hashOf(i);
        const txs: Transaction[] = [];
        for (const [k, windows] of PLAN.entries()) {
            const res = k === 0 ? await start(i, windows) : await resume(verification, i, windows);
            expect(res.transactions).toHaveTransaction({ to: h.address, success: true });
            const tx = res.transactions[1];
            expect(computeGas(tx)).toBeLessThan(TX_GAS_LIMIT);
            txs.push(tx);
            const done = await h.getWindowsDone(verification);
            if (k < PLAN.length - 1) expect(done).toBe(BigInt(PLAN.slice(0, k + 1).reduce((a, b) => a + b, 0)));
        }
        expect(await h.getWindowsDone(verification)).toBeNull();
        return { result: await h.getResult(verification), txs };
    }

    it('accepts a valid signature in resumable steps, each under a transaction gas limit', async () => {
        expect(PLAN.reduce((a, b) => a + b, 0)).toBe(WINDOWS);
        const c = makeCase(keys[0], keys[1], Buffer.from('cocoon p384 resumable'), 'none', 0);
        expect(c.valid).toBe(true);
        const { result, txs } = await verifyInSteps(p384Inputs(c.e, c.shown.q, c.r, c.s));
        expect(result).toBe(true);
        expect(txs.length).toBe(PLAN.length);
    });

    it('refuses a wrong digest whose hint is consistent, after the whole ladder', async () => {
        const c = makeCase(keys[0], keys[1], Buffer.from('cocoon p384 wrong digest'), 'digest', 7);
        expect(c.valid).toBe(false);
        const inputs = p384Inputs(c.e, c.shown.q, c.r, c.s);
        // every check before the ladder passes: only the ladder can tell
        expect(await prepared(inputs)).toBe(true);
        const { result } = await verifyInSteps(inputs);
        expect(result).toBe(false);
    });

    // The reference mirrors every check of p384.tact in BigInts; here it is
    // compared with Node's crypto on many cases, and the contract with both
    // on a share of them (one verification on chain is ~3,000,000 gas).
    it('agrees with Node on random signatures and mutations (reference, 300 cases)', () => {
        fc.assert(
            fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.constantFrom(...MUTATIONS), fc.nat(), fc.nat(3), (msg, mutation, flip, k) => {
                const c = makeCase(keys[k], keys[(k + 1) % 4], Buffer.from(msg), mutation, flip);
                if (c.r >= 1n << 384n || c.s >= 1n << 384n) return;
                const hint = p384Hint(c.e, c.r, c.s, c.shown.q);
                expect(p384VerifyReference(c.e, c.r, c.s, c.shown.q, hint)).toBe(c.valid);
                if (mutation === 'none' || mutation === 'highS') expect(c.valid).toBe(true);
            }),
            { numRuns: 300 },
        );
    });

    it('agrees with Node and the reference on chain (getter, whole verification)', async () => {
        await fc.assert(
            fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 100 }), fc.constantFrom(...MUTATIONS), fc.nat(), fc.nat(3), async (msg, mutation, flip, k) => {
                const c = makeCase(keys[k], keys[(k + 1) % 4], Buffer.from(msg), mutation, flip);
                if (c.r >= 1n << 384n || c.s >= 1n << 384n) return;
                const hint = p384Hint(c.e, c.r, c.s, c.shown.q);
                expect(await verifyGetter(p384Inputs(c.e, c.shown.q, c.r, c.s, hint))).toBe(c.valid);
            }),
            { numRuns: 48 },
        );
    });

    it('refuses r and s out of [1, n-1] before the ladder', async () => {
        const c = makeCase(keys[0], keys[1], Buffer.from('range'), 'none', 0);
        const q = c.shown.q;
        const honest = p384Hint(c.e, c.r, c.s, q);
        for (const [r, s] of [
            [0n, c.s],
            [c.r, 0n],
            [P384_N, c.s],
            [c.r, P384_N],
            [c.r + P384_N, c.s],
            [c.r, c.s + P384_N],
            [(1n << 384n) - 1n, c.s],
        ]) {
            if (r >= 1n << 384n || s >= 1n << 384n) continue;
            // the valid signature's hint, and one made for the presented values where one exists
            expect(await prepared(p384Inputs(c.e, q, r, s, honest))).toBe(false);
            expect(await verifyGetter(p384Inputs(c.e, q, r, s))).toBe(false);
        }
        expect(await verifyGetter(p384Inputs(c.e, q, c.r, c.s, honest))).toBe(true);
    });

    it('refuses a key off the curve or out of the field', async () => {
        const c = makeCase(keys[0], keys[1], Buffer.from('key'), 'none', 0);
        const q = c.shown.q;
        const offCurve = { x: q.x, y: (q.y + 1n) % P384_P };
        expect(p384OnCurve(offCurve.x, offCurve.y)).toBe(false);
        const hint = p384Hint(c.e, c.r, c.s, q);
        expect(await verifyGetter(p384Inputs(c.e, offCurve, c.r, c.s, hint))).toBe(false);
        expect(await verifyGetter(p384Inputs(c.e, { x: 0n, y: 0n }, c.r, c.s, hint))).toBe(false);
        // the curve check itself, at the limb level
        const limbs = (x: bigint) => [x >> 192n, x & (W - 1n)] as const;
        expect(await h.getOnCurve(...limbs(q.x), ...limbs(q.y))).toBe(true);
        expect(await h.getOnCurve(...limbs(q.x), ...limbs(P384_P - q.y))).toBe(true);
        expect(await h.getOnCurve(...limbs(q.x), ...limbs(q.y + P384_P))).toBe(false);
        // the same x with a low limb past 2^192
        expect(await h.getOnCurve((q.x >> 192n) - 1n, (q.x & (W - 1n)) + W, ...limbs(q.y))).toBe(false);
        expect(await h.getOnCurve(...limbs(offCurve.x), ...limbs(offCurve.y))).toBe(false);
        expect(await h.getOnCurve(-1n, 0n, 0n, 0n)).toBe(false);
    });

    describe('forged hints', () => {
        const c = () => makeCase(keys[2], keys[3], Buffer.from('forged hints'), 'none', 0);
        const forge = (hint: P384Hint, change: Partial<P384Hint>): P384Hint => ({ ...hint, ...change });

        it('the honest hint passes', async () => {
            const v = c();
            expect(await verifyGetter(p384Inputs(v.e, v.shown.q, v.r, v.s))).toBe(true);
        });

        it('refuses a hint consistent in every identity but for the other R with x = r', async () => {
            const v = c();
            const hint = p384Hint(v.e, v.r, v.s, v.shown.q);
            const ry = hint.ryh * W + hint.ryl;
            const rx = hint.rxPlusN ? v.r + P384_N : v.r;
            const otherY = P384_P - ry;
            const forged = forge(hint, { ryh: otherY >> 192n, ryl: otherY & (W - 1n), rNegMultiples: p384MultiplesCell({ x: rx, y: ry }) });
            expect(p384VerifyReference(v.e, v.r, v.s, v.shown.q, forged)).toBe(false);
            const inputs = p384Inputs(v.e, v.shown.q, v.r, v.s, forged);
            // it passes every check before the ladder
            expect(await prepared(inputs)).toBe(true);
            expect(await verifyGetter(inputs)).toBe(false);
        });

        it('refuses b = 0 (with a = c = 0 every identity holds)', async () => {
            const v = c();
            const hint = p384Hint(v.e, v.r, v.s, v.shown.q);
            const forged = forge(hint, { a: 0n, b: 0n, c0: 0n, c1: 0n, k1: 0n, k2h: 0n, k2l: 0n });
            expect(await prepared(p384Inputs(v.e, v.shown.q, v.r, v.s, forged))).toBe(false);
            expect(await verifyGetter(p384Inputs(v.e, v.shown.q, v.r, v.s, forged))).toBe(false);
        });

        it('refuses wrong quotients, scalars and R', async () => {
            const v = c();
            const hint = p384Hint(v.e, v.r, v.s, v.shown.q);
            const bad: Partial<P384Hint>[] = [
                { k1: hint.k1 + 1n },
                { k2l: hint.k2l ^ 1n },
                { k2h: hint.k2h - 1n },
                { a: hint.a + 1n },
                { b: hint.b + 1n },
                { c0: hint.c0 ^ 1n },
                { c1: hint.c1 ^ (1n << 100n) },
                { ryl: hint.ryl ^ 1n },
                { rxPlusN: !hint.rxPlusN },
            ];
            for (const change of bad) {
                const forged = forge(hint, change);
                expect(await prepared(p384Inputs(v.e, v.shown.q, v.r, v.s, forged))).toBe(false);
            }
            // a scalar shifted by n keeps its residue but leaves the ladder's range: the hint cannot hold it
            expect(() => p384HintCell(forge(hint, { a: hint.a + P384_N, ...p384Quotients(v.e, v.r, v.s, { ...hint, a: hint.a + P384_N }) }))).toThrow();
            expect(() => p384HintCell(forge(hint, { c1: hint.c1 + W }))).toThrow();
        });

        it('refuses wrong multiples of Q or -R', async () => {
            const v = c();
            const hint = p384Hint(v.e, v.r, v.s, v.shown.q);
            const qm = readMultiplesCell(hint.qMultiples);
            const rm = readMultiplesCell(hint.rNegMultiples);
            const neg = (pt: { x: bigint; y: bigint }) => ({ x: pt.x, y: P384_P - pt.y });
            const swapped = (pts: typeof qm, k: number, pt: { x: bigint; y: bigint }) => multiplesCell(pts.map((p, i) => (i === k ? pt : p)));
            const forgeries: Partial<P384Hint>[] = [
                { qMultiples: swapped(qm, 0, neg(qm[0])) }, // -2Q for 2Q
                { qMultiples: swapped(qm, 3, neg(qm[3])) }, // -5Q for 5Q
                { qMultiples: swapped(qm, 6, p384MultiMul([[9n, v.shown.q]])!) }, // 9Q for 8Q
                { rNegMultiples: swapped(rm, 2, neg(rm[2])) },
                { rNegMultiples: hint.qMultiples },
                { qMultiples: p384MultiplesCell(P384_G) },
            ];
            for (const change of forgeries) {
                const forged = forge(hint, change);
                expect(p384VerifyReference(v.e, v.r, v.s, v.shown.q, forged)).toBe(false);
                expect(await prepared(p384Inputs(v.e, v.shown.q, v.r, v.s, forged))).toBe(false);
            }
        });

        it('a hint cell too short throws', async () => {
            const v = c();
            const short = beginCell().storeUint(0, 100).endCell();
            await expect(h.getVerify(digestCell(v.e).beginParse(), pairCell(v.shown.q.x, v.shown.q.y).beginParse(), pairCell(v.r, v.s).beginParse(), short, beginCell().endCell())).rejects.toThrow();
        });
    });

    describe('resumable steps under attack', () => {
        const validCase = () => makeCase(keys[1], keys[2], Buffer.from('steps'), 'none', 0);
        const valid = () => {
            const v = validCase();
            return p384Inputs(v.e, v.shown.q, v.r, v.s);
        };
        const other = () => {
            const v = makeCase(keys[2], keys[3], Buffer.from('steps, other'), 'none', 0);
            return p384Inputs(v.e, v.shown.q, v.r, v.s);
        };

        it('refuses other inputs midway: digest, key, signature or hint swapped', async () => {
            const v = validCase();
            const honest = p384Hint(v.e, v.r, v.s, v.shown.q);
            const i = p384Inputs(v.e, v.shown.q, v.r, v.s, honest);
            const o = other();
            const id = await hashOf(i);
            await start(i, 10);
            const wrongHint = p384HintCell({ ...honest, c0: honest.c0 ^ 1n });
            for (const swapped of [{ ...i, digest: o.digest }, { ...i, publicKey: o.publicKey }, { ...i, signature: o.signature }, { ...i, hint: o.hint }, { ...i, hint: wrongHint }, o]) {
                const res = await resume(id, swapped, 10);
                expect(res.transactions).toHaveTransaction({ to: h.address, success: false, exitCode: ExitCode.ERR_P384_WRONG_INPUTS });
                expect(await h.getWindowsDone(id)).toBe(10n);
            }
            // the honest inputs still finish it
            await resume(id, i, 16);
            await resume(id, i, 16);
            await resume(id, i, 7);
            expect(await h.getResult(id)).toBe(true);
        });

        it('a repeated step only moves forward, and nothing is left to replay at the end', async () => {
            const i = valid();
            const id = await hashOf(i);
            await start(i, 9);
            // the same message twice: each runs the next windows
            await resume(id, i, 10);
            await resume(id, i, 10);
            expect(await h.getWindowsDone(id)).toBe(29n);
            // starting again while under way is refused
            const again = await start(i, 5);
            expect(again.transactions).toHaveTransaction({ to: h.address, success: false, exitCode: ExitCode.ERR_P384_UNDER_WAY });
            expect(await h.getWindowsDone(id)).toBe(29n);
            await resume(id, i, 11);
            // more windows than are left run only what is left
            await resume(id, i, 200);
            expect(await h.getResult(id)).toBe(true);
            expect(await h.getWindowsDone(id)).toBeNull();
            const replay = await resume(id, i, 5);
            expect(replay.transactions).toHaveTransaction({ to: h.address, success: false, exitCode: ExitCode.ERR_P384_NOT_STARTED });
            expect(await h.getResult(id)).toBe(true);
        });

        it('no verdict before the last window, no empty steps, no continuing what was never started', async () => {
            const i = valid();
            const id = await hashOf(i);
            const never = await resume(id, i, 10);
            expect(never.transactions).toHaveTransaction({ to: h.address, success: false, exitCode: ExitCode.ERR_P384_NOT_STARTED });
            await start(i, 15);
            await resume(id, i, 16);
            await resume(id, i, 16);
            await resume(id, i, 1);
            expect(await h.getWindowsDone(id)).toBe(48n);
            expect(await h.getResult(id)).toBeNull();
            const empty = await resume(id, i, 0);
            expect(empty.transactions).toHaveTransaction({ to: h.address, success: false, exitCode: ExitCode.ERR_P384_BAD_COUNT });
            expect(await h.getWindowsDone(id)).toBe(48n);
            await resume(id, i, 1);
            expect(await h.getResult(id)).toBe(true);
        });

        it('a wrong, stale or missing slope stops its step and changes nothing; the right ones finish it', async () => {
            const i = valid();
            const id = await hashOf(i);
            await start(i, 12);
            const right = i.slopesFor(12, 10);
            // one slope off by one (two doublings), the slopes of other windows or of another signature, too few, none
            for (const [slopes, code] of [
                [withSlopeHalfFlipped(right, 1, 1), ExitCode.ERR_P384_BAD_SLOPE],
                [withSlopeHalfFlipped(right, 1, 3), ExitCode.ERR_P384_BAD_SLOPE],
                [i.slopesFor(11, 10), ExitCode.ERR_P384_BAD_SLOPE],
                [other().slopesFor(12, 10), ExitCode.ERR_P384_BAD_SLOPE],
                [i.slopesFor(12, 2), 9],
                [beginCell().endCell(), 9],
            ] as [Cell, number][]) {
                const res = await resume(id, i, 10, 3n, slopes);
                expect(res.transactions).toHaveTransaction({ to: h.address, success: false, exitCode: code });
                expect(await h.getWindowsDone(id)).toBe(12n);
            }
            // an addition's slope: the chain's second cell holds d3.l, d4 and G
            // (G's is 0, unread, only when both its digits are: one case in 256)
            const mid = slopeHalves(right, 2);
            const gRead = mid[3] !== 0n || mid[4] !== 0n;
            const withBadG = withSlopeHalfFlipped(right, 2, 4);
            if (gRead) {
                const bad = await resume(id, i, 10, 4n, withBadG);
                expect(bad.transactions).toHaveTransaction({ to: h.address, success: false, exitCode: ExitCode.ERR_P384_BAD_SLOPE });
            }
            await resume(id, i, 10, 5n, right);
            expect(await h.getWindowsDone(id)).toBe(22n);
            await resume(id, i, 27);
            expect(await h.getResult(id)).toBe(true);
        });

        it('a step prepared in advance still fits after someone else ran some of its windows; one from ahead is refused', async () => {
            const i = valid();
            const id = await hashOf(i);
            await start(i, 10);
            // prepared for windows 10 .. 29, then someone runs 10 .. 12 first
            const prepared = i.slopesFor(10, 20);
            await resume(id, i, 3);
            expect(await h.getWindowsDone(id)).toBe(13n);
            const ahead = await resume(id, i, 5, 3n, i.slopesFor(14, 5), 14);
            expect(ahead.transactions).toHaveTransaction({ to: h.address, success: false, exitCode: ExitCode.ERR_P384_WINDOW_AHEAD });
            await resume(id, i, 20, 4n, prepared, 10);
            expect(await h.getWindowsDone(id)).toBe(30n);
            // one whose windows all ran already changes nothing
            await resume(id, i, 20, 5n, prepared, 10);
            expect(await h.getWindowsDone(id)).toBe(30n);
            await resume(id, i, 19);
            expect(await h.getResult(id)).toBe(true);
        });

        it('refuses an exceptional addition by name, whatever slope comes with it', async () => {
            // Inputs that pass every check before the ladder and make its
            // first addition add -R to an accumulator equal to it (or to its
            // negation): R is -S or S (S, the offset point, is computable by
            // anyone), b = 2^192 + 1 (window 0 adds 1 * (-R)), c = 0 and a
            // small a (their window 0 adds nothing), s = b r / a so that
            // a s = b r (mod n), and e = 0 so that c s = b e. With the points
            // equal, L * 0 = 0 would hold for every slope L: the step is
            // refused as exceptional; with them opposite, no slope fits.
            const S = P384_LADDER_START;
            const q = keys[0].q;
            const forged = beginCell()
                .storeRef(
                    beginCell()
                        .storeRef(beginCell().storeUint(0, 192).storeUint(0, 192).storeRef(beginCell().storeUint(7n, 192).storeUint(1n, 192).storeUint(0, 384).endCell()).endCell())
                        .endCell(),
                )
                .endCell();
            for (const [R, code] of [
                [{ x: S.x, y: P384_P - S.y }, ExitCode.ERR_P384_EXCEPTIONAL],
                [S, ExitCode.ERR_P384_BAD_SLOPE],
            ] as [{ x: bigint; y: bigint }, number][]) {
                const rxPlusN = R.x >= P384_N;
                const r = rxPlusN ? R.x - P384_N : R.x;
                const a = 12345n;
                const b = (1n << 192n) + 1n;
                const sig = (((b * r) % P384_N) * modInv(a, P384_N)) % P384_N;
                const hint: P384Hint = {
                    $$type: 'P384Hint',
                    ryh: R.y >> 192n,
                    ryl: R.y & (W - 1n),
                    rxPlusN,
                    c0: 0n,
                    c1: 0n,
                    a,
                    b,
                    ...p384Quotients(0n, r, sig, { a, b, c0: 0n, c1: 0n }),
                    qMultiples: p384MultiplesCell(q),
                    rNegMultiples: p384MultiplesCell({ x: R.x, y: P384_P - R.y }),
                };
                const inputs = p384Inputs(0n, q, r, sig, hint);
                expect(await prepared(inputs)).toBe(true);
                for (const slopes of [inputs.slopesFor(0, 1), forged]) {
                    const res = await start(inputs, 1, 1n, slopes);
                    expect(res.transactions).toHaveTransaction({ to: h.address, success: false, exitCode: code });
                }
                expect(await h.getWindowsDone(await hashOf(inputs))).toBeNull();
            }
        });

        it('records a refusal before the ladder at once', async () => {
            const v = makeCase(keys[1], keys[2], Buffer.from('steps'), 'none', 0);
            const i = p384Inputs(v.e, v.shown.q, 0n, v.s);
            await start(i, 10);
            const id = await hashOf(i);
            expect(await h.getResult(id)).toBe(false);
            expect(await h.getWindowsDone(id)).toBeNull();
        });
    });

    it('verifies the real AMD SEV-SNP report with its VCEK key', async () => {
        const dir = join(__dirname, 'fixtures', 'sev-snp');
        const report = readFileSync(join(dir, 'report-milan.bin'));
        const vcek = parseAmdCertificate(readFileSync(join(dir, 'vcek-milan.der'))).ecKey!;
        const le = (b: Buffer) => BigInt('0x' + Buffer.from(b).reverse().toString('hex'));
        const r = le(report.subarray(0x2a0, 0x2a0 + 72));
        const s = le(report.subarray(0x2a0 + 72, 0x2a0 + 144));
        const e = BigInt('0x' + createHash('sha384').update(report.subarray(0, 0x2a0)).digest('hex'));
        const inputs = p384Inputs(e, vcek, r, s);
        const { result } = await verifyInSteps(inputs);
        expect(result).toBe(true);
        // one changed byte of the report (its hint made for the changed digest) is refused
        const tampered = Buffer.from(report.subarray(0, 0x2a0));
        tampered[0x90] ^= 1;
        const e2 = BigInt('0x' + createHash('sha384').update(tampered).digest('hex'));
        expect(await verifyGetter(p384Inputs(e2, vcek, r, s))).toBe(false);
    });
});
