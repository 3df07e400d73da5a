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
import { mod, modInv, modPow } from '../helpers/modular';

export const P256_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
export const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
export const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
export const P256_G: P256Affine = {
    x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
};

export interface P256Affine {
    x: bigint;
    y: bigint;
}

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

/** Whether (x, y) is a point of P-256 with both coordinates in [0, p). */
export function p256OnCurve(x: bigint, y: bigint): boolean {
    return x >= 0n && x < P256_P && y >= 0n && y < P256_P && mod(y * y - x * x * x + 3n * x - P256_B, P256_P) === 0n;
}

/** A y with (x, y) on the curve, or null (p = 3 mod 4, so a square root is a power). */
export function p256LiftX(x: bigint): bigint | null {
    if (x < 0n || x >= P256_P) return null;
    const rhs = mod(x * x * x - 3n * x + P256_B, P256_P);
    const y = modPow(rhs, (P256_P + 1n) / 4n, P256_P);
    return (y * y) % P256_P === rhs ? y : null;
}

// Jacobian arithmetic (a = -3): one inversion per scalar multiplication, not per step.
type Jac = [bigint, bigint, bigint];
function jacDouble([x, y, z]: Jac): Jac {
    if (z === 0n || y === 0n) return [1n, 1n, 0n];
    const p = P256_P;
    const d = (z * z) % p;
    const g = (y * y) % p;
    const m = (3n * mod((x - d) * (x + d), p)) % p;
    const b = (4n * x * g) % p;
    const x3 = mod(m * m - 2n * b, p);
    return [x3, mod(m * (b - x3) - 8n * g * g, p), (2n * y * z) % p];
}
function jacAdd(a: Jac, b: Jac): Jac {
    if (a[2] === 0n) return b;
    if (b[2] === 0n) return a;
    const p = P256_P;
    const z1 = (a[2] * a[2]) % p;
    const z2 = (b[2] * b[2]) % p;
    const u1 = (a[0] * z2) % p;
    const u2 = (b[0] * z1) % p;
    const s1 = (a[1] * z2 * b[2]) % p;
    const s2 = (b[1] * z1 * a[2]) % p;
    if (u1 === u2) return s1 === s2 ? jacDouble(a) : [1n, 1n, 0n];
    const h = mod(u2 - u1, p);
    const r = mod(s2 - s1, p);
    const hh = (h * h) % p;
    const hhh = (h * hh) % p;
    const v = (u1 * hh) % p;
    const x3 = mod(r * r - hhh - 2n * v, p);
    return [x3, mod(r * (v - x3) - s1 * hhh, p), (a[2] * b[2] * h) % p];
}
function toAffine([x, y, z]: Jac): P256Affine | null {
    if (z === 0n) return null;
    const zi = modInv(z, P256_P);
    const zi2 = (zi * zi) % P256_P;
    return { x: (x * zi2) % P256_P, y: (y * zi2 * zi) % P256_P };
}

/** u1*G + u2*Q (Straus–Shamir), or null for the point at infinity. */
export function p256MulAdd(u1: bigint, g: P256Affine, u2: bigint, q: P256Affine): P256Affine | null {
    const jg: Jac = [g.x, g.y, 1n];
    const jq: Jac = [q.x, q.y, 1n];
    const both = jacAdd(jg, jq);
    let acc: Jac = [1n, 1n, 0n];
    for (let i = 255; i >= 0; i--) {
        acc = jacDouble(acc);
        const b1 = (u1 >> BigInt(i)) & 1n;
        const b2 = (u2 >> BigInt(i)) & 1n;
        if (b1 && b2) acc = jacAdd(acc, both);
        else if (b1) acc = jacAdd(acc, jg);
        else if (b2) acc = jacAdd(acc, jq);
    }
    return toAffine(acc);
}

/**
 * (a, b) with a = b*u mod n, b != 0 and |a|, |b| < 2^128: the extended
 * Euclidean algorithm on (n, u) keeps r_i = t_i*u (mod n) and stops at the
 * first remainder below 2^128; then |t_i| <= n / r_(i-1) < 2^256 / 2^128.
 */
export function halfSizeDecomposition(u: bigint): { a: bigint; b: bigint } {
    let [r0, r1] = [P256_N, mod(u, P256_N)];
    let [t0, t1] = [0n, 1n];
    if (r1 === 0n) throw new Error('u = 0 has no decomposition with b != 0 and a small');
    while (r1 >= TWO128) {
        const q = r0 / r1;
        [r0, r1] = [r1, r0 - q * r1];
        [t0, t1] = [t1, t0 - q * t1];
    }
    return { a: r1, b: t1 };
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
    if (r < 1n || r >= P256_N || s < 1n || s >= P256_N) return { ry: 0n, rxPlusN: false, c0: 0n, c1: 0n, a: 0n, b: 0n };
    const w = modInv(s, P256_N);
    const u1 = mod(e * w, P256_N);
    const u2 = mod(r * w, P256_N);
    let rx = r;
    let ry: bigint | null = null;
    const sum = p256OnCurve(q.x, q.y) ? p256MulAdd(u1, P256_G, u2, q) : null;
    if (sum && mod(sum.x, P256_N) === r) {
        rx = sum.x;
        ry = sum.y;
    } else {
        ry = p256LiftX(r);
        if (ry === null && r + P256_N < P256_P) {
            ry = p256LiftX(r + P256_N);
            if (ry !== null) rx = r + P256_N;
        }
        ry ??= 0n;
    }
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
