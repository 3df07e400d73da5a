/**
 * Straight-line P-256 field code generator for TVM (Fift assembler text).
 *
 * Point formulas are written as SSA programs over GF(p) (see genP256.ts);
 * `compileBlock` turns one into stack code: operands are moved (XCHG) when it
 * is their last use and copied (PUSH) otherwise, consecutive copies merge into
 * PUSH2/PUSH3, and the outputs are left on top in order. Products use MULMODR
 * (rounded: remainders in [-p/2, p/2)), so every value is "centred"; a bound
 * tracker (in units of p/2) proves no add/sub can leave TVM's 257-bit range and
 * inserts a MODR reduction where one could. A peephole pass merges copies and
 * exchanges into TVM's compound stack instructions (PUSH2/3, XCHG2, XCPU,
 * XCPU2, XC2PU). `simulate` re-runs the emitted code on BigInts to check the
 * stack bookkeeping before it reaches a contract.
 */

export type Op =
    | { dst: string; op: 'mul'; a: string; b: string }
    | { dst: string; op: 'fma'; a: string; b: string; c: string; neg: boolean } // a*b + c (or - c)
    | { dst: string; op: 'mulk'; a: string; k: number }
    | { dst: string; op: 'add' | 'sub'; a: string; b: string }
    | { dst: string; op: 'dbl' | 'ndbl'; a: string };

export interface Block {
    /**
     * names already on the stack below the inputs that must stay where they
     * are (bottom first); the ops may read them (they are copied, never consumed)
     */
    fixed: string[];
    /** consumable inputs (bottom first), directly above `fixed` */
    inputs: string[];
    ops: Op[];
    /** left on top of `fixed`, bottom first */
    outputs: string[];
    /** name of the modulus among `fixed` */
    modulus: string;
}

type Instr = { text: string; bits: number; sim: (st: bigint[]) => void };

const LIMIT = 1n << 256n;
function chk(x: bigint): bigint {
    if (x >= LIMIT || x < -LIMIT) throw new Error('integer overflow');
    return x;
}
function divR(x: bigint, z: bigint): bigint {
    // floor(x/z + 1/2), as TVM's R rounding
    const num = 2n * x + z;
    const den = 2n * z;
    let q = num / den;
    if (num % den !== 0n && num < 0n !== den < 0n) q -= 1n;
    return q;
}
export function modR(x: bigint, z: bigint): bigint {
    return x - z * divR(x, z);
}

function sIdx(i: number): string {
    // Fift's assembler names s0..s15; deeper registers are written `n s()`
    return i <= 15 ? `s${i}` : `${i} s()`;
}

export class Emitter {
    code: Instr[] = [];
    constructor(public stack: string[]) {}
    depth(name: string): number {
        const i = this.stack.lastIndexOf(name);
        if (i < 0) throw new Error(`${name} not on stack`);
        return this.stack.length - 1 - i;
    }
    private swapNames(i: number, j: number) {
        const n = this.stack.length - 1;
        const t = this.stack[n - i];
        this.stack[n - i] = this.stack[n - j];
        this.stack[n - j] = t;
    }
    push(name: string) {
        const i = this.depth(name);
        this.code.push({
            text: `${sIdx(i)} PUSH`,
            bits: i <= 15 ? 8 : 16,
            sim: (st) => st.push(st[st.length - 1 - i]),
        });
        this.stack.push(name);
    }
    xchg(i: number, j: number) {
        if (i === j) return;
        if (i > j) [i, j] = [j, i];
        const bits = i === 0 && j <= 15 ? 8 : i === 1 && j <= 15 ? 8 : i === 0 ? 16 : 16;
        this.code.push({
            text: i === 0 ? `${sIdx(j)} XCHG0` : `${sIdx(i)} ${sIdx(j)} XCHG`,
            bits,
            sim: (st) => {
                const n = st.length - 1;
                const t = st[n - i];
                st[n - i] = st[n - j];
                st[n - j] = t;
            },
        });
        this.swapNames(i, j);
    }
    raw(text: string, bits: number, pop: number, results: string[], sim: (st: bigint[]) => void) {
        this.code.push({ text, bits, sim });
        for (let k = 0; k < pop; k++) this.stack.pop();
        this.stack.push(...results);
    }
}

