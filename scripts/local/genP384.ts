/**
 * Generates contracts/lib/p384-core.tact: the TVM assembly of the P-384
 * half-size-scalar ECDSA check (contracts/lib/p384.tact explains it),
 * c0*G + c1*(2^192 G) + a*Q - b*R = O, as a joint ladder over 49 windows of
 * 4 bits that can run in slices (so one verification may span transactions),
 * plus the on-curve and end checks. Field elements are limb pairs
 * (p384asm.ts). Before writing, the formulas are checked on real points and
 * every compiled block against the BigInt reference on random inputs, with
 * limbs at the edges of their bounds.
 * Run: npx ts-node scripts/local/genP384.ts
 */
import { createHash } from 'crypto';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { C384, FBlock, FOp, LIMB, compileBestLimbs, evaluate, fmod, limbValue, simulate } from './p384asm';
import { mod as modReduce, modInv } from '../../helpers/modular';
import { P384_CURVE, PointPair, pairArithmetic } from '../../helpers/weierstrassCurve';

export const { p: P, n: N, b: B } = P384_CURVE;
export const { x: GX, y: GY } = P384_CURVE.g;

const mod = (x: bigint, m = P) => modReduce(x, m);
const inv = (a: bigint, m = P) => modInv(a, m);
export const { add: affAdd, mul: affMul, neg: affNeg } = pairArithmetic(P384_CURVE);

const mul = (dst: string, a: string, b: string): FOp => ({ dst, op: 'mul', a, b });
const sqr = (dst: string, a: string): FOp => ({ dst, op: 'sqr', a });
const sub = (dst: string, a: string, b: string): FOp => ({ dst, op: 'sub', a, b });
const add = (dst: string, a: string, b: string): FOp => ({ dst, op: 'add', a, b });
const mulk = (dst: string, a: string, k: number): FOp => ({ dst, op: 'mulk', a, k });

// ---- the formulas: XYZZ coordinates ----
// (X, Y, ZZ, ZZZ) stands for (X/ZZ, Y/ZZZ) with ZZ = Z^2, ZZZ = Z^3 for some Z
// (Explicit-Formulas Database, "xyzz": dbl-2008-s-1, madd-2008-s). ZZ = ZZZ = 0 is absorbing: every formula multiplies ZZ and
// ZZZ by something, so once a step meets infinity (or the exceptional
// addition of a point to itself or its negation, which these formulas turn
// into ZZ = ZZZ = 0) everything after it stays there. (X, Y, ZZ, -ZZZ) is -P.

/** 2P (a = -3). */
const DBL: FOp[] = [
    add('U', 'Y', 'Y'),
    sqr('V', 'U'),
    mul('W', 'U', 'V'),
    mul('S', 'X', 'V'),
    sub('t1', 'X', 'ZZ'),
    add('t2', 'X', 'ZZ'),
    mul('m', 't1', 't2'),
    mulk('M', 'm', 3),
    sqr('M2', 'M'),
    add('S2', 'S', 'S'),
    sub('X3', 'M2', 'S2'),
    sub('d', 'S', 'X3'),
    mul('md', 'M', 'd'),
    mul('wy', 'W', 'Y'),
    sub('Y3', 'md', 'wy'),
    mul('ZZ3', 'V', 'ZZ'),
    mul('ZZZ3', 'W', 'ZZZ'),
];
/** P + (x, y) for an affine (x, y). */
const MADD: FOp[] = [
    mul('u2', 'x', 'ZZ'),
    mul('s2', 'y', 'ZZZ'),
    sub('P', 'u2', 'X'),
    sub('R', 's2', 'Y'),
    sqr('PP', 'P'),
    mul('PPP', 'P', 'PP'),
    mul('Q', 'X', 'PP'),
    sqr('R2', 'R'),
    add('Q2', 'Q', 'Q'),
    add('t', 'PPP', 'Q2'),
    sub('X3', 'R2', 't'),
    sub('d', 'Q', 'X3'),
    mul('rd', 'R', 'd'),
    mul('yp', 'Y', 'PPP'),
    sub('Y3', 'rd', 'yp'),
    mul('ZZ3', 'ZZ', 'PP'),
    mul('ZZZ3', 'ZZZ', 'PPP'),
];
const ACC = ['X', 'Y', 'ZZ', 'ZZZ'];
const OUT = ['X3', 'Y3', 'ZZ3', 'ZZZ3'];
/** Limb bound of every value that crosses a block boundary (log2). */
const IN_BITS = 198;
const blk = (ops: FOp[], inputs: string[], fixed: string[] = ['C'], outputs = OUT): FBlock => ({ fixed, inputs, ops, outputs, inBits: IN_BITS });

