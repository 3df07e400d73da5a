/**
 * Straight-line P-384 field code generator for TVM (Fift assembler text).
 *
 * p384 is 384 bits, beyond TVM's 257-bit integers, so a field element is a
 * pair of limbs (h, l) standing for h * 2^192 + l. Point formulas are SSA
 * programs over GF(p) (genP384.ts); `expand` turns each field operation into
 * limb operations, and `compileLimbs` turns those into stack code the way
 * p256asm.ts does for one-integer values (an operand is moved when it is its
 * last use, copied otherwise; the outputs end on top in order), reusing its
 * Emitter and its peephole pass (PUSH2/PUSH3, XCHG2, XCPU, XCPU2, XC2PU).
 *
 * A product takes two TVM instructions per limb product, each of which keeps
 * both halves of a 513-bit intermediate: MULRSHIFT#MOD 192 (x*y as
 * floor(x*y / 2^192) and x*y mod 2^192) and MULADDRSHIFT#MOD 192 (the same for
 * x*y + w). The four limb products give four 192-bit columns; the two upper
 * ones fold down with 2^384 = c (mod p), c = 2^128 + 2^96 - 2^32 + 1, in three
 * more MULADDRSHIFT#MOD by c (c sits in the frame, a 129-bit PUSHINT would
 * cost more than the product). The result has l in [0, 2^192) and
 * |h| < 2^193: congruent to the product mod p, not reduced, which the next
 * product does not need. Sums and differences work limb by limb.
 *
 * Bound tracking: each limb carries a bound on its magnitude (log2). A limb
 * product must not push TVM's quotient past 257 bits (x*y < 2^447) and a sum
 * must stay under 2^256; the tracker proves both for every emitted
 * instruction, or the generator stops. `simulate` re-runs the code on BigInts
 * (floor semantics as TVM's), and `evaluate` is the reference mod p.
 */
import { Emitter, peephole } from './p256asm';
import { P384_CURVE } from '../../helpers/weierstrassCurve';

export const P384 = P384_CURVE.p;
/** 2^384 mod p: 2^384 = p + C. */
export const C384 = (1n << 384n) - P384;
export const LIMB = 192n;
export const LIMB_MASK = (1n << LIMB) - 1n;

/** Field-level SSA ops (names are field elements; `k` a small constant). */
export type FOp =
    | { dst: string; op: 'mul'; a: string; b: string }
    | { dst: string; op: 'sqr'; a: string }
    | { dst: string; op: 'add' | 'sub'; a: string; b: string }
    | { dst: string; op: 'neg'; a: string }
    | { dst: string; op: 'red'; a: string }
    | { dst: string; op: 'mulk'; a: string; k: number };

export interface FBlock {
    /** frame names below the inputs (single stack entries, bottom first) that stay; must include 'C' */
    fixed: string[];
    /** consumable field inputs (bottom first), each two entries: h then l */
    inputs: string[];
    ops: FOp[];
    /** field outputs left on top of `fixed`, bottom first, h then l each */
    outputs: string[];
    /** bound (log2) of the inputs' limbs; outputs are checked against it too */
    inBits?: number;
    /** bound (log2) the outputs' limbs must stay under; inBits when absent */
    outBits?: number;
}

type LOp = { kind: 'mulsh' | 'maddsh' | 'split' | 'add' | 'sub' | 'neg' | 'mulc'; ins: string[]; outs: string[]; k?: number };

const MUL_IN_MAX = 223;
const SUM_MAX = 255;
const log2add = (a: number, b: number) => Math.max(a, b) + Math.log2(1 + 2 ** (Math.min(a, b) - Math.max(a, b)));

