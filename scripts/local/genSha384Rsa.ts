/**
 * Generates the straight-line TVM assembly of contracts/lib/sha384-core.tact
 * (the SHA-512 compression function, which SHA-384 shares) and
 * contracts/lib/rsa-pss-core.tact (the exact check x*y = q*n + r, 0 <= r < n,
 * of 4096-bit numbers), after running every generated function on a BigInt
 * model of the TVM stack against a reference (Node's SHA-384 and BigInt
 * arithmetic). Run: npx ts-node scripts/local/genSha384Rsa.ts
 *
 * Code is generated on a symbolic stack: every value has a name, the
 * generator knows where each one lies and emits `sN PUSH` / `sN POP` /
 * `sN XCHG0` to reach it, so nothing is moved that does not have to be.
 */
import { createHash, randomBytes } from 'crypto';
import { writeFileSync } from 'fs';
import { join } from 'path';

type Value = bigint | { slice: Buffer; bit: number } | { cell: SimCell };
interface SimCell {
    bits: Buffer; // byte-aligned payload (every cell here holds whole bytes)
    nbits: number;
    refs: SimCell[];
}
interface Op {
    text: string;
    run: (st: Value[]) => void;
}

const INT_MAX = (1n << 256n) - 1n;
const INT_MIN = -(1n << 256n);
function checked(x: bigint): bigint {
    if (x > INT_MAX || x < INT_MIN) throw new Error('integer overflow');
    return x;
}
const int = (v: Value): bigint => {
    if (typeof v !== 'bigint') throw new Error('not an integer');
    return v;
};
const floorDiv = (a: bigint, b: bigint): bigint => {
    const q = a / b;
    return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
};
const modPow2 = (x: bigint, t: number): bigint => x & ((1n << BigInt(t)) - 1n);

/** A stack register as Fift names it (s0..s15 are words, deeper ones `i s()`). */
const reg = (d: number) => (d <= 15 ? `s${d}` : `${d} s()`);