/** n copies of one formula as one block, each feeding the next. */
function chain(one: FOp[], n: number): FOp[] {
    const out: FOp[] = [];
    let cur: Record<string, string> = { X: 'X', Y: 'Y', ZZ: 'ZZ', ZZZ: 'ZZZ' };
    for (let i = 0; i < n; i++) {
        const names: Record<string, string> = { ...cur };
        if (i === n - 1) Object.assign(names, { X3: 'X3', Y3: 'Y3', ZZ3: 'ZZ3', ZZZ3: 'ZZZ3' });
        const r = (s: string) => names[s] ?? `${s}_${i}`;
        for (const o of one) {
            const c: Record<string, unknown> = { ...o, dst: r(o.dst), a: r(o.a) };
            if ('b' in o) c.b = r(o.b);
            out.push(c as unknown as FOp);
        }
        cur = { X: r('X3'), Y: r('Y3'), ZZ: r('ZZ3'), ZZZ: r('ZZZ3') };
    }
    return out;
}

// ---- the formulas on real points ----
function rnd(): bigint {
    let x = 0n;
    for (let i = 0; i < 12; i++) x = (x << 32n) | BigInt(Math.floor(Math.random() * 2 ** 32));
    return x;
}
const rndScalar = () => (rnd() % (N - 1n)) + 1n;
function xyzz(pt: [bigint, bigint], z: bigint, pre = ''): [string, bigint][] {
    return [
        [`${pre}X`, mod(pt[0] * z * z)],
        [`${pre}Y`, mod(pt[1] * z * z * z)],
        [`${pre}ZZ`, mod(z * z)],
        [`${pre}ZZZ`, mod(z * z * z)],
    ];
}
function aff(v: Map<string, bigint>): PointPair {
    if (v.get('ZZ3') === 0n) return null;
    return [mod(v.get('X3')! * inv(v.get('ZZ3')!)), mod(v.get('Y3')! * inv(v.get('ZZZ3')!))];
}
const same = (x: PointPair, y: PointPair) => (x === null ? y === null : y !== null && x[0] === y[0] && x[1] === y[1]);
for (let t = 0; t < 20; t++) {
    const a = affMul(rndScalar(), [GX, GY])!;
    const b = affMul(rndScalar(), [GX, GY])!;
    const env = new Map<string, bigint>([...xyzz(a, rnd()), ['x', b[0]], ['y', b[1]]]);
    if (!same(aff(evaluate(blk(DBL, ACC), env)), affAdd(a, a))) throw new Error('DBL wrong');
    if (!same(aff(evaluate(blk(MADD, ACC), env)), affAdd(a, b))) throw new Error('MADD wrong');
    // the exceptional additions end at ZZ = ZZZ = 0
    for (const pt of [a, affNeg(a)!]) {
        const e2 = new Map<string, bigint>([...xyzz(a, rnd()), ['x', pt[0]], ['y', pt[1]]]);
        const v = evaluate(blk(MADD, ACC), e2);
        if (v.get('ZZ3') !== 0n || v.get('ZZZ3') !== 0n) throw new Error('exceptional addition not absorbing');
    }
}