/** Expands field ops to limb ops, proving the bounds. */
export function expand(block: FBlock): { lops: LOp[]; bits: Map<string, number> } {
    const inBits = block.inBits ?? 194;
    const bits = new Map<string, number>();
    for (const f of block.fixed) bits.set(f, f === 'C' ? 129 : inBits);
    for (const i of block.inputs) {
        bits.set(`${i}.h`, inBits);
        bits.set(`${i}.l`, inBits);
    }
    const lops: LOp[] = [];
    let t = 0;
    const tmp = () => `_t${t++}`;
    const need = (n: string) => {
        const b = bits.get(n);
        if (b === undefined) throw new Error(`${n} used before it is computed`);
        return b;
    };
    for (const o of block.ops) {
        const h = `${o.dst}.h`;
        const l = `${o.dst}.l`;
        if (o.op === 'mul' || o.op === 'sqr') {
            const b = o.op === 'mul' ? o.b : o.a;
            const [a1, a0, b1, b0] = [`${o.a}.h`, `${o.a}.l`, `${b}.h`, `${b}.l`];
            for (const n of [a1, a0, b1, b0]) if (need(n) > MUL_IN_MAX) throw new Error(`${n} too large for a product (${need(n)} bits)`);
            const [h00, l00, ha, la, hb, lb, s, h11, l11, q1, r1, tt, q2, r2, q3] = Array.from({ length: 15 }, tmp);
            if (o.op === 'mul') {
                lops.push({ kind: 'mulsh', ins: [a0, b0], outs: [h00, l00] });
                lops.push({ kind: 'maddsh', ins: [a0, b1, h00], outs: [ha, la] });
                lops.push({ kind: 'maddsh', ins: [a1, b0, la], outs: [hb, lb] });
                lops.push({ kind: 'add', ins: [ha, hb], outs: [s] });
                lops.push({ kind: 'maddsh', ins: [a1, b1, s], outs: [h11, l11] });
            } else {
                const d = tmp();
                lops.push({ kind: 'mulsh', ins: [a0, a0], outs: [h00, l00] });
                lops.push({ kind: 'mulc', ins: [a0], outs: [d], k: 2 });
                lops.push({ kind: 'maddsh', ins: [d, a1, h00], outs: [ha, lb] });
                lops.push({ kind: 'maddsh', ins: [a1, a1, ha], outs: [h11, l11] });
                void hb;
                void la;
                void s;
            }
            // h11 W^3 + l11 W^2 + lb W + l00 with W^2 = c: fold l11 into the
            // low column, h11 into the middle one, and the middle's carry back
            lops.push({ kind: 'maddsh', ins: [l11, 'C', l00], outs: [q1, r1] });
            lops.push({ kind: 'add', ins: [lb, q1], outs: [tt] });
            lops.push({ kind: 'maddsh', ins: [h11, 'C', tt], outs: [q2, r2] });
            lops.push({ kind: 'maddsh', ins: [q2, 'C', r1], outs: [q3, l] });
            lops.push({ kind: 'add', ins: [r2, q3], outs: [h] });
            bits.set(l, 192);
            bits.set(h, 193);
        } else if (o.op === 'add' || o.op === 'sub') {
            for (const part of ['h', 'l']) {
                const x = `${o.a}.${part}`;
                const y = `${o.b}.${part}`;
                const r = log2add(need(x), need(y));
                if (r > SUM_MAX) throw new Error(`${o.dst} too large`);
                lops.push({ kind: o.op, ins: [x, y], outs: [`${o.dst}.${part}`] });
                bits.set(`${o.dst}.${part}`, r);
            }
        } else if (o.op === 'neg') {
            for (const part of ['h', 'l']) {
                lops.push({ kind: 'neg', ins: [`${o.a}.${part}`], outs: [`${o.dst}.${part}`] });
                bits.set(`${o.dst}.${part}`, need(`${o.a}.${part}`));
            }
        } else if (o.op === 'red') {
            // l = c1 2^192 + l0, h + c1 = c2 2^192 + h0, and c2 2^384 = c2 c
            // (mod p) folds into the low limb: l in [0, 2^192) and h in
            // [-1, 2^192] for any limbs under 2^254 (|c2 c| < 2^191, so the
            // last carry is -1, 0 or 1)
            const [c1, l0, hp, c2, h0, q3] = Array.from({ length: 6 }, tmp);
            if (need(`${o.a}.h`) > SUM_MAX - 1 || need(`${o.a}.l`) > SUM_MAX - 1) throw new Error(`${o.a} too large to reduce`);
            lops.push({ kind: 'split', ins: [`${o.a}.l`], outs: [c1, l0] });
            lops.push({ kind: 'add', ins: [`${o.a}.h`, c1], outs: [hp] });
            lops.push({ kind: 'split', ins: [hp], outs: [c2, h0] });
            lops.push({ kind: 'maddsh', ins: [c2, 'C', l0], outs: [q3, l] });
            lops.push({ kind: 'add', ins: [h0, q3], outs: [h] });
            bits.set(l, 192);
            bits.set(h, 192.01);
        } else if (o.op === 'mulk') {
            for (const part of ['h', 'l']) {
                const r = need(`${o.a}.${part}`) + Math.log2(Math.abs(o.k));
                if (r > SUM_MAX) throw new Error(`${o.dst} too large`);
                lops.push({ kind: 'mulc', ins: [`${o.a}.${part}`], outs: [`${o.dst}.${part}`], k: o.k });
                bits.set(`${o.dst}.${part}`, r);
            }
        }
    }
    for (const out of block.outputs) {
        for (const part of ['h', 'l'])
            if (need(`${out}.${part}`) > (block.outBits ?? inBits)) throw new Error(`output ${out}.${part} over ${block.outBits ?? inBits} bits (${need(`${out}.${part}`)})`);
    }
    return { lops, bits };
}

