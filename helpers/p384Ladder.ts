/**
 * The P-384 ladder of contracts/lib/p384-core.tact, in BigInts: its
 * constants (the window count, the window offset M, the offset point S and
 * where an accepting ladder ends) and the slope of every step, which a
 * transaction brings with it (the contract checks each against its
 * equation). scripts/local/genP384.ts generates the contract's ladder from
 * the same constants.
 *
 * The ladder computes S * 2^192 + c0*G + c1*(2^192 G) + a*Q - b*R over 49
 * windows of 4 bits, most significant first: each window but the first
 * doubles the accumulator four times, then adds the joint multiple of G and
 * 2^192 G for the windows of c0 and c1, then the multiples of Q and of -R for
 * the windows of a and b. A scalar k enters as k + M, M = 8 (16^49 - 1) / 15,
 * and a window v stands for the digit v - 8 (-8..7; 0 adds nothing).
 */
import { createHash } from 'crypto';
import { mod, modInv } from './modular';
import { AffinePoint, P384_CURVE } from './weierstrassCurve';

const P = P384_CURVE.p;

export const P384_WINDOWS = 49;
export const P384_BOOTH_M = (8n * (16n ** BigInt(P384_WINDOWS) - 1n)) / 15n;
export const P384_DOUBLINGS = 4 * (P384_WINDOWS - 1);
/** Slopes a window brings: four doublings, then G, Q and R (window 0's doublings and zero digits: unread). */
export const P384_SLOPES_PER_WINDOW = 7;

/**
 * A point hashed to the curve (try-and-increment on SHA-512 of a fixed tag),
 * so that nobody knows its discrete logarithm: the accumulator's start.
 */
function hashToCurve(tag: string): AffinePoint {
    for (let ctr = 0; ; ctr++) {
        const x = BigInt('0x' + createHash('sha512').update(`${tag}/${ctr}`).digest('hex')) % P;
        const y = P384_CURVE.liftX(x);
        if (y !== null) return { x, y };
    }
}
export const P384_LADDER_START = hashToCurve('cocoon-ton/p384/ladder-offset/v1');
export const P384_LADDER_END = P384_CURVE.multiMul([[1n << BigInt(P384_DOUBLINGS), P384_LADDER_START]])!;
export const P384_G192 = P384_CURVE.multiMul([[1n << 192n, P384_CURVE.g]])!;

/** The scalars of a verification: c0, c1 (for G and 2^192 G), a (for Q) and b (for -R). */
export interface P384LadderScalars {
    c0: bigint;
    c1: bigint;
    a: bigint;
    b: bigint;
}

/** The slope of a doubling of pt, or 0 where none exists (y = 0: not a point of the curve). */
function tangent(pt: AffinePoint): bigint {
    const d = mod(2n * pt.y, P);
    return d === 0n ? 0n : mod(3n * (pt.x * pt.x - 1n) * modInv(d, P), P);
}

/** The slope of pt + t, or null when the addition is exceptional (same x). */
function chord(pt: AffinePoint, t: AffinePoint): bigint | null {
    const d = mod(t.x - pt.x, P);
    return d === 0n ? null : mod((t.y - pt.y) * modInv(d, P), P);
}

/** The point of a slope step: the third point on the line, reflected. */
function step(pt: AffinePoint, t: AffinePoint, slope: bigint): AffinePoint {
    const x = mod(slope * slope - pt.x - t.x, P);
    return { x, y: mod(slope * (pt.x - x) - pt.y, P) };
}

/**
 * The slopes of windows from .. from + count - 1, seven a window
 * (P384_SLOPES_PER_WINDOW; 0 where the ladder reads none), for key q and R.
 * The ladder is run from the start, so any inputs give slopes: for an
 * invalid signature they lead the contract to its refusal at the end. A step
 * no slope can serve (an exceptional addition, or a point off the curve
 * from inputs the contract refuses before its ladder) gets 0 from there on,
 * which the contract refuses.
 */
export function p384LadderSlopes(k: P384LadderScalars, q: AffinePoint, r: AffinePoint, from = 0, count = P384_WINDOWS): bigint[][] {
    const forms = [k.c0, k.c1, k.a, k.b].map((v) => v + P384_BOOTH_M);
    const multiples = (base: AffinePoint) => Array.from({ length: 16 }, (_, v) => (v === 8 ? null : P384_CURVE.multiMul([[BigInt(v - 8), base]])));
    const gTable = multiples(P384_CURVE.g);
    const g192Table = multiples(P384_G192);
    const qTable = multiples(q);
    const rTable = multiples(P384_CURVE.neg(r));
    let acc: AffinePoint | null = P384_LADDER_START;
    const out: bigint[][] = [];
    const end = Math.min(P384_WINDOWS, from + count);
    for (let w = 0; w < end; w++) {
        const slopes = new Array<bigint>(P384_SLOPES_PER_WINDOW).fill(0n);
        const pos = BigInt(192 - 4 * w);
        const digit = (e: bigint) => Number((e >> pos) & 15n);
        if (w > 0)
            for (let i = 0; i < 4 && acc; i++) {
                slopes[i] = tangent(acc);
                acc = slopes[i] === 0n ? null : step(acc, acc, slopes[i]);
            }
        const [vg0, vg1] = [digit(forms[0]), digit(forms[1])];
        const terms: Array<AffinePoint | null> = [P384_CURVE.add(gTable[vg0], g192Table[vg1]), qTable[digit(forms[2])], rTable[digit(forms[3])]];
        terms.forEach((t, i) => {
            if (!acc || !t) return;
            const slope = chord(acc, t);
            if (slope === null) {
                acc = null;
                return;
            }
            slopes[4 + i] = slope;
            acc = step(acc, t, slope);
        });
        if (w >= from) out.push(slopes);
    }
    return out;
}