/** Bound of a centred value, in units of p/2; values must stay < 2^256 in magnitude, i.e. bound <= 2. */
const MAXB = 2;

/** Compiles several dependency-respecting orders of the ops and keeps the cheapest. */
export function compileBest(block: Block, tries = 3000, seed = 1): { code: Instr[]; text: string; gas: number; order: Op[] } {
    let best = { ...compileBlock(block), order: block.ops };
    let x = seed;
    const rand = () => {
        x = (x * 1103515245 + 12345) % 2147483648;
        return x / 2147483648;
    };
    for (let t = 0; t < tries; t++) {
        const left = [...block.ops];
        const ready = new Set<string>([...block.fixed, ...block.inputs]);
        const order: Op[] = [];
        while (left.length) {
            const can = left.filter((o) => [o.a, 'b' in o ? o.b : o.a, 'c' in o ? o.c : o.a].every((n) => ready.has(n)));
            const pick = can[Math.floor(rand() * can.length)];
            order.push(pick);
            ready.add(pick.dst);
            left.splice(left.indexOf(pick), 1);
        }
        const c = compileBlock({ ...block, ops: order });
        if (c.gas < best.gas) best = { ...c, order };
    }
    return best;
}

export function compileBlock(block: Block): { code: Instr[]; text: string; gas: number } {
    // Expand ops: insert reductions where a linear op could overflow.
    const bound = new Map<string, number>();
    for (const n of [...block.fixed, ...block.inputs]) bound.set(n, 1);
    const ops: (Op | { dst: string; op: 'red'; a: string })[] = [];
    let tmp = 0;
    const reduce = (a: string): string => {
        const dst = `_r${tmp++}`;
        ops.push({ dst, op: 'red', a });
        bound.set(dst, 1);
        return dst;
    };
    for (const o of block.ops) {
        if (o.op === 'mul' || o.op === 'mulk') {
            ops.push(o);
            bound.set(o.dst, 1);
        } else if (o.op === 'fma') {
            let c = o.c;
            if (bound.get(c)! > MAXB) c = reduce(c);
            ops.push({ ...o, c });
            bound.set(o.dst, 1);
        } else if (o.op === 'dbl' || o.op === 'ndbl') {
            let a = o.a;
            if (2 * bound.get(a)! > MAXB) a = reduce(a);
            ops.push({ ...o, a });
            bound.set(o.dst, 2 * bound.get(a)!);
        } else {
            const ab = o as Extract<Op, { op: 'add' | 'sub' }>;
            let a = ab.a;
            let b = ab.b;
            if (bound.get(a)! + bound.get(b)! > MAXB) {
                if (bound.get(a)! >= bound.get(b)!) a = reduce(a);
                else b = reduce(b);
            }
            if (bound.get(a)! + bound.get(b)! > MAXB) {
                if (bound.get(a)! > 1) a = reduce(a);
                if (bound.get(b)! > 1) b = reduce(b);
            }
            ops.push({ ...ab, a, b });
            bound.set(o.dst, bound.get(a)! + bound.get(b)!);
        }
    }
    for (const out of block.outputs) {
        if (bound.get(out) === undefined) throw new Error(`output ${out} never computed`);
    }
    // Outputs must be centred (bound 1) so the next block may add them freely.
    const outs = block.outputs.map((o) => (bound.get(o)! > 1 ? reduce(o) : o));

    // Remaining uses per name.
    const uses = new Map<string, number>();
    const use = (n: string) => uses.set(n, (uses.get(n) ?? 0) + 1);
    for (const o of ops) {
        if ('b' in o) use(o.b);
        if ('c' in o) use(o.c);
        use(o.a);
    }
    for (const o of outs) use(o);

    const e = new Emitter([...block.fixed, ...block.inputs]);
    const fixedSet = new Set(block.fixed);
    const P = block.modulus;
    const done = (n: string) => uses.set(n, uses.get(n)! - 1);
    let dead = 0;

    /** Brings operands to the top in some order; returns the order (top last). */
    const place = (names: string[], commutative = true): string[] => {
        // consumed: last use, not fixed, and not needed twice here
        const count = new Map<string, number>();
        for (const n of names) count.set(n, (count.get(n) ?? 0) + 1);
        const consumed: string[] = [];
        const copied: string[] = [];
        const seen = new Set<string>();
        for (const n of names) {
            const left = uses.get(n)!;
            const k = count.get(n)!;
            if (!fixedSet.has(n) && left === k && !seen.has(n)) consumed.push(n);
            else copied.push(n);
            seen.add(n);
        }
        // Commutative operands: of the two orders of the first two consumed
        // ones, take the one that needs fewer exchanges.
        if (commutative && consumed.length >= 2 && names.indexOf(consumed[1]) < 2) {
            const moves = (order: string[]) => {
                const st = [...e.stack];
                let k = 0;
                const m2 = order.length;
                for (let t = 0; t < m2; t++) {
                    const target = m2 - 1 - t;
                    const d = st.length - 1 - st.lastIndexOf(order[t]);
                    if (d !== target) {
                        k++;
                        const a = st.length - 1 - target,
                            b = st.length - 1 - d;
                        [st[a], st[b]] = [st[b], st[a]];
                    }
                }
                return k;
            };
            const swapped = [consumed[1], consumed[0], ...consumed.slice(2)];
            if (moves(swapped) < moves(consumed)) consumed.splice(0, 2, consumed[1], consumed[0]);
        }
        // move consumed ones to the top, first one deepest
        const m = consumed.length;
        for (let t = 0; t < m; t++) {
            const target = m - 1 - t;
            const d = e.depth(consumed[t]);
            // ensure not disturbing previously placed (they sit at depths > target... placed ones are at m-1..target+1)
            e.xchg(target, d);
        }
        for (const n of copied) e.push(n);
        for (const n of names) done(n);
        return [...consumed, ...copied];
    };

    for (const o of ops) {
        if (o.op === 'mul') {
            place([o.a, o.b]);
            e.push(P);
            e.raw('MULMODR', 16, 3, [o.dst], (st) => {
                const z = st.pop()!,
                    y = st.pop()!,
                    x = st.pop()!;
                st.push(modR(x * y, z));
            });
        } else if (o.op === 'mulk') {
            place([o.a]);
            e.raw(`${o.k} PUSHINT`, o.k >= -5 && o.k <= 10 ? 8 : 16, 0, [`_k`], (st) => st.push(BigInt(o.k)));
            e.push(P);
            e.raw('MULMODR', 16, 3, [o.dst], (st) => {
                const z = st.pop()!,
                    y = st.pop()!,
                    x = st.pop()!;
                st.push(modR(x * y, z));
            });
        } else if (o.op === 'red') {
            place([o.a]);
            e.push(P);
            e.raw('MODR', 16, 2, [o.dst], (st) => {
                const z = st.pop()!,
                    x = st.pop()!;
                st.push(modR(x, z));
            });
        } else if (o.op === 'dbl') {
            place([o.a]);
            e.raw('1 LSHIFT#', 16, 1, [o.dst], (st) => st.push(chk(st.pop()! * 2n)));
        } else if (o.op === 'ndbl') {
            place([o.a]);
            e.raw('-2 MULCONST', 16, 1, [o.dst], (st) => st.push(chk(st.pop()! * -2n)));
        } else if (o.op === 'add' || o.op === 'sub') {
            const order = place([o.a, o.b]);
            const swapped = order[0] !== o.a || (o.a === o.b ? false : order[1] !== o.b);
            if (o.op === 'add') {
                e.raw('ADD', 8, 2, [o.dst], (st) => {
                    const y = st.pop()!,
                        x = st.pop()!;
                    st.push(chk(x + y));
                });
            } else {
                e.raw(swapped ? 'SUBR' : 'SUB', 8, 2, [o.dst], (st) => {
                    const y = st.pop()!,
                        x = st.pop()!;
                    st.push(chk(swapped ? y - x : x - y));
                });
            }
        } else if (o.op === 'fma') {
            // x y w z -> q r ; keep r. The addend must be third from... the top before p.
            place([o.a, o.b, o.c]);
            const dc = e.depth(o.c);
            if (dc === 1) e.xchg(0, 1);
            else if (dc === 2) {
                e.raw('ROT', 8, 3, [e.stack[e.stack.length - 2], e.stack[e.stack.length - 1], e.stack[e.stack.length - 3]], (st) => {
                    const c = st.pop()!,
                        b = st.pop()!,
                        a = st.pop()!;
                    st.push(b, c, a);
                });
            }
            if (e.depth(o.c) !== 0) throw new Error('fma addend misplaced');
            if (o.neg) e.raw('NEGATE', 8, 1, [`_n`], (st) => st.push(chk(-st.pop()!)));
            e.push(P);
            // the quotient stays behind as garbage, dropped with the rest at the end
            e.raw('MULADDDIVMODR', 16, 4, [`_q${dead++}`, o.dst], (st) => {
                const z = st.pop()!,
                    w = st.pop()!,
                    y = st.pop()!,
                    x = st.pop()!;
                st.push(divR(x * y + w, z), modR(x * y + w, z));
            });
        }
    }
    // Outputs: bring to top in order, drop the rest above `fixed`.
    const K = outs.length;
    for (let t = 0; t < K; t++) {
        const name = outs[K - 1 - t];
        // find the shallowest copy at depth >= t
        let d = -1;
        for (let i = e.stack.length - 1 - t; i >= block.fixed.length; i--) {
            if (e.stack[i] === name) {
                d = e.stack.length - 1 - i;
                break;
            }
        }
        if (d < 0) throw new Error(`output ${name} lost`);
        e.xchg(t, d);
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

export function peephole(code: Instr[]): Instr[] {
    code = [...code];
    const out: Instr[] = [];
    const pushIdx = (i: Instr): number | null => {
        const m = /^s(\d+) PUSH$/.exec(i.text);
        return m ? Number(m[1]) : null;
    };
    // PUSH s(i); PUSH s0 pushes the same value as PUSH s(i); PUSH s(i+1), which merges.
    code = code.map((ins, k) => {
        const prev = k > 0 ? pushIdx(code[k - 1]) : null;
        if (prev !== null && ins.text === 's0 PUSH' && prev + 1 <= 15) {
            const i = prev + 1;
            return { text: `s${i} PUSH`, bits: 8, sim: (st: bigint[]) => st.push(st[st.length - 1 - i]) };
        }
        return ins;
    });
    // XCHG s1,s(i); XCHG s0,s(j) is XCHG2 s(i),s(j)
    const x1 = (i: Instr) => {
        const m = /^s1 s(\d+) XCHG$/.exec(i.text);
        return m ? Number(m[1]) : i.text === 's1 XCHG0' ? 0 : null;
    };
    const x0 = (i: Instr) => {
        const m = /^s(\d+) XCHG0$/.exec(i.text);
        return m ? Number(m[1]) : null;
    };
    {
        const merged: Instr[] = [];
        for (let k = 0; k < code.length; k++) {
            const a = x1(code[k]);
            const b = k + 1 < code.length ? x0(code[k + 1]) : null;
            if (a !== null && b !== null && a <= 15 && b <= 15 && a >= 1) {
                const seq = code.slice(k, k + 2);
                merged.push({ text: `s${a} s${b} XCHG2`, bits: 16, sim: (st) => seq.forEach((i) => i.sim(st)) });
                k++;
                continue;
            }
            merged.push(code[k]);
        }
        code = merged;
    }
    for (let k = 0; k < code.length; k++) {
        const a = pushIdx(code[k]);
        const b = k + 1 < code.length ? pushIdx(code[k + 1]) : null;
        const c = k + 2 < code.length ? pushIdx(code[k + 2]) : null;
        if (a !== null && b !== null && c !== null && a <= 15 && b >= 1 && b - 1 <= 15 && c >= 2 && c - 2 <= 15) {
            const seq = code.slice(k, k + 3);
            out.push({ text: `s${a} s${b - 1} s${c - 2} PUSH3`, bits: 24, sim: (st) => seq.forEach((i) => i.sim(st)) });
            k += 2;
            continue;
        }
        if (a !== null && b !== null && a <= 15 && b >= 1 && b - 1 <= 15) {
            const seq = code.slice(k, k + 2);
            out.push({ text: `s${a} s${b - 1} PUSH2`, bits: 16, sim: (st) => seq.forEach((i) => i.sim(st)) });
            k += 1;
            continue;
        }
        out.push(code[k]);
    }
    return compound(out);
}

/**
 * An exchange followed by copies as one instruction (TVM's XCPU, XCPU2,
 * XC2PU: the same effect, one opcode instead of two, 10 gas less):
 * XCHG s0,s(i); PUSH s(j) = XCPU s(i),s(j); XCHG s0,s(i); PUSH2 s(j),s(k) =
 * XCPU2 s(i),s(j),s(k); XCHG2 s(i),s(j); PUSH s(k) = XC2PU s(i),s(j),s(k).
 */
function compound(code: Instr[]): Instr[] {
    const small = (x: string) => Number(x) <= 15;
    const out: Instr[] = [];
    for (let k = 0; k < code.length; k++) {
        const a = code[k].text;
        const b = k + 1 < code.length ? code[k + 1].text : '';
        const seq = code.slice(k, k + 2);
        const sim = (st: bigint[]) => seq.forEach((i) => i.sim(st));
        const x0 = /^s(\d+) XCHG0$/.exec(a);
        const x2 = /^s(\d+) s(\d+) XCHG2$/.exec(a);
        const p1 = /^s(\d+) PUSH$/.exec(b);
        const p2 = /^s(\d+) s(\d+) PUSH2$/.exec(b);
        if (x0 && p1 && small(x0[1]) && small(p1[1])) {
            out.push({ text: `s${x0[1]} s${p1[1]} XCPU`, bits: 16, sim });
        } else if (x0 && p2 && small(x0[1]) && small(p2[1]) && small(p2[2])) {
            out.push({ text: `s${x0[1]} s${p2[1]} s${p2[2]} XCPU2`, bits: 24, sim });
        } else if (x2 && p1 && small(x2[1]) && small(x2[2]) && small(p1[1])) {
            out.push({ text: `s${x2[1]} s${x2[2]} s${p1[1]} XC2PU`, bits: 24, sim });
        } else {
            out.push(code[k]);
            continue;
        }
        k++;
    }
    return out;
}

/** Runs compiled code on a concrete stack (BigInts), for self-checks. */
export function simulate(code: Instr[], stack: bigint[]): bigint[] {
    const st = [...stack];
    for (const i of code) i.sim(st);
    return st;
}

/** Reference evaluation of a block's SSA program modulo p. */
export function evaluate(block: Block, env: Map<string, bigint>, p: bigint): Map<string, bigint> {
    const m = (x: bigint) => ((x % p) + p) % p;
    const v = new Map(env);
    const g = (n: string) => {
        const x = v.get(n);
        if (x === undefined) throw new Error(`undefined ${n}`);
        return x;
    };
    for (const o of block.ops) {
        switch (o.op) {
            case 'mul':
                v.set(o.dst, m(g(o.a) * g(o.b)));
                break;
            case 'fma':
                v.set(o.dst, m(g(o.a) * g(o.b) + (o.neg ? -g(o.c) : g(o.c))));
                break;
            case 'mulk':
                v.set(o.dst, m(g(o.a) * BigInt(o.k)));
                break;
            case 'add':
                v.set(o.dst, m(g(o.a) + g(o.b)));
                break;
            case 'sub':
                v.set(o.dst, m(g(o.a) - g(o.b)));
                break;
            case 'dbl':
                v.set(o.dst, m(2n * g(o.a)));
                break;
            case 'ndbl':
                v.set(o.dst, m(-2n * g(o.a)));
                break;
        }
    }
    return v;
}
