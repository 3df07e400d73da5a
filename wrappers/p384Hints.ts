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
import { mod, modInv, modPow } from '../helpers/modular';

export type { P384Hint };

export const P384_P = 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn;
export const P384_N = 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n;
export const P384_B = 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn;
export const P384_G: P384Affine = {
    x: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    y: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
};

export interface P384Affine {
    x: bigint;
    y: bigint;
}

const W = 1n << 192n;

/** Whether (x, y) is a point of P-384 with both coordinates in [0, p). */
export function p384OnCurve(x: bigint, y: bigint): boolean {
    return x >= 0n && x < P384_P && y >= 0n && y < P384_P && mod(y * y - x * x * x + 3n * x - P384_B, P384_P) === 0n;
}

/** A y with (x, y) on the curve, or null (p = 3 mod 4, so a square root is a power). */
export function p384LiftX(x: bigint): bigint | null {
    if (x < 0n || x >= P384_P) return null;
    const rhs = mod(x * x * x - 3n * x + P384_B, P384_P);
    const y = modPow(rhs, (P384_P + 1n) / 4n, P384_P);
    return (y * y) % P384_P === rhs ? y : null;
}

// Jacobian arithmetic (a = -3): one inversion per scalar multiplication, not per step.
type Jac = [bigint, bigint, bigint];
const INFINITY: Jac = [1n, 1n, 0n];
function jacDouble([x, y, z]: Jac): Jac {
    if (z === 0n || y === 0n) return INFINITY;
    const p = P384_P;
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
    const p = P384_P;
    const z1 = (a[2] * a[2]) % p;
    const z2 = (b[2] * b[2]) % p;
    const u1 = (a[0] * z2) % p;
    const u2 = (b[0] * z1) % p;
    const s1 = (a[1] * z2 * b[2]) % p;
    const s2 = (b[1] * z1 * a[2]) % p;
    if (u1 === u2) return s1 === s2 ? jacDouble(a) : INFINITY;
    const h = mod(u2 - u1, p);
    const r = mod(s2 - s1, p);
    const hh = (h * h) % p;
    const hhh = (h * hh) % p;
    const v = (u1 * hh) % p;
    const x3 = mod(r * r - hhh - 2n * v, p);
    return [x3, mod(r * (v - x3) - s1 * hhh, p), (a[2] * b[2] * h) % p];
}
function toAffine([x, y, z]: Jac): P384Affine | null {
    if (z === 0n) return null;
    const zi = modInv(z, P384_P);
    const zi2 = (zi * zi) % P384_P;
    return { x: (x * zi2) % P384_P, y: (y * zi2 * zi) % P384_P };
}

/** The sum of k_i * P_i (Straus–Shamir, any integer k_i), or null for the point at infinity. */
export function p384MultiMul(terms: [bigint, P384Affine][]): P384Affine | null {
    const pts: [bigint, Jac][] = terms.map(([k, pt]) => (k < 0n ? [-k, [pt.x, mod(-pt.y, P384_P), 1n]] : [k, [pt.x, pt.y, 1n]]));
    const bits = pts.reduce((m, [k]) => Math.max(m, k.toString(2).length), 0);
    let acc: Jac = INFINITY;
    for (let i = bits - 1; i >= 0; i--) {
        acc = jacDouble(acc);
        for (const [k, pt] of pts) if ((k >> BigInt(i)) & 1n) acc = jacAdd(acc, pt);
    }
    return toAffine(acc);
}

/**
 * (a, b) with a = b*u mod n, b != 0 and 0 <= a < 2^192, |b| <= 2^192: the
 * extended Euclidean algorithm on (n, u) keeps r_i = t_i*u (mod n) and stops
 * at the first remainder below 2^192; then |t_i| <= n / r_(i-1) < 2^384 / 2^192.
 */
export function halfSizeDecomposition(u: bigint): { a: bigint; b: bigint } {
    let [r0, r1] = [P384_N, mod(u, P384_N)];
    let [t0, t1] = [0n, 1n];
    if (r1 === 0n) throw new Error('u = 0 has no decomposition with b != 0 and a small');
    while (r1 >= W) {
        const q = r0 / r1;
        [r0, r1] = [r1, r0 - q * r1];
        [t0, t1] = [t1, t0 - q * t1];
    }
    return { a: r1, b: t1 };
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
    if (r < 1n || r >= P384_N || s < 1n || s >= P384_N) return zero;
    const w = modInv(s, P384_N);
    const u1 = mod(e * w, P384_N);
    const u2 = mod(r * w, P384_N);
    let rx = r;
    let ry: bigint | null = null;
    const sum = p384OnCurve(q.x, q.y)
        ? p384MultiMul([
              [u1, P384_G],
              [u2, q],
          ])
        : null;
    if (sum && mod(sum.x, P384_N) === r) {
        rx = sum.x;
        ry = sum.y;
    } else {
        ry = p384LiftX(r);
        if (ry === null && r + P384_N < P384_P) {
            ry = p384LiftX(r + P384_N);
            if (ry !== null) rx = r + P384_N;
        }
        ry ??= 0n;
    }
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
        rNegMultiples: ry !== 0n || p384OnCurve(rx, 0n) ? p384MultiplesCell({ x: rx, y: mod(-ry, P384_P) }) : none,
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

export function p384HintCell(h: P384Hint): Cell {
    return beginCell().store(storeP384Hint(h)).endCell();
}

/** A big-endian unsigned integer of `bytes` bytes. */
export function uintBytes(x: bigint, bytes: number): Buffer {
    return Buffer.from(x.toString(16).padStart(bytes * 2, '0'), 'hex');
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
    if (!same(readMultiplesCell(h.qMultiples), q) || !same(readMultiplesCell(h.rNegMultiples), { x: rx, y: mod(-ry, P384_P) })) return false;
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