// ---- self-check of compiled blocks against the reference ----
/** A random limb pair for a field element v: the value, or v plus a multiple of p, with limbs near the bound. */
function looseLimbs(v: bigint): [bigint, bigint] {
    const W = 1n << LIMB;
    const spread = 1n << BigInt(IN_BITS - 2);
    // h*W + l = v (mod p) with l anywhere in (-spread, spread)
    const l = (rnd() % (2n * spread)) - spread;
    const rest = fmod(v - l);
    const h = rest / W;
    const l2 = l + (rest - h * W);
    return [h, l2];
}
/** Random operation orders tried per block (compileBestLimbs); P384_TRIES overrides. */
const SEARCH_TRIES = Number(process.env.P384_TRIES ?? 40);
function check(b: FBlock, name: string, extra: Record<string, bigint> = {}, tries = SEARCH_TRIES) {
    const c = compileBestLimbs(b, tries);
    for (let t = 0; t < 300; t++) {
        const env = new Map<string, bigint>();
        const st: bigint[] = [];
        for (const f of b.fixed) {
            if (f === 'C') st.push(C384);
            else if (f.endsWith('.h')) {
                const v = fmod(rnd());
                env.set(f.slice(0, -2), v);
                st.push(v >> LIMB, v & ((1n << LIMB) - 1n));
            } else if (!f.endsWith('.l')) st.push(7n);
        }
        for (const i of b.inputs) {
            const v = extra[i] ?? fmod(rnd());
            env.set(i, v);
            // canonical limbs, both limbs negated (-(p - v): how a negated y
            // enters), or loose limbs near the bound
            const neg = fmod(-v);
            const [h, l] = t % 3 === 0 ? [v >> LIMB, v & ((1n << LIMB) - 1n)] : t % 3 === 1 && extra[i] === undefined ? [-(neg >> LIMB), -(neg & ((1n << LIMB) - 1n))] : looseLimbs(v);
            st.push(h, l);
        }
        const want = evaluate(b, env);
        const got = simulate(c.code, st);
        if (got.length !== b.fixed.length + 2 * b.outputs.length) throw new Error(`${name}: stack height ${got.length}`);
        if (got.slice(0, b.fixed.length).some((v, i) => v !== st[i])) throw new Error(`${name}: frame moved`);
        b.outputs.forEach((o, k) => {
            const h = got[b.fixed.length + 2 * k];
            const l = got[b.fixed.length + 2 * k + 1];
            if (fmod(limbValue(h, l)) !== want.get(o)) throw new Error(`${name}: ${o} wrong`);
            const lim = 1n << BigInt(b.outBits ?? b.inBits ?? IN_BITS);
            if (h >= lim || h <= -lim || l >= lim || l <= -lim) throw new Error(`${name}: ${o} over its bound`);
        });
    }
    console.log(`${name}: ${c.code.length} instructions, ~${c.gas} gas`);
    return c;
}

