/**
 * Off-chain P-256 reference used by the P-256 tests: curve constants, a
 * BigInt ECDSA signer/verifier over raw digests (for cases Node's crypto
 * cannot produce, such as digests >= n), and helpers to put byte strings into
 * cell chains and keys/signatures into 64-byte slices.
 */
import { Builder, Cell, beginCell } from '@ton/core';
import { createHash, randomBytes } from 'crypto';
import { mod as modReduce, modInv } from '../../helpers/modular';

export const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
export const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
export const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
export const G: [bigint, bigint] = [0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n, 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n];

export const mod = (x: bigint, m = P) => modReduce(x, m);
export { modInv };
export type Point = [bigint, bigint] | null;
export function add(a: Point, b: Point): Point {
    if (!a) return b;
    if (!b) return a;
    let l: bigint;
    if (a[0] === b[0]) {
        if (mod(a[1] + b[1]) === 0n) return null;
        l = mod((3n * a[0] * a[0] - 3n) * modInv(2n * a[1], P));
    } else {
        l = mod((b[1] - a[1]) * modInv(b[0] - a[0], P));
    }
    const x = mod(l * l - a[0] - b[0]);
    return [x, mod(l * (a[0] - x) - a[1])];
}
export function mul(k: bigint, pt: Point): Point {
    let r: Point = null;
    let q = pt;
    while (k > 0n) {
        if (k & 1n) r = add(r, q);
        q = add(q, q);
        k >>= 1n;
    }
    return r;
}
export function onCurve(x: bigint, y: bigint): boolean {
    return x >= 0n && x < P && y >= 0n && y < P && mod(y * y) === mod(x * x * x - 3n * x + B);
}
export function toBig(buf: Buffer): bigint {
    return buf.length === 0 ? 0n : BigInt('0x' + buf.toString('hex'));
}
export function to32(x: bigint): Buffer {
    return Buffer.from(x.toString(16).padStart(64, '0'), 'hex');
}
export function randScalar(): bigint {
    return mod(toBig(randomBytes(40)), N - 1n) + 1n;
}
/** Reference ECDSA verification of a raw digest (SEC 1 4.1.4). */
export function verifyDigest(e: bigint, r: bigint, s: bigint, qx: bigint, qy: bigint): boolean {
    if (r < 1n || r >= N || s < 1n || s >= N || !onCurve(qx, qy)) return false;
    const w = modInv(s, N);
    const R = add(mul(mod(e * w, N), G), mul(mod(r * w, N), [qx, qy]));
    return R !== null && mod(R[0], N) === r;
}
/** Reference ECDSA signature of a raw digest with private key d. */
export function signDigest(e: bigint, d: bigint, k = randScalar()): [bigint, bigint] {
    const R = mul(k, G)!;
    const r = mod(R[0], N);
    const s = mod(modInv(k, N) * (e + r * d), N);
    if (r === 0n || s === 0n) return signDigest(e, d);
    return [r, s];
}
export function sha256(data: Buffer): bigint {
    return toBig(createHash('sha256').update(data).digest());
}
/** 64 bytes x || y (or r || s), as the harness's bytes64 fields take them. */
export function pairBytes(a: bigint, b: bigint): Buffer {
    return Buffer.concat([to32(a), to32(b)]);
}
/** Bytes as a chain of cells (127 bytes each, continued in the first reference). */
export function bytesToChain(data: Buffer, chunk = 127): Cell {
    const parts: Buffer[] = [];
    for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
    if (parts.length === 0) parts.push(Buffer.alloc(0));
    let next: Cell | null = null;
    for (let i = parts.length - 1; i >= 0; i--) {
        const b: Builder = beginCell().storeBuffer(parts[i]);
        if (next) b.storeRef(next);
        next = b.endCell();
    }
    return next!;
}