/** A symbolic stack that emits the operations it is told to do. */
class Asm {
    readonly stack: string[];
    readonly ops: Op[] = [];
    private fresh = 0;
    constructor(inputs: string[]) {
        this.stack = [...inputs];
    }
    tmp(prefix = 't'): string {
        return `${prefix}#${this.fresh++}`;
    }
    depth(name: string): number {
        const i = this.stack.lastIndexOf(name);
        if (i < 0) throw new Error(`${name} is not on the stack`);
        return this.stack.length - 1 - i;
    }
    private emit(text: string, run: (st: Value[]) => void) {
        this.ops.push({ text, run });
    }
    // The registers of the pushes just emitted (PUSH2/PUSH3 merge up to three).
    private pushRun: number[] = [];
    /** Pushes a copy of `name` (named `as`). */
    push(name: string, as = this.tmp()): string {
        const d = this.depth(name);
        const run = this.ops.length > 0 && this.ops[this.ops.length - 1] === this.lastPush ? this.pushRun : [];
        // PUSH2 s(i), s(j) = PUSH s(i); PUSH s(j+1); PUSH3 s(i), s(j), s(k) = PUSH s(i); PUSH s(j+1); PUSH s(k+2)
        const all = [...run, d];
        const regs = all.map((dd, i) => dd - i);
        const merged = run.length > 0 && run.length < 3 && regs.every((r) => r >= 0 && r <= 15);
        const single = (dd: number) => (dd === 0 ? 'DUP' : dd === 1 ? 'OVER' : `${reg(dd)} PUSH`);
        if (merged) {
            this.ops.pop();
            const text = `${regs.map((r) => `s${r}`).join(' ')} ${all.length === 2 ? 'PUSH2' : 'PUSH3'}`;
            this.emit(text, (st) => {
                for (const dd of all) st.push(st[st.length - 1 - dd]);
            });
            this.pushRun = all;
        } else {
            this.emit(single(d), (st) => st.push(st[st.length - 1 - d]));
            this.pushRun = [d];
        }
        this.lastPush = this.ops[this.ops.length - 1];
        this.stack.push(as);
        return as;
    }
    private lastPush: Op | null = null;
    /** Pops the top into the slot of `name` (which dies); the slot takes the top's name. */
    popTo(name: string) {
        const d = this.depth(name);
        if (d === 0) throw new Error('popTo top');
        this.emit(d === 1 ? 'NIP' : `${reg(d)} POP`, (st) => {
            const v = st.pop()!;
            st[st.length - d] = v;
        });
        const top = this.stack.pop()!;
        this.stack[this.stack.length - d] = top;
    }
    /** Brings `name` to the top, swapping it with what was there. */
    toTop(name: string) {
        const d = this.depth(name);
        if (d === 0) return;
        this.emit(d === 1 ? 'SWAP' : d <= 15 ? `s${d} XCHG0` : `s0 ${reg(d)} XCHG`, (st) => {
            const n = st.length - 1;
            [st[n], st[n - d]] = [st[n - d], st[n]];
        });
        const n = this.stack.length - 1;
        [this.stack[n], this.stack[n - d]] = [this.stack[n - d], this.stack[n]];
    }
    /** An operation on the top `nIn` values with `out` results. */
    op(text: string, nIn: number, out: string[], f: (args: Value[]) => Value[]) {
        this.emit(text, (st) => {
            const args = st.splice(st.length - nIn, nIn);
            const res = f(args);
            if (res.length !== out.length) throw new Error(`${text}: arity`);
            st.push(...res);
        });
        this.stack.splice(this.stack.length - nIn, nIn);
        this.stack.push(...out);
    }
    bin(text: string, f: (a: bigint, b: bigint) => bigint, as = this.tmp()): string {
        this.op(text, 2, [as], ([a, b]) => [checked(f(int(a), int(b)))]);
        return as;
    }
    un(text: string, f: (a: bigint) => bigint, as = this.tmp()): string {
        this.op(text, 1, [as], ([a]) => [checked(f(int(a)))]);
        return as;
    }
    add = (as?: string) => this.bin('ADD', (a, b) => a + b, as);
    xor = (as?: string) => this.bin('XOR', (a, b) => a ^ b, as);
    and = (as?: string) => this.bin('AND', (a, b) => a & b, as);
    or = (as?: string) => this.bin('OR', (a, b) => a | b, as);
    rshift = (n: number, as?: string) => this.un(`${n} RSHIFT#`, (a) => a >> BigInt(n), as);
    lshift = (n: number, as?: string) => this.un(`${n} LSHIFT#`, (a) => a << BigInt(n), as);
    mask = (n: number, as?: string) => this.un(`${n} MODPOW2#`, (a) => modPow2(a, n), as);
    negate = (as?: string) => this.un('NEGATE', (a) => -a, as);
    pushInt(v: bigint, as = this.tmp()): string {
        this.emit(`${v} PUSHINT`, (st) => st.push(v));
        this.stack.push(as);
        return as;
    }
    /** Drops `count` values under the top `keep` ones. */
    dropUnder(count: number, keep: number) {
        while (count > 0) {
            const n = Math.min(count, 15);
            if (keep > 15) throw new Error('BLKDROP2 keep');
            this.emit(`${n} ${keep} BLKDROP2`, (st) => {
                st.splice(st.length - keep - n, n);
            });
            this.stack.splice(this.stack.length - keep - n, n);
            count -= n;
        }
    }
    drop(count: number) {
        while (count > 0) {
            const n = Math.min(count, 15);
            this.emit(n === 1 ? 'DROP' : `${n} BLKDROP`, (st) => st.splice(st.length - n, n));
            this.stack.splice(this.stack.length - n, n);
            count -= n;
        }
    }
    // Slices and cells.
    ldu(bits: number, as: string, rest: string) {
        this.op(`${bits} LDU`, 1, [as, rest], ([s]) => {
            const sl = s as { slice: Buffer; bit: number };
            if (sl.bit + bits > sl.slice.length * 8) throw new Error('cell underflow');
            let v = 0n;
            for (let i = 0; i < bits; i++) {
                const b = sl.bit + i;
                v = (v << 1n) | BigInt((sl.slice[b >> 3] >> (7 - (b & 7))) & 1);
            }
            return [v, { slice: sl.slice, bit: sl.bit + bits, refs: (sl as never as { refs: SimCell[] }).refs, ref: (sl as never as { ref: number }).ref } as never];
        });
    }
    ctos(as: string) {
        this.op('CTOS', 1, [as], ([c]) => {
            const cell = (c as { cell: SimCell }).cell;
            return [{ slice: cell.bits, bit: 0, refs: cell.refs, ref: 0 } as never];
        });
    }
    ldref(as: string, rest: string) {
        this.op('LDREF', 1, [as, rest], ([s]) => {
            const sl = s as never as { slice: Buffer; bit: number; refs: SimCell[]; ref: number };
            if (sl.ref >= sl.refs.length) throw new Error('cell underflow');
            return [{ cell: sl.refs[sl.ref] }, { ...sl, ref: sl.ref + 1 } as never];
        });
    }
    ends() {
        this.op('ENDS', 1, [], ([s]) => {
            const sl = s as never as { slice: Buffer; bit: number; refs: SimCell[]; ref: number };
            if (sl.bit !== sl.slice.length * 8 || sl.ref !== sl.refs.length) throw new Error('cell not empty');
            return [];
        });
    }
    throwUnless(code: number) {
        this.op(`${code} THROWIFNOT`, 1, [], ([f]) => {
            if (int(f) === 0n) throw new TvmThrow(code);
            return [];
        });
    }
    throwIf(code: number) {
        this.op(`${code} THROWIF`, 1, [], ([f]) => {
            if (int(f) !== 0n) throw new TvmThrow(code);
            return [];
        });
    }
    text(indent = '    ', width = 110): string {
        const lines: string[] = [];
        let line = '';
        for (const o of this.ops) {
            if (line.length + o.text.length + 1 > width) {
                lines.push(indent + line);
                line = '';
            }
            line = line ? `${line} ${o.text}` : o.text;
        }
        if (line) lines.push(indent + line);
        return lines.join('\n');
    }
    run(inputs: Value[]): Value[] {
        const st = [...inputs];
        for (const o of this.ops) o.run(st);
        return st;
    }
}
class TvmThrow extends Error {
    constructor(readonly code: number) {
        super(`throw ${code}`);
    }
}