// the mixed addition, run three times a window, gets a longer search
const dbl4 = check(blk(chain(DBL, 4), ACC), 'four doublings');
const maddStep = check(blk(MADD, [...ACC, 'x', 'y']), 'mixed add', {}, 10 * SEARCH_TRIES);
// ---- the hinted tables ----
// The multiples 2P .. 8P of Q and of -R come with the hint, affine, so every
// ladder step is a mixed addition and no transaction rebuilds a table. Each
// is checked once (p384.tact, when the verification starts) against the one
// before it: for P on the curve, P3 = P1 + P2 (P1 != +-P2, so x1 != x2) exactly
// when x3 and y3 lie on the chord: (x1 + x2 + x3)(x2 - x1)^2 = (y2 - y1)^2 and
// (y2 - y1)(x1 - x3) = (y3 + y1)(x2 - x1); P3 = 2 P1 (y1 != 0 on a curve of
// prime order) when they lie on the tangent, slope L / 2y1 with
// L = 3 (x1^2 - 1): (x3 + 2 x1)(2 y1)^2 = L^2 and L (x1 - x3) = (y3 + y1) 2 y1.
const ADD_CHECK: FOp[] = [
    sub('dx', 'x2', 'x1'),
    sub('dy', 'y2', 'y1'),
    sqr('dx2', 'dx'),
    add('s12', 'x1', 'x2'),
    add('s123', 's12', 'x3'),
    mul('t', 's123', 'dx2'),
    sqr('dy2', 'dy'),
    sub('e2', 't', 'dy2'),
    sub('m', 'x1', 'x3'),
    mul('a1', 'dy', 'm'),
    add('y31', 'y3', 'y1'),
    mul('a2', 'y31', 'dx'),
    sub('e1', 'a1', 'a2'),
];
const DBL_CHECK: FOp[] = [
    sqr('x2', 'x1'),
    sub('x2m', 'x2', 'one'),
    mulk('L', 'x2m', 3),
    add('ty', 'y1', 'y1'),
    sqr('ty2', 'ty'),
    add('x12', 'x1', 'x1'),
    add('s', 'x3', 'x12'),
    mul('e2a', 's', 'ty2'),
    sqr('L2', 'L'),
    sub('e2', 'e2a', 'L2'),
    sub('m', 'x1', 'x3'),
    mul('e1a', 'L', 'm'),
    add('y31', 'y3', 'y1'),
    mul('e1b', 'y31', 'ty'),
    sub('e1', 'e1a', 'e1b'),
];
const CHECK_BITS = IN_BITS + 3;
const addCheck = check({ fixed: ['C'], inputs: ['x1', 'y1', 'x2', 'y2', 'x3', 'y3'], ops: ADD_CHECK, outputs: ['e1', 'e2', 'dx'], inBits: IN_BITS, outBits: CHECK_BITS }, 'chord check');
const dblCheck = check({ fixed: ['C'], inputs: ['x1', 'y1', 'x3', 'y3', 'one'], ops: DBL_CHECK, outputs: ['e1', 'e2'], inBits: IN_BITS, outBits: CHECK_BITS }, 'tangent check', { one: 1n });
// the checks hold on real multiples
for (let t = 0; t < 10; t++) {
    const p1 = affMul(rndScalar(), [GX, GY])!;
    const p2 = affMul(rndScalar(), [GX, GY])!;
    const sum = affAdd(p1, p2)!;
    const dbl = affAdd(p1, p1)!;
    const ev = (ops: FOp[], env: [string, bigint][]) => evaluate({ fixed: ['C'], inputs: [], ops, outputs: [] }, new Map(env));
    const a = ev(ADD_CHECK, [
        ['x1', p1[0]],
        ['y1', p1[1]],
        ['x2', p2[0]],
        ['y2', p2[1]],
        ['x3', sum[0]],
        ['y3', sum[1]],
    ]);
    const d = ev(DBL_CHECK, [
        ['x1', p1[0]],
        ['y1', p1[1]],
        ['x3', dbl[0]],
        ['y3', dbl[1]],
        ['one', 1n],
    ]);
    if (a.get('e1') !== 0n || a.get('e2') !== 0n || d.get('e1') !== 0n || d.get('e2') !== 0n) throw new Error('table checks refuse true multiples');
    const wrong = ev(ADD_CHECK, [
        ['x1', p1[0]],
        ['y1', p1[1]],
        ['x2', p2[0]],
        ['y2', p2[1]],
        ['x3', sum[0]],
        ['y3', mod(-sum[1])],
    ]);
    if (wrong.get('e1') === 0n) throw new Error('chord check accepts a wrong y');
}

// ---- the offset point S ----
// The accumulator starts at S rather than at infinity (which the formulas
// cannot add to). S is hashed to the curve (try-and-increment on SHA-256 of
// a fixed tag), so nobody knows its discrete logarithm, and an honest input
// meets an exceptional addition (acc = +-T) only with negligible
// probability. A dishonest one gains nothing from one: the step ends in
// ZZ = ZZZ = 0 and stays there, while the end check demands the accumulator
// equal 2^192 S with ZZ != 0. So the ladder proves the sum is O or fails.
function hashToCurve(tag: string): [bigint, bigint] {
    for (let ctr = 0; ; ctr++) {
        const h = createHash('sha512').update(`${tag}/${ctr}`).digest('hex');
        const x = BigInt('0x' + h) % P;
        const y = P384_CURVE.liftX(x);
        if (y !== null) return [x, y];
    }
}
export const S = hashToCurve('cocoon-ton/p384/ladder-offset/v1');