const floorDiv = (x: bigint, y: bigint) => {
    const q = x / y;
    return x % y !== 0n && x < 0n !== y < 0n ? q - 1n : q;
};
const LIMIT = 1n << 256n;
function chk(x: bigint): bigint {
    if (x >= LIMIT || x < -LIMIT) throw new Error('integer overflow');
    return x;
}
const W = 1n << LIMB;
/** TVM's x*y + w -> (floor(./2^192), . mod 2^192), with its range checks. */
function mulAddShift(x: bigint, y: bigint, w: bigint): [bigint, bigint] {
    const v = x * y + w;
    const q = floorDiv(v, W);
    return [chk(q), v - q * W];
}

type Instr = Emitter['code'][number];

/** Compiles a block of field ops to stack code: fixed + inputs (limbs) -> fixed + outputs (limbs). */
export function compileLimbs(block: FBlock, rand?: () => number): { code: Instr[]; text: string; gas: number } {
    const { lops } = expand(block);
    const inputs = block.inputs.flatMap((i) => [`${i}.h`, `${i}.l`]);
    const outs = block.outputs.flatMap((o) => [`${o}.h`, `${o}.l`]);
    const uses = new Map<string, number>();
    const use = (n: string) => uses.set(n, (uses.get(n) ?? 0) + 1);
    for (const o of lops) o.ins.forEach(use);
    outs.forEach(use);
    const fixed = new Set(block.fixed);
    const e = new Emitter([...block.fixed, ...inputs]);
    // An exchange of two entries; deep pairs go through s0 (TVM's XCHG
    // s(i),s(j) has 4-bit indices).
    const xchg = (i: number, j: number) => {
        if (i === j) return;
        if (i > j) [i, j] = [j, i];
        if (i === 0 || j <= 15) e.xchg(i, j);
        else {
            e.xchg(0, i);
            e.xchg(0, j);
            e.xchg(0, i);
        }
    };
    /** Which operands of `names` are consumed (last use, not in the frame; a repeated name is consumed once, at its last place). */
    const consumedOf = (names: string[]): boolean[] =>
        names.map((n, k) => {
            const later = names.slice(k + 1).includes(n);
            const count = names.filter((x) => x === n).length;
            return !fixed.has(n) && !later && uses.get(n) === count;
        });
    /** Moves the entry at depth d to the top. */
    const roll = (d: number) => {
        if (d === 0) return;
        const text = d === 1 ? 'SWAP' : d === 2 ? 'ROT' : d <= 16 ? `1 ${d} BLKSWAP` : `${d} PUSHINT ROLLX`;
        const bits = d <= 2 ? 8 : d <= 16 ? 16 : 24;
        e.code.push({
            text,
            bits,
            sim: (st) => {
                const [v] = st.splice(st.length - 1 - d, 1);
                st.push(v);
            },
        });
        const [n] = e.stack.splice(e.stack.length - 1 - d, 1);
        e.stack.push(n);
    };
    /**
     * Puts `names` on top in this order (top last), moving last uses and
     * copying the rest: copies pushed first and consumed ones rolled up after
     * them when the order allows, else consumed ones exchanged into place
     * first, copies pushed, and the whole permuted.
     */
    const place = (names: string[], byRoll: boolean) => {
        const consumed = consumedOf(names);
        const firstConsumed = consumed.indexOf(true);
        if (byRoll && (firstConsumed < 0 || consumed.slice(firstConsumed).every((c) => c))) {
            names.forEach((n, k) => {
                if (!consumed[k]) e.push(n);
            });
            // the original, below the copies just pushed (SSA names are on the stack once)
            names.forEach((n, k) => {
                if (consumed[k]) roll(e.stack.length - 1 - e.stack.indexOf(n));
            });
        } else {
            const idx = names.map((_, k) => k).filter((k) => consumed[k]);
            const m = idx.length;
            idx.forEach((k, t) => xchg(m - 1 - t, e.depth(names[k])));
            names.forEach((n, k) => {
                if (!consumed[k]) e.push(n);
            });
            const region = [...idx.map((k) => names[k]), ...names.filter((_, k) => !consumed[k])];
            const total = names.length;
            for (let pos = 0; pos < total; pos++) {
                if (region[pos] === names[pos]) continue;
                let from = -1;
                for (let q = pos + 1; q < total; q++) if (region[q] === names[pos]) from = q;
                xchg(total - 1 - pos, total - 1 - from);
                [region[pos], region[from]] = [region[from], region[pos]];
            }
        }
        for (const n of names) uses.set(n, uses.get(n)! - 1);
    };
    const cost = (names: string[], byRoll: boolean) => {
        const saveCode = e.code.length;
        const saveStack = [...e.stack];
        const saveUses = new Map(uses);
        place(names, byRoll);
        const c = e.code.slice(saveCode).reduce((a, i) => a + 10 + i.bits, 0);
        e.code.length = saveCode;
        e.stack = saveStack;
        uses.clear();
        saveUses.forEach((v, k) => uses.set(k, v));
        return c;
    };
    for (const o of lops) {
        const commutative = o.kind === 'mulsh' || o.kind === 'maddsh' || o.kind === 'add' || o.kind === 'sub';
        let best = { ins: o.ins, byRoll: false, swapped: false, gas: Infinity };
        for (const swapped of commutative ? [false, true] : [false]) {
            const ins = swapped ? [o.ins[1], o.ins[0], ...o.ins.slice(2)] : o.ins;
            for (const byRoll of [false, true]) {
                // a random search (compileBestLimbs) sometimes takes a locally worse choice
                const g = cost(ins, byRoll) * (rand ? 1 + 0.3 * rand() : 1);
                if (g < best.gas) best = { ins, byRoll, swapped, gas: g };
            }
        }
        const swapped = best.swapped;
        place(best.ins, best.byRoll);
        if (o.kind === 'mulsh') {
            e.raw('192 MULRSHIFT#MOD', 24, 2, o.outs, (st) => {
                const y = st.pop()!,
                    x = st.pop()!;
                st.push(...mulAddShift(x, y, 0n));
            });
        } else if (o.kind === 'maddsh') {
            e.raw('192 MULADDRSHIFT#MOD', 24, 3, o.outs, (st) => {
                const w = st.pop()!,
                    y = st.pop()!,
                    x = st.pop()!;
                st.push(...mulAddShift(x, y, w));
            });
        } else if (o.kind === 'split') {
            e.raw('192 RSHIFT#MOD', 24, 1, o.outs, (st) => st.push(...mulAddShift(st.pop()!, 1n, 0n)));
        } else if (o.kind === 'add') {
            e.raw('ADD', 8, 2, o.outs, (st) => {
                const y = st.pop()!,
                    x = st.pop()!;
                st.push(chk(x + y));
            });
        } else if (o.kind === 'sub') {
            e.raw(swapped ? 'SUBR' : 'SUB', 8, 2, o.outs, (st) => {
                const y = st.pop()!,
                    x = st.pop()!;
                st.push(chk(swapped ? y - x : x - y));
            });
        } else if (o.kind === 'neg') {
            e.raw('NEGATE', 8, 1, o.outs, (st) => st.push(chk(-st.pop()!)));
        } else {
            const k = BigInt(o.k!);
            e.raw(o.k === 2 ? '1 LSHIFT#' : `${o.k} MULCONST`, 16, 1, o.outs, (st) => st.push(chk(st.pop()! * k)));
        }
    }
    // Outputs on top in order (a name may be output twice: copy it), then drop the rest above `fixed`.
    const K = outs.length;
    for (let t = 0; t < K; t++) {
        const name = outs[K - 1 - t];
        let d = -1;
        for (let i = e.stack.length - 1 - t; i >= block.fixed.length; i--) {
            if (e.stack[i] === name) {
                d = e.stack.length - 1 - i;
                break;
            }
        }
        if (d < 0) throw new Error(`output ${name} lost`);
        xchg(t, d);
    }
    let rest = e.stack.length - block.fixed.length - K;
    while (rest > 0) {
        const r = Math.min(rest, 15);
        e.raw(`${r} ${K} BLKDROP2`, 16, 0, [], (st) => {
            st.splice(st.length - K - r, r);
        });
        e.stack.splice(e.stack.length - K - r, r);
        rest -= r;
    }
    const code = peephole(e.code);
    const gas = code.reduce((s, i) => s + 10 + i.bits, 0);
    return { code, text: code.map((i) => i.text).join(' '), gas };
}