// ---------------------------------------------------------------- SHA-512

const K512 = [
    '428a2f98d728ae22',
    '7137449123ef65cd',
    'b5c0fbcfec4d3b2f',
    'e9b5dba58189dbbc',
    '3956c25bf348b538',
    '59f111f1b605d019',
    '923f82a4af194f9b',
    'ab1c5ed5da6d8118',
    'd807aa98a3030242',
    '12835b0145706fbe',
    '243185be4ee4b28c',
    '550c7dc3d5ffb4e2',
    '72be5d74f27b896f',
    '80deb1fe3b1696b1',
    '9bdc06a725c71235',
    'c19bf174cf692694',
    'e49b69c19ef14ad2',
    'efbe4786384f25e3',
    '0fc19dc68b8cd5b5',
    '240ca1cc77ac9c65',
    '2de92c6f592b0275',
    '4a7484aa6ea6e483',
    '5cb0a9dcbd41fbd4',
    '76f988da831153b5',
    '983e5152ee66dfab',
    'a831c66d2db43210',
    'b00327c898fb213f',
    'bf597fc7beef0ee4',
    'c6e00bf33da88fc2',
    'd5a79147930aa725',
    '06ca6351e003826f',
    '142929670a0e6e70',
    '27b70a8546d22ffc',
    '2e1b21385c26c926',
    '4d2c6dfc5ac42aed',
    '53380d139d95b3df',
    '650a73548baf63de',
    '766a0abb3c77b2a8',
    '81c2c92e47edaee6',
    '92722c851482353b',
    'a2bfe8a14cf10364',
    'a81a664bbc423001',
    'c24b8b70d0f89791',
    'c76c51a30654be30',
    'd192e819d6ef5218',
    'd69906245565a910',
    'f40e35855771202a',
    '106aa07032bbd1b8',
    '19a4c116b8d2d0c8',
    '1e376c085141ab53',
    '2748774cdf8eeb99',
    '34b0bcb5e19b48a8',
    '391c0cb3c5c95a63',
    '4ed8aa4ae3418acb',
    '5b9cca4f7763e373',
    '682e6ff3d6b2b8a3',
    '748f82ee5defb2fc',
    '78a5636f43172f60',
    '84c87814a1f0ab72',
    '8cc702081a6439ec',
    '90befffa23631e28',
    'a4506cebde82bde9',
    'bef9a3f7b2c67915',
    'c67178f2e372532b',
    'ca273eceea26619c',
    'd186b8c721c0c207',
    'eada7dd6cde0eb1e',
    'f57d4f7fee6ed178',
    '06f067aa72176fba',
    '0a637dc5a2c898a6',
    '113f9804bef90dae',
    '1b710b35131c471b',
    '28db77f523047d84',
    '32caab7b40c72493',
    '3c9ebe0a15c9bebc',
    '431d67c49c100d4c',
    '4cc5d4becb3e42b6',
    '597f299cfc657e2a',
    '5fcb6fab3ad6faec',
    '6c44198c4a475817',
].map((h) => BigInt('0x' + h));
export const SHA384_IV = ['cbbb9d5dc1059ed8', '629a292a367cd507', '9159015a3070dd17', '152fecd8f70e5939', '67332667ffc00b31', '8eb44a8768581511', 'db0c2e0d64f98fa7', '47b5481dbefa4fa4'].map((h) =>
    BigInt('0x' + h),
);