// ---- the scalars and their windows ----
// 49 windows of 4 bits, most significant first, each but the first opened
// by four doublings (192 in all, so the accumulator ends at 2^192 S when the
// sum is O). Every scalar k (|k| < 2^195) enters as E = k + M, M = 8 (16^49 - 1) / 15,
// and window v stands for the digit v - 8 (-8..7; 0 skips).
export const WINDOWS = 49;
export const BOOTH_M = (8n * (16n ** BigInt(WINDOWS) - 1n)) / 15n;
export const G192 = affMul(1n << 192n, [GX, GY])!;
export const DOUBLINGS = 4 * (WINDOWS - 1);
export const END = affMul(1n << BigInt(DOUBLINGS), S)!;

// ---- assembly helpers ----
const int = (v: bigint) => `${v} PUSHINT`;
const hi = (v: bigint) => mod(v) >> LIMB;
const lo = (v: bigint) => mod(v) & ((1n << LIMB) - 1n);
const reg = (i: number) => (i <= 15 ? `s${i}` : `${i} s()`);

/**
 * [.. T8] -> [.. T]: T8 = [P, 2P, .., 8P] (affine 4-tuples x.h, x.l, y.h,
 * y.l), T = [-8P, .., -P, null, P, .., 7P]; the window v picks T[v], the
 * multiple v - 8. -P is (x, -y): both y limbs negated.
 */
function table(): string {
    const out: string[] = ['8 UNTUPLE'];
    // [P1 .. P8] -> [P1 .. P8 N8 .. N1]
    for (let j = 0; j < 8; j++) out.push(`${reg(2 * j)} PUSH 4 UNTUPLE NEGATE SWAP NEGATE SWAP 4 TUPLE`);
    // -> [N8 .. N1 P1 .. P7] -> [N8 .. N1 null P1 .. P7] -> [T]
    out.push('8 8 BLKSWAP DROP PUSHNULL 7 1 BLKSWAP 16 PUSHINT TUPLEVAR');
    return out.join('\n');
}
/** [.. B c] -> [.. T8]: B and the multiples 2B .. 8B read from the chain of seven cells c (x.h x.l y.h y.l, uint192 each). */
function readTable(): string {
    const out: string[] = ['CTOS'];
    for (let k = 2; k <= 8; k++) out.push(`192 LDU 192 LDU 192 LDU 192 LDU 4 1 BLKSWAP 4 TUPLE SWAP ${k < 8 ? 'PLDREF CTOS' : 'DROP'}`);
    out.push('8 TUPLE');
    return out.join(' ');
}
/**
 * The joint constant table of G and 2^192 G: for the windows v0 of c0 and
 * v1 of c1, the point (v0 - 8) G + (v1 - 8) 2^192 G, so one mixed addition
 * serves both scalars. Its 256 entries (one cell each: x.h x.l y.h y.l as
 * uint192; an empty cell for v0 = v1 = 8, nothing to add) are the leaves of
 * a tree of cells with four references each, indexed by 16 v0 + v1 two bits
 * a level, most significant first; a constant cell costs less to read than
 * its bits as PUSHINTs (which pay per bit of code), and only a path is read.
 */
function jointTree(depth: number, prefix: number): string {
    if (depth === 0) {
        const pt = affAdd(affMul(BigInt((prefix >> 4) - 8), [GX, GY]), affMul(BigInt((prefix & 15) - 8), G192));
        if (!pt) return '<b b>';
        return `<b ${[hi(pt[0]), lo(pt[0]), hi(pt[1]), lo(pt[1])].map((v) => `${v} 192 u,`).join(' ')} b>`;
    }
    return `<b ${[0, 1, 2, 3].map((i) => `${jointTree(depth - 1, prefix * 4 + i)} ref,`).join(' ')} b>`;
}