/**
 * Compiles several dependency-respecting orders of the field ops (and random
 * tie-breaks in operand placement) and keeps the cheapest.
 */
export function compileBestLimbs(block: FBlock, tries: number, seed = 1): { code: Instr[]; text: string; gas: number; order: FOp[] } {
    let best = { ...compileLimbs(block), order: block.ops };
    let x = seed;
    const rand = () => {
        x = (x * 1103515245 + 12345) % 2147483648;
        return x / 2147483648;
    };
    // frame entries named x.h / x.l stand for the field value x
    const inputs = new Set([...block.fixed.map((f) => f.replace(/\.[hl]$/, '')), ...block.inputs]);
    for (let t = 0; t < tries; t++) {
        const left = [...block.ops];
        const ready = new Set(inputs);
        const order: FOp[] = [];
        while (left.length) {
            const can = left.filter((o) => ready.has(o.a) && (!('b' in o) || ready.has(o.b)));
            const pick = can[Math.floor(rand() * can.length)];
            order.push(pick);
            ready.add(pick.dst);
            left.splice(left.indexOf(pick), 1);
        }
        const c = compileLimbs({ ...block, ops: order }, t % 2 ? rand : undefined);
        if (c.gas < best.gas) best = { ...c, order };
    }
    return best;
}

