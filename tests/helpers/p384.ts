import { createHash, generateKeyPairSync, KeyObject, sign, verify } from 'crypto';
import { Cell, beginCell } from '@ton/core';
import { P384Affine, P384Hint, digestCell, p384Hint, p384HintCell, p384SlopesCell, pairCell } from '../../wrappers/p384Hints';

/** A P-384 key pair from Node's crypto, with the public point as integers. */
export interface P384Key {
    privateKey: KeyObject;
    publicKey: KeyObject;
    q: P384Affine;
}

const big = (b64url: string) => BigInt('0x' + Buffer.from(b64url, 'base64url').toString('hex'));

export function p384KeyPair(): P384Key {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const jwk = publicKey.export({ format: 'jwk' });
    return { privateKey, publicKey, q: { x: big(jwk.x!), y: big(jwk.y!) } };
}

export const sha384 = (data: Buffer): bigint => BigInt('0x' + createHash('sha384').update(data).digest('hex'));

/** Node's ECDSA signature of SHA-384(msg), as (r, s). */
export function p384Sign(key: P384Key, msg: Buffer): { r: bigint; s: bigint } {
    const sig = sign('sha384', msg, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    return { r: BigInt('0x' + sig.subarray(0, 48).toString('hex')), s: BigInt('0x' + sig.subarray(48).toString('hex')) };
}

/** Node's verdict on (r, s) over SHA-384(msg) by key; r and s must fit 48 bytes. */
export function p384NodeVerify(key: KeyObject, msg: Buffer, r: bigint, s: bigint): boolean {
    const sig = Buffer.from(r.toString(16).padStart(96, '0') + s.toString(16).padStart(96, '0'), 'hex');
    return verify('sha384', msg, { key, dsaEncoding: 'ieee-p1363' }, sig);
}

/** The four cells a verification message carries, and the slopes of the windows a transaction runs. */
export interface P384Inputs {
    digest: Cell;
    publicKey: Cell;
    signature: Cell;
    hint: Cell;
    slopesFor: (from: number, count: number) => Cell;
}

export function p384Inputs(e: bigint, q: P384Affine, r: bigint, s: bigint, hint?: P384Hint): P384Inputs {
    const h = hint ?? p384Hint(e, r, s, q);
    return {
        digest: digestCell(e),
        publicKey: pairCell(q.x, q.y),
        signature: pairCell(r, s),
        hint: p384HintCell(h),
        slopesFor: (from, count) => p384SlopesCell(r, q, h, from, count),
    };
}

/** The uint192 halves of the slope chain's cell `depth` references below its root (p384SlopesCell's layout). */
export function slopeHalves(root: Cell, depth: number): bigint[] {
    let cell = root;
    for (let k = 0; k < depth; k++) cell = cell.refs[0];
    const s = cell.beginParse();
    const halves: bigint[] = [];
    while (s.remainingBits >= 192) halves.push(s.loadUintBig(192));
    return halves;
}

/** The slope chain with the low bit of one uint192 half flipped: half `half` of the cell `depth` references below the root. */
export function withSlopeHalfFlipped(root: Cell, depth: number, half: number): Cell {
    const b = beginCell();
    if (depth === 0) {
        const halves = slopeHalves(root, 0);
        halves[half] ^= 1n;
        halves.forEach((v) => b.storeUint(v, 192));
        root.refs.forEach((r) => b.storeRef(r));
    } else {
        b.storeBits(root.bits);
        root.refs.forEach((r, k) => b.storeRef(k === 0 ? withSlopeHalfFlipped(r, depth - 1, half) : r));
    }
    return b.endCell();
}
