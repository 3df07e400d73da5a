/**
 * Arithmetic on the short-Weierstrass curves y^2 = x^3 - 3x + b over GF(p)
 * with p = 3 mod 4 (NIST P-256 and P-384), in BigInts, for what the ECDSA
 * checks need off chain: hints, test keys and signatures, and the reference
 * values the table generators check their formulas against. Only the
 * constants differ between the curves. Not constant time: for public values
 * and test keys only.
 */
import { mod, modInv, modPow } from './modular';

export interface AffinePoint {
    x: bigint;
    y: bigint;
}

// Jacobian (X, Y, Z) stands for (X/Z^2, Y/Z^3), Z = 0 for the point at
// infinity: one inversion per scalar multiplication, not one per step.
type Jacobian = [bigint, bigint, bigint];
const INFINITY: Jacobian = [1n, 1n, 0n];

export class WeierstrassCurve {
    constructor(
        /** The field prime, 3 mod 4. */
        readonly p: bigint,
        /** The constant term; the linear one is -3. */
        readonly b: bigint,
        /** The order of g (a prime). */
        readonly n: bigint,
        readonly g: AffinePoint,
    ) {}

    /** Whether (x, y) is a point of the curve with both coordinates in [0, p). */
    onCurve(x: bigint, y: bigint): boolean {
        const p = this.p;
        return x >= 0n && x < p && y >= 0n && y < p && mod(y * y - x * x * x + 3n * x - this.b, p) === 0n;
    }

    /** A y with (x, y) on the curve, or null (p = 3 mod 4, so a square root is a power). */
    liftX(x: bigint): bigint | null {
        const p = this.p;
        if (x < 0n || x >= p) return null;
        const rhs = mod(x * x * x - 3n * x + this.b, p);
        const y = modPow(rhs, (p + 1n) / 4n, p);
        return (y * y) % p === rhs ? y : null;
    }

    /** -P. */
    neg(pt: AffinePoint): AffinePoint {
        return { x: pt.x, y: mod(-pt.y, this.p) };
    }

    /** The sum of k_i * P_i (Straus–Shamir, any integer k_i), or null for the point at infinity. */
    multiMul(terms: [bigint, AffinePoint][]): AffinePoint | null {
        const pts: [bigint, Jacobian][] = terms.map(([k, pt]) => (k < 0n ? [-k, [pt.x, mod(-pt.y, this.p), 1n]] : [k, [pt.x, pt.y, 1n]]));
        const bits = pts.reduce((m, [k]) => Math.max(m, k.toString(2).length), 0);
        let acc = INFINITY;
        for (let i = bits - 1; i >= 0; i--) {
            acc = this.jacDouble(acc);
            for (const [k, pt] of pts) if ((k >> BigInt(i)) & 1n) acc = this.jacAdd(acc, pt);
        }
        return this.toAffine(acc);
    }

    /** a + b, null standing for the point at infinity. */
    add(a: AffinePoint | null, b: AffinePoint | null): AffinePoint | null {
        if (!a) return b;
        if (!b) return a;
        return this.multiMul([
            [1n, a],
            [1n, b],
        ]);
    }

    /**
     * (a, b) with a = b*u mod n, b != 0, 0 <= a < bound and |b| <= n / bound:
     * the extended Euclidean algorithm on (n, u) keeps r_i = t_i*u (mod n) and
     * stops at the first remainder below `bound`; then |t_i| <= n / r_(i-1).
     */
    halfSizeDecomposition(u: bigint, bound: bigint): { a: bigint; b: bigint } {
        let [r0, r1] = [this.n, mod(u, this.n)];
        let [t0, t1] = [0n, 1n];
        if (r1 === 0n) throw new Error('u = 0 has no decomposition with b != 0 and a small');
        while (r1 >= bound) {
            const q = r0 / r1;
            [r0, r1] = [r1, r0 - q * r1];
            [t0, t1] = [t1, t0 - q * t1];
        }
        return { a: r1, b: t1 };
    }