/**
 * SHA-512's compression function. In: h0..h7 (64-bit words), then the
 * 1,024-bit block as two slices of 512 bits (a cell holds at most 1,023).
 * Out: h0'..h7'.
 *
 * Words are kept in 257-bit integers and masked lazily: additions and bitwise
 * operations only let low bits depend on low bits, so only values about to be
 * rotated must be exact. The working variables a and e, the only ones rotated
 * (Σ0, Σ1), are kept "doubled", x + x*2^64 (one MUL by 2^64 + 1, a constant
 * kept on the stack), whose right shift by n holds rotr(x, n) in its low 64
 * bits; the others need no care. Maj uses that b^c of
 * a round is a^b of the round before. Constants are pushed in two's complement
 * (signed 64-bit), which adds the same modulo 2^64 with shorter PUSHINTs.
 */
function genSha512(): Asm {
    const H = ['h0', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7'];
    const a = new Asm([...H, 'first', 'second']);
    const W: string[] = [];
    for (let t = 0; t < 16; t++) {
        const half = t < 8 ? 'first' : 'second';
        a.toTop(half);
        W.push(`w${t}`);
        a.ldu(64, `w${t}`, half);
        if (t === 7 || t === 15) a.drop(1); // only the first 512 bits of each half count
    }
    // 2^64 + 1 stays on the stack, near the top: the top x (< 2^64) becomes
    // x | x << 64 by one multiplication.
    a.pushInt((1n << 64n) + 1n, 'c');
    const dbl = () => {
        a.push('c');
        a.bin('MUL', (p, q) => p * q);
    };
    // Working variables; v[0] = a ... v[7] = h.
    const v: string[] = [];
    for (let i = 0; i < 8; i++) {
        a.push(`h${i}`, `v${i}`);
        if (i === 0 || i === 4) dbl();
        v.push(a.stack[a.stack.length - 1]);
    }
    // bc = b ^ c
    a.push(v[1]);
    a.push(v[2]);
    let bc = a.xor('bc');
    const signed = (k: bigint) => (k >= 1n << 63n ? k - (1n << 64n) : k);
    for (let t = 0; t < 80; t++) {
        let wt: string;
        if (t < 16) wt = W[t];
        else {
            // W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], into W[t-16]'s slot
            const w2 = W[t - 2];
            const w15 = W[t - 15];
            // σ1(x) = rotr19 ^ rotr61 ^ shr6 = low64(((xx ^ (xx >> 42)) >> 19)) ^ (x >> 6)
            a.push(w2);
            dbl();
            a.push(a.stack[a.stack.length - 1]);
            a.rshift(42);
            a.xor();
            a.rshift(19);
            a.push(w2);
            a.rshift(6);
            a.xor();
            // σ0(x) = rotr1 ^ rotr8 ^ shr7 = low64(((xx ^ (xx >> 7)) >> 1)) ^ (x >> 7)
            a.push(w15);
            dbl();
            a.push(a.stack[a.stack.length - 1]);
            a.rshift(7);
            a.xor();
            a.rshift(1);
            a.push(w15);
            a.rshift(7);
            a.xor();
            a.add();
            a.push(W[t - 7]);
            a.add();
            a.push(W[t - 16]);
            a.add();
            wt = a.mask(64, `w${t}`);
            a.popTo(W[t - 16]);
            W.push(wt);
        }
        const [va, vb, , vd, ve, vf, vg, vh] = v;
        // T1 = h + Σ1(e) + Ch(e, f, g) + K[t] + W[t]
        a.push(ve);
        a.rshift(14);
        a.push(ve);
        a.rshift(18);
        a.xor();
        a.push(ve);
        a.rshift(41);
        a.xor();
        a.push(vf);
        a.push(vg);
        a.xor();
        a.push(ve);
        a.and();
        a.push(vg);
        a.xor();
        a.add();
        a.push(vh);
        a.add();
        a.push(wt);
        a.add();
        a.pushInt(signed(K512[t]));
        const t1 = a.add(`T1_${t}`);
        // e' = d + T1, doubled, into d's slot
        a.push(t1);
        a.push(vd);
        a.add();
        a.mask(64);
        dbl();
        const newE = a.stack[a.stack.length - 1];
        a.popTo(vd);
        // T2 = Σ0(a) + Maj(a, b, c); Maj = b ^ ((a ^ b) & (b ^ c))
        a.push(va);
        a.rshift(28);
        a.push(va);
        a.rshift(34);
        a.xor();
        a.push(va);
        a.rshift(39);
        a.xor();
        a.push(va);
        a.push(vb);
        const ab = a.xor(`ab_${t}`);
        a.toTop(bc); // ab now sits in bc's old slot
        a.push(ab);
        a.and();
        a.push(vb);
        a.xor();
        a.add();
        a.add(); // T1 + T2
        a.mask(64);
        dbl();
        const newA = a.stack[a.stack.length - 1];
        a.popTo(vh);
        bc = ab;
        // rotate names: a' = newA, b' = a, c' = b, d' = c, e' = newE, f' = e, g' = f, h' = g
        v.splice(0, 8, newA, va, vb, v[2], newE, ve, vf, vg);
    }
    // h_i + v_i mod 2^64, pushed in order
    for (let i = 0; i < 8; i++) {
        a.push(`h${i}`);
        a.push(v[i]);
        a.add();
        a.mask(64, `o${i}`);
    }
    a.dropUnder(a.stack.length - 8, 8);
    return a;
}

function sha512CompressRef(h: bigint[], block: Buffer): bigint[] {
    const M = (1n << 64n) - 1n;
    const rotr = (x: bigint, n: bigint) => ((x >> n) | (x << (64n - n))) & M;
    const w: bigint[] = [];
    for (let t = 0; t < 16; t++) w.push(block.readBigUInt64BE(t * 8));
    for (let t = 16; t < 80; t++) {
        const s0 = rotr(w[t - 15], 1n) ^ rotr(w[t - 15], 8n) ^ (w[t - 15] >> 7n);
        const s1 = rotr(w[t - 2], 19n) ^ rotr(w[t - 2], 61n) ^ (w[t - 2] >> 6n);
        w.push((s1 + w[t - 7] + s0 + w[t - 16]) & M);
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let t = 0; t < 80; t++) {
        const S1 = rotr(e, 14n) ^ rotr(e, 18n) ^ rotr(e, 41n);
        const ch = (e & f) ^ (~e & M & g);
        const t1 = (hh + S1 + ch + K512[t] + w[t]) & M;
        const S0 = rotr(a, 28n) ^ rotr(a, 34n) ^ rotr(a, 39n);
        const maj = (a & b) ^ (a & c) ^ (b & c);
        const t2 = (S0 + maj) & M;
        [hh, g, f, e, d, c, b, a] = [g, f, e, (d + t1) & M, c, b, a, (t1 + t2) & M];
    }
    return [a, b, c, d, e, f, g, hh].map((x, i) => (x + h[i]) & M);
}

function checkSha512(asm: Asm) {
    // one block of a real SHA-384 against Node's
    for (let trial = 0; trial < 20; trial++) {
        const msg = randomBytes(trial * 5);
        const padded = Buffer.alloc(128);
        msg.copy(padded);
        padded[msg.length] = 0x80;
        padded.writeBigUInt64BE(BigInt(msg.length * 8), 120);
        const ref = sha512CompressRef(SHA384_IV, padded);
        const out = asm.run([...SHA384_IV, { slice: padded.subarray(0, 64), bit: 0 } as never, { slice: padded.subarray(64), bit: 0 } as never]).map(int);
        for (let i = 0; i < 8; i++) if (out[i] !== ref[i]) throw new Error(`sha512 word ${i} differs`);
        const digest = Buffer.concat(out.slice(0, 6).map((x) => Buffer.from(x.toString(16).padStart(16, '0'), 'hex')));
        if (!digest.equals(createHash('sha384').update(msg).digest())) throw new Error('sha384 differs');
    }
}

// ---------------------------------------------------------------- RSA

export const LIMB_BITS = 248;
export const LIMBS = 17;
const LB = BigInt(LIMB_BITS);
export const ERR_RSA_BAD_PRODUCT = 1670;
export const ERR_RSA_REMAINDER_RANGE = 1671;

export function toLimbs(x: bigint): bigint[] {
    const out: bigint[] = [];
    for (let i = 0; i < LIMBS; i++) out.push((x >> (LB * BigInt(i))) & ((1n << LB) - 1n));
    if (x >> (LB * BigInt(LIMBS)) !== 0n) throw new Error('too big for 17 limbs');
    return out;
}
/**
 * The RsaNumber cell layout: limbs 0-3 in the root with three references:
 * limbs 4-7, limbs 8-11, and limbs 12-15 with a reference to limb 16.
 */
function simNumber(x: bigint): SimCell {
    const l = toLimbs(x);
    const cellOf = (ls: bigint[], refs: SimCell[]): SimCell => {
        const hex = ls.map((v) => v.toString(16).padStart(62, '0')).join('');
        return { bits: Buffer.from(hex, 'hex'), nbits: ls.length * LIMB_BITS, refs };
    };
    const top = cellOf(l.slice(12, 16), [cellOf([l[16]], [])]);
    return cellOf(l.slice(0, 4), [cellOf(l.slice(4, 8), []), cellOf(l.slice(8, 12), []), top]);
}

/** Loads an RsaNumber cell (named `name`) as limbs `${prefix}0..16`. */
function loadNumber(a: Asm, name: string, prefix: string) {
    const cell = (c: string, first: number, count: number, refs: string[]) => {
        a.toTop(c);
        a.ctos(`${c}.s`);
        for (let j = 0; j < count; j++) a.ldu(LIMB_BITS, `${prefix}${first + j}`, `${c}.s`);
        for (const r of refs) a.ldref(r, `${c}.s`);
        a.toTop(`${c}.s`);
        a.ends();
    };
    cell(name, 0, 4, [`${name}.a`, `${name}.b`, `${name}.c`]);
    cell(`${name}.a`, 4, 4, []);
    cell(`${name}.b`, 8, 4, []);
    cell(`${name}.c`, 12, 4, [`${name}.d`]);
    cell(`${name}.d`, 16, 1, []);
}

/**
 * Throws unless x*y = q*n + r and 0 <= r < n (y = x when `square`), for
 * RsaNumber cells: x, [y,] q, r, n on the stack (n on top). Nothing is left.
 *
 * Column by column (k = 0..32) with MULADDRSHIFT#MOD, which takes the 513-bit
 * x*y + w and returns its quotient and remainder by 2^248: the running
 * remainder L (< 2^248) is the w of the next product, the quotients pile up
 * and their sum is the next column's carry. Products -q_i*n_j enter with q
 * negated (floor division keeps L in [0, 2^248)). At the end of column k, L
 * must equal r_k (0 above limb 16), and the carry out of the top must be 0:
 * then sum_k (column_k - r_k) 2^(248k) = x*y - q*n - r = 0, exactly: by
 * induction on k, sum_{j<k} (column_j - r_j) 2^(248j) = carry_k 2^(248k)
 * while every L_j = r_j, and the last carry is 0. Conversely an honest hint
 * passes, as each column's remainder is then forced. For a square the cross
 * products x_i*x_j (i < j) are taken once with 2*x_i.
 *
 * Bounds (nothing leaves 257 bits, so nothing wraps or throws for an honest
 * hint): limbs are below 2^248 (248 LDU), doubled ones below 2^249, so
 * |x_i*y_j| < 2^497; with |w| < 2^256 each quotient lies in (-2^250, 2^250);
 * a column has at most 17 + 17 products, so its carry is below
 * 34 * 2^250 < 2^256 in size; L stays in [0, 2^248). The r < n borrow chain
 * keeps values in (-2^249, 2^248).
 */
function genMulCheck(square: boolean): Asm {
    const ins = square ? ['x', 'q', 'r', 'n'] : ['x', 'y', 'q', 'r', 'n'];
    const a = new Asm(ins);
    loadNumber(a, 'n', 'n');
    loadNumber(a, 'r', 'r');
    loadNumber(a, 'q', 'q');
    for (let i = 0; i < LIMBS; i++) {
        a.toTop(`q${i}`);
        a.negate(`nq${i}`);
    }
    if (!square) loadNumber(a, 'y', 'y');
    loadNumber(a, 'x', 'x');
    if (square)
        for (let i = 0; i < LIMBS; i++) {
            a.push(`x${i}`);
            a.lshift(1, `x2_${i}`);
        }
    // 0 <= r < n: the borrow out of r - n must be -1
    a.pushInt(0n, 'borrow');
    for (let k = 0; k < LIMBS; k++) {
        a.push(`r${k}`);
        a.add();
        a.push(`n${k}`);
        a.bin('SUB', (p, q) => p - q);
        a.rshift(LIMB_BITS, 'borrow');
    }
    a.un('INC', (p) => p + 1n); // 0 exactly when the borrow was -1
    a.throwIf(ERR_RSA_REMAINDER_RANGE);
    let L: string = a.pushInt(0n, 'L');
    let hs: string[] = [];
    const mulAdd = (p: string, q: string) => {
        a.push(p);
        a.push(q);
        a.toTop(L);
        // stack ... p q L: ROT would also do, toTop emits s2 XCHG0 which swaps L with p
        const h = a.tmp('h');
        const l = a.tmp('l');
        a.op(`${LIMB_BITS} MULADDRSHIFT#MOD`, 3, [h, l], ([x, y, w]) => {
            const t = int(x) * int(y) + int(w);
            return [checked(floorDiv(t, 1n << LB)), t - floorDiv(t, 1n << LB) * (1n << LB)];
        });
        hs.push(h);
        L = l;
    };
    for (let k = 0; k <= 2 * (LIMBS - 1); k++) {
        for (let i = Math.max(0, k - LIMBS + 1); i <= Math.min(k, LIMBS - 1); i++) {
            const j = k - i;
            if (square) {
                if (i < j) mulAdd(`x2_${i}`, `x${j}`);
                else if (i === j) mulAdd(`x${i}`, `x${i}`);
            } else mulAdd(`x${i}`, `y${j}`);
        }
        for (let i = Math.max(0, k - LIMBS + 1); i <= Math.min(k, LIMBS - 1); i++) mulAdd(`nq${i}`, `n${k - i}`);
        // L must equal r_k (zero above the top limb)
        a.toTop(L);
        if (k < LIMBS) {
            a.push(`r${k}`);
            a.bin('EQUAL', (p, q) => (p === q ? -1n : 0n));
            a.throwUnless(ERR_RSA_BAD_PRODUCT);
        } else a.throwIf(ERR_RSA_BAD_PRODUCT);
        // carry = sum of the quotients, which lie on top now
        for (const h of hs) if (a.depth(h) >= hs.length) throw new Error('quotients not on top');
        for (let m = 1; m < hs.length; m++) a.add();
        L = a.stack[a.stack.length - 1];
        hs = [];
    }
    a.throwIf(ERR_RSA_BAD_PRODUCT); // carry out of the top column
    a.drop(a.stack.length);
    return a;
}

function checkMulCheck(asm: Asm, square: boolean) {
    const rnd = (bits: number) => BigInt('0x' + randomBytes(bits / 8).toString('hex'));
    const expectThrow = (inputs: Value[], code: number) => {
        try {
            asm.run(inputs);
        } catch (e) {
            if (e instanceof TvmThrow && e.code === code) return;
            throw e;
        }
        throw new Error(`expected throw ${code}`);
    };
    const nums = (...xs: bigint[]) => xs.map((x) => ({ cell: simNumber(x) }) as Value);
    for (let trial = 0; trial < 30; trial++) {
        const n = rnd(4096) | (1n << 4095n) | 1n;
        const x = trial === 0 ? n - 1n : rnd(4096) % n;
        const y = square ? x : trial === 1 ? n - 1n : rnd(4096) % n;
        const q = (x * y) / n;
        const r = (x * y) % n;
        const args = (qq: bigint, rr: bigint) => (square ? nums(x, qq, rr, n) : nums(x, y, qq, rr, n));
        const out = asm.run(args(q, r));
        if (out.length !== 0) throw new Error('stack not empty');
        expectThrow(args(q, r + n), ERR_RSA_REMAINDER_RANGE);
        if (q > 0n) expectThrow(args(q - 1n, r + n), ERR_RSA_REMAINDER_RANGE);
        expectThrow(args(q, r ^ 1n), ERR_RSA_BAD_PRODUCT);
        expectThrow(args(q ^ (1n << 4000n), r), ERR_RSA_BAD_PRODUCT);
    }
}

// ---------------------------------------------------------------- output

function main() {
    const sha = genSha512();
    checkSha512(sha);
    const shaOps = sha.ops.length;
    const shaText = `// GENERATED by scripts/local/genSha384Rsa.ts — do not edit by hand.
//
// SHA-512's compression function (SHA-384 is SHA-512 with another initial
// value, cut to 48 bytes): 80 rounds unrolled, ${shaOps} instructions. Words
// live in 257-bit integers, masked only where a rotation needs the exact
// 64-bit value; a and e are kept as x + x*2^64 so that one right shift
// gives a rotation (genSha384Rsa.ts explains the representation).

// The eight 64-bit words of a SHA-512/SHA-384 state.
struct Sha512State {
    h0: Int;
    h1: Int;
    h2: Int;
    h3: Int;
    h4: Int;
    h5: Int;
    h6: Int;
    h7: Int;
}

// The state after one more block, given as two halves of 512 bits (a cell
// holds at most 1,023): \`first\` and \`second\` must hold at least 512 bits
// each (only those are read); the words of \`state\` must be below 2^64.
asm fun sha512Compress(state: Sha512State, first: Slice, second: Slice): Sha512State {
${sha.text()}
}
`;
    writeFileSync(join(__dirname, '..', '..', 'contracts', 'lib', 'sha384-core.tact'), shaText);

    const sq = genMulCheck(true);
    checkMulCheck(sq, true);
    const mu = genMulCheck(false);
    checkMulCheck(mu, false);
    const rsaText = `// GENERATED by scripts/local/genSha384Rsa.ts — do not edit by hand.
//
// The exact check of one modular multiplication of 4096-bit numbers,
// x*y = q*n + r with 0 <= r < n, for numbers in RsaNumber cells (17 limbs of
// 248 bits, rsa-pss.tact). Column by column, with MULADDRSHIFT#MOD taking
// the 513-bit x_i*y_j + L and returning its quotient and remainder by 2^248;
// q enters negated. Column k must leave a remainder equal to r_k (0 above
// limb 16) and the top column no carry: then x*y - q*n - r = 0 exactly
// (genSha384Rsa.ts, genMulCheck, has the argument; every function here ran
// there on a model of the stack against BigInt arithmetic). A wrong product
// throws ERR_RSA_BAD_PRODUCT (${ERR_RSA_BAD_PRODUCT}); r >= n throws ERR_RSA_REMAINDER_RANGE
// (${ERR_RSA_REMAINDER_RANGE}); a cell not of the RsaNumber layout throws a cell error.
// Squares take each cross product once (${sq.ops.length} instructions against ${mu.ops.length}).

// Throws unless x*x = q*n + r and 0 <= r < n.
asm fun rsaSquareCheck(x: Cell, q: Cell, r: Cell, n: Cell) {
${sq.text()}
}

// Throws unless x*y = q*n + r and 0 <= r < n.
asm fun rsaMulCheck(x: Cell, y: Cell, q: Cell, r: Cell, n: Cell) {
${mu.text()}
}
`;
    writeFileSync(join(__dirname, '..', '..', 'contracts', 'lib', 'rsa-pss-core.tact'), rsaText);
    console.log(`sha512Compress: ${shaOps} ops; rsaSquareCheck: ${sq.ops.length}; rsaMulCheck: ${mu.ops.length}`);
}

if (require.main === module) main();