/** Runs compiled code on a concrete stack (BigInts). */
export function simulate(code: Instr[], stack: bigint[]): bigint[] {
    const st = [...stack];
    for (const i of code) i.sim(st);
    return st;
}

export const fmod = (x: bigint, m = P384) => ((x % m) + m) % m;
/** The field value of limbs (h, l). */
export const limbValue = (h: bigint, l: bigint) => h * W + l;
/** Canonical limbs of x mod p. */
export const limbs = (x: bigint): [bigint, bigint] => {
    const v = fmod(x);
    return [v >> LIMB, v & LIMB_MASK];
};

/** Reference evaluation of a block's SSA program modulo p (values as field elements). */
export function evaluate(block: FBlock, env: Map<string, bigint>): Map<string, bigint> {
    const v = new Map(env);
    const g = (n: string) => {
        const x = v.get(n);
        if (x === undefined) throw new Error(`undefined ${n}`);
        return x;
    };
    for (const o of block.ops) {
        if (o.op === 'mul') v.set(o.dst, fmod(g(o.a) * g(o.b)));
        else if (o.op === 'sqr') v.set(o.dst, fmod(g(o.a) * g(o.a)));
        else if (o.op === 'add') v.set(o.dst, fmod(g(o.a) + g(o.b)));
        else if (o.op === 'sub') v.set(o.dst, fmod(g(o.a) - g(o.b)));
        else if (o.op === 'neg') v.set(o.dst, fmod(-g(o.a)));
        else if (o.op === 'red') v.set(o.dst, g(o.a));
        else if (o.op === 'mulk') v.set(o.dst, fmod(g(o.a) * BigInt(o.k)));
    }
    return v;
}
