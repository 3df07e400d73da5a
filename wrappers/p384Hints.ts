/**
 * Off-chain hints for the on-chain ECDSA P-384 check (contracts/lib/p384.tact).
 *
 * The contract does not compute u1*G + u2*Q (u1 = e/s, u2 = r/s mod n) and
 * compare its x with r. The submitter names the point R = u1*G + u2*Q (its y;
 * its x is r, or r + n when that is still a field element) and a short
 * decomposition b*u2 = a (mod n) with |a|, |b| <= 2^192, found by a partial
 * extended Euclid on (n, u2) (Antipa, Brown, Gallant, Lambert, Struik,
 * Vanstone, "Accelerated verification of ECDSA signatures", SAC 2005). With
 * c = b*u1 mod n = c0 + c1*2^192 the contract checks
 * c0*G + c1*(2^192 G) + a*Q - b*R = O, which is b*(u1*G + u2*Q - R) = O and,
 * as b != 0 mod n, u1*G + u2*Q = R. n is 384-bit, past TVM's integers, so
 * the hint also carries the quotients k1 = (a*s - b*r)/n and
 * k2 = (c*s - b*e)/n, which turn both congruences into exact identities the
 * contract checks limb by limb. It also carries the affine multiples
 * 2Q .. 8Q and 2(-R) .. 8(-R), which the contract checks once (each on the
 * tangent or chord through the one before) and which spare every transaction
 * of a verification from building its tables. A wrong hint makes the check
 * fail; it cannot make a wrong signature pass.
 */
import { Cell, beginCell } from '@ton/core';
import { P384Hint, storeP384Hint } from '../build/AttestationVerifier/AttestationVerifier_AttestationVerifier';
import { uintBytes } from '../helpers/bytes';
import { mod } from '../helpers/modular';
import { AffinePoint, P384_CURVE } from '../helpers/weierstrassCurve';
import { P384_WINDOWS, p384LadderSlopes } from '../helpers/p384Ladder';

export type { P384Hint };

export const P384_P = P384_CURVE.p;
export const P384_N = P384_CURVE.n;
export const P384_B = P384_CURVE.b;
export const P384_G: P384Affine = P384_CURVE.g;

export type P384Affine = AffinePoint;

const W = 1n << 192n;

/** Whether (x, y) is a point of P-384 with both coordinates in [0, p). */
export function p384OnCurve(x: bigint, y: bigint): boolean {
    return P384_CURVE.onCurve(x, y);
}

/** The sum of k_i * P_i (Straus–Shamir, any integer k_i), or null for the point at infinity. */
export function p384MultiMul(terms: [bigint, P384Affine][]): P384Affine | null {
    return P384_CURVE.multiMul(terms);
}

/** (a, b) with a = b*u mod n, b != 0 and 0 <= a < 2^192, |b| <= 2^192 (n < 2^384). */
export function halfSizeDecomposition(u: bigint): { a: bigint; b: bigint } {
    return P384_CURVE.halfSizeDecomposition(u, W);
}

/** The quotient of an exact division (throws when it is not exact). */
function exactDiv(x: bigint, m: bigint): bigint {
    if (x % m !== 0n) throw new Error('not a multiple');
    return x / m;
}

/** The hint's quotients for a, b, c = c0 + c1*2^192 (the identities of p384.tact). */
export function p384Quotients(e: bigint, r: bigint, s: bigint, h: Pick<P384Hint, 'a' | 'b' | 'c0' | 'c1'>): { k1: bigint; k2h: bigint; k2l: bigint } {
    const k1 = exactDiv(h.a * s - h.b * r, P384_N);
    const k2 = exactDiv((h.c0 + h.c1 * W) * s - h.b * e, P384_N);
    return { k1, k2h: k2 >> 192n, k2l: k2 & (W - 1n) };
}

/**
 * The hint for signature (r, s) on digest `e` (the SHA-384 value as an
 * integer) by key q. For a valid signature it makes the contract accept. For
 * an invalid one no hint can; this one is still well formed (R on the curve
 * with x = r where such a point exists, a true decomposition and true
 * quotients), so the contract runs its whole check and rejects it there.
 * Out-of-range r or s give an all-zero hint.
 */
export function p384Hint(e: bigint, r: bigint, s: bigint, q: P384Affine): P384Hint {
    const none = multiplesCell(Array.from({ length: 7 }, () => ({ x: 0n, y: 0n })));
    const zero: P384Hint = { $$type: 'P384Hint', ryh: 0n, ryl: 0n, rxPlusN: false, c0: 0n, c1: 0n, a: 0n, b: 0n, k1: 0n, k2h: 0n, k2l: 0n, qMultiples: none, rNegMultiples: none };
    const point = P384_CURVE.ecdsaPoint(e, r, s, q);
    if (!point) return zero;
    const { u1, u2, rx, ry } = point;
    const { a, b } = halfSizeDecomposition(u2);
    const c = mod(b * u1, P384_N);
    const c0 = c & (W - 1n);
    const c1 = c >> 192n;
    const onCurve = p384OnCurve(q.x, q.y);
    return {
        $$type: 'P384Hint',
        ryh: ry >> 192n,
        ryl: ry & (W - 1n),
        rxPlusN: rx !== r,
        c0,
        c1,
        a,
        b,
        ...p384Quotients(e, r, s, { a, b, c0, c1 }),
        qMultiples: onCurve ? p384MultiplesCell(q) : none,
        rNegMultiples: ry !== 0n || p384OnCurve(rx, 0n) ? p384MultiplesCell(P384_CURVE.neg({ x: rx, y: ry })) : none,
    };
}