const lines: string[] = [];
const emit = (s: string) => lines.push(s);
// Arguments: eg eh eq er | tables (p384Tables) | acc (8) | from count.
// The bit position of window from, plus 4 (each window first steps it down by 4).
emit('SWAP -4 MULCONST 196 PUSHINT ADD');
// [.. tables acc count pos] -> [.. count pos ACC tables] (the accumulator as a tuple)
emit('8 2 BLKSWAP 8 TUPLE 1 3 BLKSWAP');
// the tables: [.. ACC TQ8 TR8] -> [.. ACC TR TQ C]
emit('UNPAIR');
emit(table());
emit('SWAP');
emit(table());
emit(int(C384));
// [eg eh eq er count pos ACC TR TQ C] -> [eg eh eq er TR TQ C count pos ACC]
// -> [eg eh eq er TR TQ pos C acc count]
emit('3 3 BLKSWAP s1 s3 XCHG s1 s2 XCHG 8 UNTUPLE 1 8 BLKSWAP');
// Frame from here, bottom to top: eg eh eq er TR TQ pos C X(2) Y(2) ZZ(2) ZZZ(2):
// table T at depth dT, window form at depth dE: (E >> pos) mod 16 indexes T.
const look = (dT: number, dE: number) => `${reg(dT)} PUSH ${reg(dE + 1)} PUSH ${reg(11)} PUSH RSHIFT 4 MODPOW2# INDEXVAR`;
// the G step: the index 16 v0 + v1, then the tree's path to its leaf
const gJoint = [
    's15 PUSH s10 PUSH RSHIFT 4 MODPOW2# 4 LSHIFT# s15 PUSH s11 PUSH RSHIFT 4 MODPOW2# OR',
    `${jointTree(4, 0)} PUSHREF CTOS`,
    's1 PUSH 6 RSHIFT# PLDREFVAR CTOS s1 PUSH 4 RSHIFT# 2 MODPOW2# PLDREFVAR CTOS s1 PUSH 2 RSHIFT# 2 MODPOW2# PLDREFVAR CTOS SWAP 2 MODPOW2# PLDREFVAR CTOS',
    `DUP SEMPTY <{ DROP }> PUSHCONT <{ 192 LDU 192 LDU 192 LDU 192 LDU DROP ${maddStep.text} }> PUSHCONT IFELSE`,
].join('\n');
const qLook = `${look(10, 13)} DUP ISNULL <{ DROP }> PUSHCONT <{ 4 UNTUPLE ${maddStep.text} }> PUSHCONT IFELSE`;
// the R step ends the body, so a zero digit jumps out of it
const rLast = `${look(11, 12)} DUP ISNULL <{ DROP }> PUSHCONT IFJMP 4 UNTUPLE ${maddStep.text}`;
emit('<{');
// window 0 (at bit 192) has no doublings: they would only double S
emit('s9 XCHG0 -4 ADDCONST s9 XCHG0');
emit(`s9 PUSH ${4 * (WINDOWS - 1)} PUSHINT NEQ <{`);
emit(dbl4.text);
emit('}> PUSHCONT IF');
emit([gJoint, qLook, rLast].join('\n'));
emit('}> PUSHCONT REPEAT');
emit('8 8 BLKDROP2');

// ---- the end check ----
// [acc] -> X - xE ZZ, Y - yE ZZZ, ZZ (limbs): zero, zero and non-zero mod p
// when the accumulator is 2^192 S.
const endBlock = check(
    {
        fixed: ['C'],
        inputs: [...ACC, 'ex', 'ey'],
        ops: [mul('xz', 'ex', 'ZZ'), sub('dx', 'X', 'xz'), mul('yz', 'ey', 'ZZZ'), sub('dy', 'Y', 'yz')],
        outputs: ['dx', 'dy', 'ZZ'],
        // read only by p384.tact, which takes limbs up to 2^200
        inBits: IN_BITS,
        outBits: IN_BITS + 2,
    },
    'end check',
);
const endCode = [`${int(C384)} 8 1 BLKSWAP`, `${int(hi(END[0]))} ${int(lo(END[0]))} ${int(hi(END[1]))} ${int(lo(END[1]))}`, endBlock.text, '1 6 BLKDROP2'].join(' ');