    /**
     * For the ECDSA signature (r, s) on digest `e` by key q: u1 = e/s and
     * u2 = r/s mod n, and the point R = u1*G + u2*Q when its x is r mod n.
     * For a wrong signature R is still a point of the curve where one can be:
     * x = r, else x = r + n while that is a field element, else (r, 0).
     * Null when r or s is out of [1, n).
     */
    ecdsaPoint(e: bigint, r: bigint, s: bigint, q: AffinePoint): { u1: bigint; u2: bigint; rx: bigint; ry: bigint } | null {
        const n = this.n;
        if (r < 1n || r >= n || s < 1n || s >= n) return null;
        const w = modInv(s, n);
        const u1 = mod(e * w, n);
        const u2 = mod(r * w, n);
        const sum = this.onCurve(q.x, q.y)
            ? this.multiMul([
                  [u1, this.g],
                  [u2, q],
              ])
            : null;
        if (sum && mod(sum.x, n) === r) return { u1, u2, rx: sum.x, ry: sum.y };
        let rx = r;
        let ry = this.liftX(r);
        if (ry === null && r + n < this.p) {
            ry = this.liftX(r + n);
            if (ry !== null) rx = r + n;
        }
        return { u1, u2, rx, ry: ry ?? 0n };
    }

    private jacDouble([x, y, z]: Jacobian): Jacobian {
        if (z === 0n || y === 0n) return INFINITY;
        const p = this.p;
        const d = (z * z) % p;
        const g = (y * y) % p;
        // a = -3: 3x^2 + a*z^4 = 3(x - z^2)(x + z^2)
        const m = (3n * mod((x - d) * (x + d), p)) % p;
        const b = (4n * x * g) % p;
        const x3 = mod(m * m - 2n * b, p);
        return [x3, mod(m * (b - x3) - 8n * g * g, p), (2n * y * z) % p];
    }

    private jacAdd(a: Jacobian, b: Jacobian): Jacobian {
        if (a[2] === 0n) return b;
        if (b[2] === 0n) return a;
        const p = this.p;
        const z1 = (a[2] * a[2]) % p;
        const z2 = (b[2] * b[2]) % p;
        const u1 = (a[0] * z2) % p;
        const u2 = (b[0] * z1) % p;
        const s1 = (a[1] * z2 * b[2]) % p;
        const s2 = (b[1] * z1 * a[2]) % p;
        if (u1 === u2) return s1 === s2 ? this.jacDouble(a) : INFINITY;
        const h = mod(u2 - u1, p);
        const r = mod(s2 - s1, p);
        const hh = (h * h) % p;
        const hhh = (h * hh) % p;
        const v = (u1 * hh) % p;
        const x3 = mod(r * r - hhh - 2n * v, p);
        return [x3, mod(r * (v - x3) - s1 * hhh, p), (a[2] * b[2] * h) % p];
    }

    private toAffine([x, y, z]: Jacobian): AffinePoint | null {
        if (z === 0n) return null;
        const p = this.p;
        const zi = modInv(z, p);
        const zi2 = (zi * zi) % p;
        return { x: (x * zi2) % p, y: (y * zi2 * zi) % p };
    }
}

/** A point as [x, y], null for the point at infinity: the form the contract generators compute with. */
export type PointPair = [bigint, bigint] | null;

/** The curve's addition, scalar multiplication and negation on pairs. */
export function pairArithmetic(curve: WeierstrassCurve): { add: (a: PointPair, b: PointPair) => PointPair; mul: (k: bigint, a: PointPair) => PointPair; neg: (a: PointPair) => PointPair } {
    const point = (a: PointPair): AffinePoint | null => a && { x: a[0], y: a[1] };
    const pair = (pt: AffinePoint | null): PointPair => pt && [pt.x, pt.y];
    return {
        add: (a, b) => pair(curve.add(point(a), point(b))),
        mul: (k, a) => (a ? pair(curve.multiMul([[k, point(a)!]])) : null),
        neg: (a) => (a ? [a[0], mod(-a[1], curve.p)] : null),
    };
}

export const P256_CURVE = new WeierstrassCurve(
    0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    {
        x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
        y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    },
);

export const P384_CURVE = new WeierstrassCurve(
    0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    {
        x: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
        y: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    },
);