/** The chain of seven cells holding 2B .. 8B (x.h, x.l, y.h, y.l as uint192 each; the next in the first reference). */
export function p384MultiplesCell(base: P384Affine): Cell {
    const pts: P384Affine[] = [];
    for (let k = 2n; k <= 8n; k++) pts.push(p384MultiMul([[k, base]]) ?? { x: 0n, y: 0n });
    return multiplesCell(pts);
}

/** The chain cell of seven given points (for tests that forge one). */
export function multiplesCell(pts: P384Affine[]): Cell {
    let next: Cell | null = null;
    for (let i = pts.length - 1; i >= 0; i--) {
        const b = beginCell()
            .storeUint(pts[i].x >> 192n, 192)
            .storeUint(pts[i].x & (W - 1n), 192)
            .storeUint(pts[i].y >> 192n, 192)
            .storeUint(pts[i].y & (W - 1n), 192);
        if (next) b.storeRef(next);
        next = b.endCell();
    }
    return next!;
}

/** The seven points of a multiples chain. */
export function readMultiplesCell(c: Cell): P384Affine[] {
    const out: P384Affine[] = [];
    let s = c.beginParse();
    for (let k = 0; k < 7; k++) {
        const xh = s.loadUintBig(192);
        const xl = s.loadUintBig(192);
        const yh = s.loadUintBig(192);
        const yl = s.loadUintBig(192);
        out.push({ x: xh * W + xl, y: yh * W + yl });
        if (k < 6) s = s.loadRef().beginParse();
    }
    return out;
}

/**
 * The slopes of windows from .. from + count - 1 of the ladder for this hint
 * (signature r, key q), as p384Advance reads them: a cell whose reference
 * starts a chain of three cells a window, [d1 d2 d3.h] [d3.l d4 G] [Q R]
 * (uint192 halves, the next window's first cell in the third's reference;
 * window 0, which has no doublings: [] [G] [Q R]).
 * Not part of the verification's input hash: a transaction brings those of
 * its own windows, and the contract checks each.
 */
export function p384SlopesCell(r: bigint, q: P384Affine, h: P384Hint, from = 0, count = P384_WINDOWS): Cell {
    const R = { x: h.rxPlusN ? r + P384_N : r, y: h.ryh * W + h.ryl };
    const windows = p384LadderSlopes(h, q, R, from, count);
    let next: Cell | null = null;
    for (let w = windows.length - 1; w >= 0; w--) {
        const halves = windows[w].flatMap((v) => [v >> 192n, v & (W - 1n)]);
        const cell = (part: bigint[], ref: Cell | null) => {
            const b = beginCell();
            for (const v of part) b.storeUint(v, 192);
            if (ref) b.storeRef(ref);
            return b.endCell();
        };
        const third = cell(halves.slice(10, 14), next);
        // window 0 has no doublings: [] [G] [Q R]
        next = from + w === 0 ? cell([], cell(halves.slice(8, 10), third)) : cell(halves.slice(0, 5), cell(halves.slice(5, 10), third));
    }
    const root = beginCell();
    if (next) root.storeRef(next);
    return root.endCell();
}

export function p384HintCell(h: P384Hint): Cell {
    return beginCell().store(storeP384Hint(h)).endCell();
}

/** The cell of the digest (48 bytes), a key x || y or a signature r || s (96 bytes). */
export function bytesCell(data: Buffer): Cell {
    return beginCell().storeBuffer(data).endCell();
}

export const digestCell = (e: bigint): Cell => bytesCell(uintBytes(e, 48));
export const pairCell = (a: bigint, b: bigint): Cell => bytesCell(Buffer.concat([uintBytes(a, 48), uintBytes(b, 48)]));

/**
 * What p384.tact decides for these inputs and hint, in BigInts: every range
 * and curve check, both identities, b != 0, then c0*G + c1*(2^192 G) + a*Q - b*R = O.
 * A mirror of the contract for many fast checks; the contract itself is
 * tested against it and against Node's crypto.
 */
export function p384VerifyReference(e: bigint, r: bigint, s: bigint, q: P384Affine, h: P384Hint): boolean {
    if (r < 1n || r >= P384_N || s < 1n || s >= P384_N) return false;
    if (h.b === 0n) return false;
    const rx = h.rxPlusN ? r + P384_N : r;
    const ry = h.ryh * W + h.ryl;
    if (!p384OnCurve(q.x, q.y) || !p384OnCurve(rx, ry)) return false;
    if (h.a * s - h.b * r !== h.k1 * P384_N) return false;
    if ((h.c0 + h.c1 * W) * s - h.b * e !== (h.k2h * W + h.k2l) * P384_N) return false;
    const same = (pts: P384Affine[], base: P384Affine) =>
        pts.every((pt, i) => {
            const want = p384MultiMul([[BigInt(i + 2), base]]);
            return want !== null && mod(pt.x, P384_P) === want.x && mod(pt.y, P384_P) === want.y;
        });
    if (!same(readMultiplesCell(h.qMultiples), q) || !same(readMultiplesCell(h.rNegMultiples), P384_CURVE.neg({ x: rx, y: ry }))) return false;
    const g192 = p384MultiMul([[W, P384_G]])!;
    return (
        p384MultiMul([
            [h.c0, P384_G],
            [h.c1, g192],
            [h.a, q],
            [-h.b, { x: rx, y: ry }],
        ]) === null
    );
}
