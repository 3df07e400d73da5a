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
import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { C384, FBlock, FOp, LIMB, compileBestLimbs, evaluate, fmod, limbValue, simulate } from './p384asm';
import { mod as modReduce, modInv } from '../../helpers/modular';
import { P384_CURVE, pairArithmetic } from '../../helpers/weierstrassCurve';
import { P384_DOUBLINGS, P384_G192, P384_LADDER_END, P384_LADDER_START, P384_WINDOWS } from '../../helpers/p384Ladder';

const { p: P, n: N, b: B } = P384_CURVE;
const { x: GX, y: GY } = P384_CURVE.g;

const mod = (x: bigint, m = P) => modReduce(x, m);
const inv = (a: bigint, m = P) => modInv(a, m);
const { add: affAdd, mul: affMul } = pairArithmetic(P384_CURVE);

const mul = (dst: string, a: string, b: string): FOp => ({ dst, op: 'mul', a, b });
const sqr = (dst: string, a: string): FOp => ({ dst, op: 'sqr', a });
const sub = (dst: string, a: string, b: string): FOp => ({ dst, op: 'sub', a, b });
const add = (dst: string, a: string, b: string): FOp => ({ dst, op: 'add', a, b });
const mulk = (dst: string, a: string, k: number): FOp => ({ dst, op: 'mulk', a, k });

// ---- the formulas: affine, with the slope as a hint ----
// The accumulator is an affine point (x, y). Each step's slope L comes with
// the transaction (wrappers/p384Hints.ts, p384Lambdas), and the block computes
// the step from it together with the residue of the slope's defining
// equation, which the ladder demands be 0 mod p before it goes on:
//   doubling: 2 y L = 3 x^2 - 3 (the tangent; y != 0 on a curve of prime
//             order, so exactly one L mod p satisfies it);
//   addition of a table point (tx, ty): L (tx - x) = ty - y, and tx - x must
//             not be 0 mod p (else the equation would hold for every L when
//             the points are equal, and the step is refused).
// With L so fixed, x3 = L^2 - x - x', y3 = L (x - x3) - y is exactly the group
// operation, so the accumulator stays a point of the curve and every step is
// checked: a wrong slope stops the transaction, it never yields a wrong point.
// Four field products a doubling and three an addition, against nine and
// ten in projective coordinates. x3 and y3 are reduced (op 'red') so their
// limbs stay near 2^192 from step to step.

/**
 * The step from the slope lam: x3 = lam^2 - (x + x'), y3 = lam (x - x3) - y,
 * `sum` naming the op that makes x + x'; reduced (op 'red') when `reduce`.
 */
function lineStep(sum: FOp, reduce: boolean): FOp[] {
    const [x3, y3] = reduce ? ['x3u', 'y3u'] : ['x3', 'y3'];
    return [
        sqr('l2', 'lam'),
        sum,
        sub(x3, 'l2', sum.dst),
        ...(reduce ? [{ dst: 'x3', op: 'red', a: 'x3u' } as FOp] : []),
        sub('d', 'x', 'x3'),
        mul('ld', 'lam', 'd'),
        sub(y3, 'ld', 'y'),
        ...(reduce ? [{ dst: 'y3', op: 'red', a: 'y3u' } as FOp] : []),
    ];
}
/** 2P, unreduced: inputs x, y, lam; x3, y3 and r = 2 y lam - 3 x^2 (the ladder adds the 3). */
const DOUBLING: FOp[] = [sqr('x2', 'x'), mulk('m', 'x2', 3), mul('ly', 'lam', 'y'), add('ly2', 'ly', 'ly'), sub('r', 'ly2', 'm'), ...lineStep(add('xx', 'x', 'x'), false)];
/** ops with their names mapped (names not in `names` get `suffix`). */
function renamed(ops: FOp[], names: Record<string, string>, suffix: string): FOp[] {
    const r = (v: string) => names[v] ?? `${v}${suffix}`;
    return ops.map((o) => {
        const c: Record<string, unknown> = { ...o, dst: r(o.dst), a: r(o.a) };
        if ('b' in o) c.b = r(o.b);
        return c as unknown as FOp;
    });
}
/** P + T for T = (tx, ty), reduced: outputs x3, y3, dx = tx - x (must not be 0 mod p) and r = L dx - (ty - y). */
const AADD: FOp[] = [sub('dx', 'tx', 'x'), mul('ldx', 'lam', 'dx'), sub('dy', 'ty', 'y'), sub('r', 'ldx', 'dy'), ...lineStep(add('s', 'x', 'tx'), true)];
/** Limb bound of every value that crosses a block boundary (log2). */
const IN_BITS = 198;
/** Bound of the blocks' residues and differences, read only by the zero checks (which take up to 2^210). */
const STEP_OUT_BITS = 201;