// ---- the curve equation ----
// [x y] -> y^2 - (x^3 - 3x + b) (limbs): zero mod p exactly on the curve.
const curveBlock = check(
    {
        fixed: ['C'],
        inputs: ['x', 'y', 'b'],
        ops: [sqr('x2', 'x'), mul('x3', 'x2', 'x'), mulk('x3k', 'x', 3), sub('t', 'x3', 'x3k'), add('rhs', 't', 'b'), sqr('y2', 'y'), sub('d', 'y2', 'rhs')],
        outputs: ['d'],
        inBits: IN_BITS,
        outBits: IN_BITS + 3,
    },
    'curve equation',
    { b: B },
);
const curveCode = [`${int(C384)} 4 1 BLKSWAP`, `${int(hi(B))} ${int(lo(B))}`, curveBlock.text, '1 2 BLKDROP2'].join(' ');

const addCheckCode = [`${int(C384)} 12 1 BLKSWAP`, addCheck.text, '1 6 BLKDROP2'].join(' ');
const dblCheckCode = [`${int(C384)} 8 1 BLKSWAP 0 PUSHINT 1 PUSHINT`, dblCheck.text, '1 4 BLKDROP2'].join(' ');
const ladderGas = dbl4.gas + 3 * maddStep.gas;
const out = `// GENERATED by scripts/local/genP384.ts — do not edit by hand.
//
// The ladder of the half-size-scalar ECDSA P-384 check (contracts/lib/p384.tact):
// c0*G + c1*(2^192 G) + a*Q - b*R = O, as one joint ladder over ${WINDOWS} windows of
// 4 bits, each but the first opened by four doublings. Field elements are limb pairs
// (h, l) for h * 2^192 + l, multiplied with MULRSHIFT#MOD / MULADDRSHIFT#MOD
// 192 and folded with 2^384 = 2^128 + 2^96 - 2^32 + 1 (mod p) (p384asm.ts);
// limbs stay under 2^${IN_BITS} between blocks. The G and 2^192 G steps are one,
// from a constant table of their 256 joint multiples (a tree of cells); Q and
// -R come from tables of their multiples -8..7 made from the hint's affine
// multiples (checked once, p384.tact), so every step is a mixed addition
// (0 skips).
// Coordinates are XYZZ. The accumulator starts at an offset point S and must
// end at 2^${DOUBLINGS} S (genP384.ts on why that is sound). Cost per window: four
// doublings ~${dbl4.gas} gas, three mixed additions ~${maddStep.gas} each (~${ladderGas} in all), plus
// ~150 per table lookup and ~1,500 for the joint G table's path.

// An accumulator: X, Y, ZZ, ZZZ as limb pairs.
// Limbs stay under 2^${IN_BITS} in magnitude, so int${IN_BITS + 2} holds them
// when a caller stores the accumulator between transactions.
struct P384Jacobian {
    xh: Int as int${IN_BITS + 2};
    xl: Int as int${IN_BITS + 2};
    yh: Int as int${IN_BITS + 2};
    yl: Int as int${IN_BITS + 2};
    zzh: Int as int${IN_BITS + 2};
    zzl: Int as int${IN_BITS + 2};
    zzzh: Int as int${IN_BITS + 2};
    zzzl: Int as int${IN_BITS + 2};
}

// Three field elements as limb pairs.
struct P384ThreeLimbPairs {
    ah: Int;
    al: Int;
    bh: Int;
    bl: Int;
    ch: Int;
    cl: Int;
}

// Two field elements as limb pairs.
struct P384TwoLimbPairs {
    ah: Int;
    al: Int;
    bh: Int;
    bl: Int;
}

// A field element as a limb pair.
struct P384Limbs {
    h: Int;
    l: Int;
}

// The ladder's tables as one TVM tuple: [TQ, TR], TQ the multiples
// Q, 2Q, .., 8Q and TR those of -R, affine 4-tuples (x.h, x.l, y.h, y.l); Q
// and R as limb pairs, 2.. 8 times each from a chain of seven cells
// (x.h, x.l, y.h, y.l as uint192 each, the next multiple in the first
// reference). Tact has no tuple type, and an asm function takes at most 16
// stack entries, so the tuple travels as an opaque value typed Builder:
// nothing but p384LadderRun may use it. No check here (p384.tact checks the
// multiples once, when a verification starts).
asm fun p384Tables(qxh: Int, qxl: Int, qyh: Int, qyl: Int, qMultiples: Cell, rxh: Int, rxl: Int, ryh: Int, ryl: Int, rNegMultiples: Cell): Builder {
    4 1 BLKSWAP NEGATE SWAP NEGATE SWAP 4 TUPLE SWAP ${readTable()}
    5 1 BLKSWAP 4 1 BLKSWAP 4 TUPLE SWAP ${readTable()}
    SWAP PAIR
}

// Runs windows from .. from + count - 1 (0 is the most significant) of the
// ladder on the accumulator and returns it. eg, eh, eq, er are the window
// forms k + M (M = 8 (16^49 - 1) / 15, in [0, 16^49)) of c0, c1, a and b;
// tables (p384Tables) holds the multiples of Q and -R, Q and R on the curve
// with limbs in [0, 2^192) (not checked here). Outside these bounds the
// result means nothing.
asm fun p384LadderRun(eg: Int, eh: Int, eq: Int, er: Int, tables: Builder, xh: Int, xl: Int, yh: Int, yl: Int, zzh: Int, zzl: Int, zzzh: Int, zzzl: Int, from: Int, count: Int): P384Jacobian {
${lines
    .flatMap((l) => l.split('\n'))
    .map((l) => '    ' + l)
    .join('\n')}
}

// The offset point S the accumulator starts at (ZZ = ZZZ = 1).
asm fun p384LadderStart(): P384Jacobian {
    ${int(hi(S[0]))} ${int(lo(S[0]))} ${int(hi(S[1]))} ${int(lo(S[1]))} 0 PUSHINT 1 PUSHINT 0 PUSHINT 1 PUSHINT
}

// X - xE ZZ, Y - yE ZZZ and ZZ for the accumulator, E = 2^${DOUBLINGS} S.
asm fun p384EndDiff(xh: Int, xl: Int, yh: Int, yl: Int, zzh: Int, zzl: Int, zzzh: Int, zzzl: Int): P384ThreeLimbPairs {
    ${endCode}
}

// For P3 = P1 + P2 (P1 != +-P2): (y2 - y1)(x1 - x3) - (y3 + y1)(x2 - x1),
// (x1 + x2 + x3)(x2 - x1)^2 - (y2 - y1)^2 and x2 - x1 as limb pairs (genP384.ts:
// the first two are 0 mod p and the third is not exactly when P3 = P1 + P2,
// for P1, P2 on the curve). Limbs under 2^${IN_BITS} in, under 2^${CHECK_BITS} out.
asm fun p384ChordCheck(x1h: Int, x1l: Int, y1h: Int, y1l: Int, x2h: Int, x2l: Int, y2h: Int, y2l: Int, x3h: Int, x3l: Int, y3h: Int, y3l: Int): P384ThreeLimbPairs {
    ${addCheckCode}
}

// For P3 = 2 P1, L = 3 (x1^2 - 1): L (x1 - x3) - (y3 + y1) 2 y1 and
// (x3 + 2 x1)(2 y1)^2 - L^2 as limb pairs, both 0 mod p exactly when
// P3 = 2 P1, for P1 on the curve.
asm fun p384TangentCheck(x1h: Int, x1l: Int, y1h: Int, y1l: Int, x3h: Int, x3l: Int, y3h: Int, y3l: Int): P384TwoLimbPairs {
    ${dblCheckCode}
}

// y^2 - (x^3 - 3x + b) for limb pairs x, y (any limbs under 2^${IN_BITS}).
asm fun p384CurveDiff(xh: Int, xl: Int, yh: Int, yl: Int): P384Limbs {
    ${curveCode}
}
`;
const target = process.env.P384_CORE_OUT ?? join(__dirname, '..', '..', 'contracts', 'lib', 'p384-core.tact');
writeFileSync(target, out);
console.log(`wrote ${target}`);
