/**
 * Off-chain hints for the on-chain ECDSA P-256 check (contracts/lib/p256.tact).
 *
 * The contract does not compute u1*G + u2*Q (u1 = e/s, u2 = r/s mod n) and
 * compare its x with r. The submitter names the point R = u1*G + u2*Q (its y;
 * its x is r, or r + n when that is still a field element) and a short
 * decomposition b*u2 = a (mod n) with |a|, |b| < 2^128, found by a partial
 * extended Euclid on (n, u2) (Antipa, Brown, Gallant, Lambert, Struik,
 * Vanstone, "Accelerated verification of ECDSA signatures", SAC 2005). With
 * c = b*u1 mod n = c0 + c1*2^128 the contract checks
 * c0*G + c1*(2^128 G) + a*Q - b*R = O, which is b*(u1*G + u2*Q - R) = O and,
 * as b != 0 mod n, u1*G + u2*Q = R: a ladder of 128-bit scalars instead of
 * 256-bit ones. A wrong hint makes the check fail; it cannot make a wrong
 * signature pass.
 */
import { Builder, Cell, beginCell } from '@ton/core';
import { mod } from '../helpers/modular';
import { AffinePoint, P256_CURVE } from '../helpers/weierstrassCurve';

export const P256_P = P256_CURVE.p;
export const P256_N = P256_CURVE.n;
export const P256_B = P256_CURVE.b;
export const P256_G: P256Affine = P256_CURVE.g;

export type P256Affine = AffinePoint;

/** What a verification message carries besides (r, s): see the file comment. */
export interface P256Hint {
    /** R's y coordinate, in [0, p). */
    ry: bigint;
    /** R's x is r + n rather than r. */
    rxPlusN: boolean;
    /** b*u1 mod n (up to a multiple of n) as c0 + c1*2^128, both odd, |c0|, |c1| < 2^129. */
    c0: bigint;
    c1: bigint;
    /** b*u2 = a (mod n), b != 0, |a|, |b| < 2^128. */
    a: bigint;
    b: bigint;
}

const TWO128 = 1n << 128n;

/** A y with (x, y) on the curve, or null. */
export function p256LiftX(x: bigint): bigint | null {
    return P256_CURVE.liftX(x);
}

/** (a, b) with a = b*u mod n, b != 0 and |a|, |b| < 2^128 (n < 2^256). */
export function halfSizeDecomposition(u: bigint): { a: bigint; b: bigint } {
    return P256_CURVE.halfSizeDecomposition(u, TWO128);
}

/** c (any integer) as c0 + c1*2^128 with c0 and c1 odd, c replaced by c - n first when even. */
export function oddSplit(c: bigint): { c0: bigint; c1: bigint } {
    if ((c & 1n) === 0n) c -= P256_N;
    let c0 = mod(c, TWO128);
    let c1 = (c - c0) / TWO128;
    if ((c1 & 1n) === 0n) {
        c0 -= TWO128;
        c1 += 1n;
    }
    return { c0, c1 };
}

/**
 * The hint for signature (r, s) on digest `e` (the SHA-256 value as an
 * integer) by key q. For a valid signature it makes the contract accept. For
 * an invalid one no hint can; this one is still well formed (R on the curve
 * with x = r where such a point exists, a true decomposition), so the
 * contract runs its whole check and rejects it there. Out-of-range r or s
 * give an all-zero hint.
 */
export function p256Hint(e: bigint, r: bigint, s: bigint, q: P256Affine): P256Hint {
    const point = P256_CURVE.ecdsaPoint(e, r, s, q);
    if (!point) return { ry: 0n, rxPlusN: false, c0: 0n, c1: 0n, a: 0n, b: 0n };
    const { u1, u2, rx, ry } = point;
    const { a, b } = halfSizeDecomposition(u2);
    const { c0, c1 } = oddSplit(mod(b * u1, P256_N));
    return { ry, rxPlusN: rx !== r, c0, c1, a, b };
}

/** The hint cell: ry uint256, rxPlusN bit, c0 int130, c1 int130, a int129, b int129. */
export function storeP256Hint(h: P256Hint): (b: Builder) => void {
    return (b) => {
        b.storeUint(h.ry, 256).storeBit(h.rxPlusN).storeInt(h.c0, 130).storeInt(h.c1, 130).storeInt(h.a, 129).storeInt(h.b, 129);
    };
}

export function p256HintCell(h: P256Hint): Cell {
    return beginCell().store(storeP256Hint(h)).endCell();
}