// ---- the formulas on real points ----
function rnd(): bigint {
    let x = 0n;
    for (let i = 0; i < 12; i++) x = (x << 32n) | BigInt(Math.floor(Math.random() * 2 ** 32));
    return x;
}
const rndScalar = () => (rnd() % (N - 1n)) + 1n;
const dblBlock: FBlock = { fixed: ['C'], inputs: ['x', 'y', 'lam'], ops: DOUBLING, outputs: ['x3', 'y3', 'r'], inBits: IN_BITS, outBits: STEP_OUT_BITS };
const addBlock: FBlock = { fixed: ['C'], inputs: ['x', 'y', 'tx', 'ty', 'lam'], ops: AADD, outputs: ['x3', 'y3', 'dx', 'r'], inBits: IN_BITS, outBits: STEP_OUT_BITS };
for (let t = 0; t < 20; t++) {
    const a = affMul(rndScalar(), [GX, GY])!;
    const b = affMul(rndScalar(), [GX, GY])!;
    const tangent = mod(3n * (a[0] * a[0] - 1n) * inv(2n * a[1]));
    const d = evaluate(
        dblBlock,
        new Map([
            ['x', a[0]],
            ['y', a[1]],
            ['lam', tangent],
        ]),
    );
    const dbl = affAdd(a, a)!;
    if (d.get('x3') !== dbl[0] || d.get('y3') !== dbl[1] || mod(d.get('r')! + 3n) !== 0n) throw new Error('doubling wrong');
    const chord = mod((b[1] - a[1]) * inv(b[0] - a[0]));
    const s = evaluate(
        addBlock,
        new Map([
            ['x', a[0]],
            ['y', a[1]],
            ['tx', b[0]],
            ['ty', b[1]],
            ['lam', chord],
        ]),
    );
    const sum = affAdd(a, b)!;
    if (s.get('x3') !== sum[0] || s.get('y3') !== sum[1] || s.get('r') !== 0n || s.get('dx') === 0n) throw new Error('addition wrong');
    // any other slope leaves a residue
    if (
        mod(
            evaluate(
                dblBlock,
                new Map([
                    ['x', a[0]],
                    ['y', a[1]],
                    ['lam', tangent + 1n],
                ]),
            ).get('r')! + 3n,
        ) === 0n
    )
        throw new Error('doubling accepts a wrong slope');
    if (
        evaluate(
            addBlock,
            new Map([
                ['x', a[0]],
                ['y', a[1]],
                ['tx', b[0]],
                ['ty', b[1]],
                ['lam', chord + 1n],
            ]),
        ).get('r') === 0n
    )
        throw new Error('addition accepts a wrong slope');
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

/**
 * A window's four doublings as one block: inputs x, y and the slopes
 * lam1 .. lam4; outputs the point 16 P (reduced once, at the end: the limbs
 * grow by about a bit a doubling in between) and the four residues
 * r_i = 2 y_i lam_i - 3 x_i^2 (the ladder adds the 3 to each).
 */
function fourDoublings(): FBlock {
    const ops: FOp[] = [];
    let [x, y] = ['x', 'y'];
    for (let i = 1; i <= 4; i++) {
        ops.push(...renamed(DOUBLING, { x, y, lam: `lam${i}`, r: `r${i}` }, `_${i}`));
        [x, y] = [`x3_${i}`, `y3_${i}`];
    }
    ops.push({ dst: 'x4', op: 'red', a: x }, { dst: 'y4', op: 'red', a: y });
    return { fixed: ['C'], inputs: ['x', 'y', 'lam1', 'lam2', 'lam3', 'lam4'], ops, outputs: ['x4', 'y4', 'r1', 'r2', 'r3', 'r4'], inBits: IN_BITS, outBits: STEP_OUT_BITS };
}
// the formula chained four times on real points
for (let t = 0; t < 5; t++) {
    let pt = affMul(rndScalar(), [GX, GY])!;
    const env = new Map<string, bigint>([
        ['x', pt[0]],
        ['y', pt[1]],
    ]);
    for (let i = 1; i <= 4; i++) {
        env.set(`lam${i}`, mod(3n * (pt[0] * pt[0] - 1n) * inv(2n * pt[1])));
        pt = affAdd(pt, pt)!;
    }
    const v = evaluate(fourDoublings(), env);
    if (v.get('x4') !== pt[0] || v.get('y4') !== pt[1] || [1, 2, 3, 4].some((i) => mod(v.get(`r${i}`)! + 3n) !== 0n)) throw new Error('four doublings wrong');
}

// seven steps a window: each block gets a longer search
const dbl4Step = check(fourDoublings(), 'four doublings', {}, 10 * SEARCH_TRIES);
const addStep = check(addBlock, 'addition', {}, 10 * SEARCH_TRIES);
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
// The accumulator starts at S rather than at infinity (which has no affine
// form). S is hashed to the curve (try-and-increment on SHA-512 of a fixed
// tag), so nobody knows its discrete logarithm; an honest input meets an
// exceptional addition (acc = +-T) only with negligible probability, and
// the ladder refuses one (tx - x = 0 mod p) whoever brings it. The end check
// demands the accumulator equal 2^192 S, so the ladder proves the sum is O
// or fails.
// (helpers/p384Ladder.ts holds S and the ladder's other constants, which the
// slopes off chain are computed with.)
const S: [bigint, bigint] = [P384_LADDER_START.x, P384_LADDER_START.y];

// ---- the scalars and their windows ----
// 49 windows of 4 bits, most significant first, each but the first opened
// by four doublings (192 in all, so the accumulator ends at 2^192 S when the
// sum is O). Every scalar k (|k| < 2^195) enters as E = k + M, M = 8 (16^49 - 1) / 15,
// and window v stands for the digit v - 8 (-8..7; 0 skips).
const WINDOWS = P384_WINDOWS;
const DOUBLINGS = P384_DOUBLINGS;
const G192: [bigint, bigint] = [P384_G192.x, P384_G192.y];
const END: [bigint, bigint] = [P384_LADDER_END.x, P384_LADDER_END.y];

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

/**
 * [.. C .. h l] -> [.. C ..]: h 2^192 + l must be 0 mod p (zero = true) or
 * must not be (zero = false), else the transaction stops with `code`. C
 * sits at depth dC with the pair on top; limbs up to 2^210 in magnitude. As
 * p384IsZeroMod (p384.tact): fold h's upper part into l with 2^384 = C, then
 * the pair (hh, ll) with ll in [0, 2^192) is 0 mod p exactly when it is
 * (0, 0) or p's limbs (hh + 1 = 2^192, ll + C = 2^192).
 */
function zeroCheck(dC: number, zero: boolean, code: string): string {
    return [
        'SWAP 192 RSHIFT#MOD s2 XCHG0',
        `${reg(dC + 1)} PUSH SWAP 192 MULADDRSHIFT#MOD -ROT ADD`,
        '2DUP OR -ROT INC 192 PUSHPOW2 XOR SWAP',
        // z0 = hh | ll and z1 (zero exactly for p's limbs); when hh < 0 the
        // value is negative (not 0 or p) and so is z0: MIN is 0 exactly when
        // one of them is
        `${reg(dC + 1)} PUSH ADD 192 PUSHPOW2 XOR OR MIN`,
        `${code} ${zero ? 'THROWIF' : 'THROWIFNOT'}`,
    ].join(' ');
}

// The slopes: a chain of cells, three a window: [d1 d2 d3.h] [d3.l d4 G]
// [Q R], each slope two uint192 (h, l), the next window's first cell in the
// third's reference. The frame keeps the slice L of the cell being read; a
// window first moves it to its own first cell (so a transaction's chain
// starts with a cell holding only the reference to the first window's).
// Window 0 has no doublings: its cells are [] [G] [Q R]. The slope of a step
// with digit 0 is skipped unread.
/** [.. L C x y tx ty] with L's slice holding a slope: -> [.. L C x y tx ty lam]. */
const loadSlope = '1 9 BLKSWAP 192 LDU 192 LDU 11 1 BLKSWAP';
/** Moves L (at depth 5, under C x y) on by `bits`, or to its next cell. */
const skipBits = (bits: number) => `1 5 BLKSWAP ${bits} PUSHINT SDSKIPFIRST 5 1 BLKSWAP`;
const nextCell = '1 5 BLKSWAP PLDREF CTOS 5 1 BLKSWAP';
// [L C x y] -> [L C x4 y4]: the window's four slopes (its first cell and half the second), the
// doublings, then each residue (r4 on top, C under 12 entries) plus 3 must be 0 mod p
const doublings = [
    '1 5 BLKSWAP 192 LDU 192 LDU 192 LDU 192 LDU 192 LDU PLDREF CTOS 192 LDU 192 LDU 192 LDU 13 1 BLKSWAP',
    dbl4Step.text,
    ...[12, 10, 8, 6].map((dC) => `3 ADDCONST ${zeroCheck(dC, true, exitCode('ERR_P384_BAD_SLOPE'))}`),
].join('\n');
// [L C x y tx ty] -> [L C x3 y3]
const addition = `${loadSlope} ${addStep.text} ${zeroCheck(8, true, exitCode('ERR_P384_BAD_SLOPE'))} ${zeroCheck(6, false, exitCode('ERR_P384_EXCEPTIONAL'))}`;

/** An exit code of contracts/exit-codes.tact by name (asm cannot name a Tact constant). */
function exitCode(name: string): string {
    const m = new RegExp(`const ${name}: Int = (\\d+);`).exec(readFileSync(join(__dirname, '..', '..', 'contracts', 'exit-codes.tact'), 'utf8'));
    if (!m) throw new Error(`${name} is not in contracts/exit-codes.tact`);
    return m[1];
}
const lines: string[] = [];
const emit = (s: string) => lines.push(s);
// Arguments: eg eh eq er | tables (p384Tables) | L | acc (4) | from count.
// The bit position of window from, plus 4 (each window first steps it down by 4).
emit('SWAP -4 MULCONST 196 PUSHINT ADD');
// [.. tables L acc count pos] -> [.. L count pos ACC tables] (the accumulator as a tuple)
emit('4 2 BLKSWAP 4 TUPLE 1 4 BLKSWAP');
// the tables: [.. ACC TQ8 TR8] -> [.. ACC TR TQ]
emit('UNPAIR');
emit(table());
emit('SWAP');
emit(table());
// [eg eh eq er L count pos ACC TR TQ] -> [eg eh eq er TR TQ L count pos ACC]
// -> [.. TR TQ pos L count x y C] -> [.. TR TQ pos L C x y count]
emit(`4 2 BLKSWAP ROT s3 s2 XCHG SWAP 4 UNTUPLE ${int(C384)} s5 XCHG0`);
// Frame from here, bottom to top: eg eh eq er TR TQ pos L C x(2) y(2):
// table T at depth dT, window form at depth dE: (E >> pos) mod 16 indexes T.
const look = (dT: number, dE: number) => `${reg(dT)} PUSH ${reg(dE + 1)} PUSH s8 PUSH RSHIFT 4 MODPOW2# INDEXVAR`;
// the G step: the index 16 v0 + v1, then the tree's path to its leaf
const gJoint = [
    's12 PUSH s7 PUSH RSHIFT 4 MODPOW2# 4 LSHIFT# s12 PUSH s8 PUSH RSHIFT 4 MODPOW2# OR',
    `${jointTree(4, 0)} PUSHREF CTOS`,
    's1 PUSH 6 RSHIFT# PLDREFVAR CTOS s1 PUSH 4 RSHIFT# 2 MODPOW2# PLDREFVAR CTOS s1 PUSH 2 RSHIFT# 2 MODPOW2# PLDREFVAR CTOS SWAP 2 MODPOW2# PLDREFVAR CTOS',
    `DUP SEMPTY <{ DROP ${skipBits(384)} }> PUSHCONT <{ 192 LDU 192 LDU 192 LDU 192 LDU DROP ${addition} }> PUSHCONT IFELSE`,
].join('\n');
const qLook = `${nextCell} ${look(7, 10)} DUP ISNULL <{ DROP ${skipBits(384)} }> PUSHCONT <{ 4 UNTUPLE ${addition} }> PUSHCONT IFELSE`;
// the R step ends the body (the next window starts from its own cell), so a zero digit jumps out of it
const rLast = `${look(8, 9)} DUP ISNULL <{ DROP }> PUSHCONT IFJMP 4 UNTUPLE ${addition}`;
emit('<{');
emit(`s6 XCHG0 -4 ADDCONST s6 XCHG0 ${nextCell}`);
// window 0 (at bit 192) has no doublings: they would only double S
emit(`s6 PUSH ${4 * (WINDOWS - 1)} PUSHINT NEQ <{`);
emit(doublings);
emit(`}> PUSHCONT <{ ${nextCell} }> PUSHCONT IFELSE`);
emit([gJoint, qLook, rLast].join('\n'));
emit('}> PUSHCONT REPEAT');
emit('9 4 BLKDROP2');

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
const ladderGas = dbl4Step.gas + 3 * addStep.gas;
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
// multiples (checked once, p384.tact), so every step adds an affine point
// (0 skips).
// The accumulator is affine, and every step's slope comes with the
// transaction (a chain of cells, three a window: p384LadderRun) and is
// checked against its equation mod p (genP384.ts): a wrong slope stops the
// transaction with ERR_P384_BAD_SLOPE, and an addition of a point to itself
// or its negation with ERR_P384_EXCEPTIONAL. The accumulator starts at an
// offset point S and must end at 2^${DOUBLINGS} S (genP384.ts on why that is
// sound). Cost per window: four doublings ~${dbl4Step.gas} gas, three additions
// ~${addStep.gas} each (~${ladderGas} in all, the slope checks ~430 each besides),
// plus ~150 per table lookup and slope and ~1,500 for the joint G table's path.

// A point as limb pairs: the accumulator between transactions. Its limbs
// come out of a reduction (l in [0, 2^192), h within a few units of it), so
// int194 holds them.
struct P384Point {
    xh: Int as int194;
    xl: Int as int194;
    yh: Int as int194;
    yl: Int as int194;
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
// ladder on the accumulator (x, y) and returns it. eg, eh, eq, er are the
// window forms k + M (M = 8 (16^49 - 1) / 15, in [0, 16^49)) of c0, c1, a
// and b; tables (p384Tables) holds the multiples of Q and -R, Q and R on the
// curve with limbs in [0, 2^192) (not checked here). slopes: a cell whose
// first reference starts the chain of the windows' slopes, three cells a
// window ([d1 d2 d3.h] [d3.l d4 G] [Q R], each slope as uint192 h and l, the
// next window's first cell in the third's reference; window 0's cells are
// [] [G] [Q R], and a zero digit's slope is skipped unread). A slope that fails its
// equation stops with ERR_P384_BAD_SLOPE, an exceptional addition with
// ERR_P384_EXCEPTIONAL; a chain too short, with a cell underflow. Outside
// these bounds the result means nothing.
asm fun p384LadderRun(eg: Int, eh: Int, eq: Int, er: Int, tables: Builder, slopes: Slice, xh: Int, xl: Int, yh: Int, yl: Int, from: Int, count: Int): P384Point {
${lines
    .flatMap((l) => l.split('\n'))
    .map((l) => '    ' + l)
    .join('\n')}
}

// The offset point S the accumulator starts at.
asm fun p384LadderStart(): P384Point {
    ${int(hi(S[0]))} ${int(lo(S[0]))} ${int(hi(S[1]))} ${int(lo(S[1]))}
}

// Where an accepting ladder ends: 2^${DOUBLINGS} S.
asm fun p384LadderEnd(): P384Point {
    ${int(hi(END[0]))} ${int(lo(END[0]))} ${int(hi(END[1]))} ${int(lo(END[1]))}
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
