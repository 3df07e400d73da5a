/**
 * Generates contracts/lib/p256-core.tact: the TVM assembly that checks
 * c0*G + c1*(2^128 G) + a*Q - b*R = O on P-256 (the half-size-scalar ECDSA
 * check; contracts/lib/p256.tact explains it), from the SSA formulas below,
 * after checking the formulas on real points and each compiled block against
 * a BigInt evaluation. Run: npx ts-node scripts/local/genP256.ts
 */
import { createHash } from 'crypto';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { Block, Op, compileBest, evaluate, modR, simulate } from './p256asm';
import { mod as modReduce, modInv } from '../../helpers/modular';
import { P256_CURVE, PointPair, pairArithmetic } from '../../helpers/weierstrassCurve';

export const { p: P, n: N, b: B } = P256_CURVE;
export const { x: GX, y: GY } = P256_CURVE.g;

const mod = (x: bigint, m = P) => modReduce(x, m);
const inv = (a: bigint, m = P) => modInv(a, m);
export const { add: affAdd, mul: affMul, neg: affNeg } = pairArithmetic(P256_CURVE);

const mul = (dst: string, a: string, b: string): Op => ({ dst, op: 'mul', a, b });
const fma = (dst: string, a: string, b: string, c: string): Op => ({ dst, op: 'fma', a, b, c, neg: false });
const fms = (dst: string, a: string, b: string, c: string): Op => ({ dst, op: 'fma', a, b, c, neg: true });
const sub = (dst: string, a: string, b: string): Op => ({ dst, op: 'sub', a, b });
const add = (dst: string, a: string, b: string): Op => ({ dst, op: 'add', a, b });
const dbl = (dst: string, a: string): Op => ({ dst, op: 'dbl', a });
const ndbl = (dst: string, a: string): Op => ({ dst, op: 'ndbl', a });
const mulk = (dst: string, a: string, k: number): Op => ({ dst, op: 'mulk', a, k });

// ---- the formulas: XYZZ coordinates ----
// (X, Y, ZZ, ZZZ) stands for the affine point (X/ZZ, Y/ZZZ), with ZZ = Z^2 and
// ZZZ = Z^3 for some Z (Bernstein and Lange's Explicit-Formulas Database,
// "xyzz": dbl-2008-s-1, madd-2008-s, add-2008-s). An addition needs no Z
// powers of its own, and ZZ = ZZZ = 0 is absorbing: every formula multiplies
// ZZ and ZZZ by something, so once a step meets infinity (including the
// exceptional case of adding a point to itself, which these formulas turn
// into ZZ = ZZZ = 0) everything after it stays there.
//
// Most formulas return the NEGATED result, -(P op T), which saves the NEGATE
// that the textbook forms need for one of their subtractions; (X, Y, ZZ, -ZZZ)
// is also -P, so negating a point costs one NEGATE when it is needed. The
// ladder keeps track of the sign (see the window below).

/**
 * -2P (a = -3): M = 3(X - ZZ)(X + ZZ), X3 = M^2 - 2S, -Y3 = M(X3 - S) + W Y.
 * `three`: the name of a frame entry holding 3, which merges into a compound
 * stack op where a PUSHINT could not.
 */
function nd(three?: string): Op[] {
    return [
        dbl('U', 'Y'),
        mul('V', 'U', 'U'),
        mul('W', 'U', 'V'),
        mul('S', 'X', 'V'),
        sub('t1', 'X', 'ZZ'),
        add('t2', 'X', 'ZZ'),
        mul('m', 't1', 't2'),
        three ? mul('M', 'm', three) : mulk('M', 'm', 3),
        ndbl('nS2', 'S'),
        fma('X3', 'M', 'M', 'nS2'),
        sub('d', 'X3', 'S'),
        mul('wy', 'W', 'Y'),
        fma('Y3', 'M', 'd', 'wy'),
        mul('ZZ3', 'V', 'ZZ'),
        mul('ZZZ3', 'W', 'ZZZ'),
    ];
}
const ND = nd();
/** The addition of an affine (x, y); `negated`: -(P + T) with no NEGATE, else P + T. */
function madd(negated: boolean): Op[] {
    return [
        mul('u2', 'x', 'ZZ'),
        mul('s2', 'y', 'ZZZ'),
        sub('P', 'u2', 'X'),
        sub('R', 's2', 'Y'),
        mul('PP', 'P', 'P'),
        mul('PPP', 'P', 'PP'),
        mul('Q', 'X', 'PP'),
        ndbl('nQ2', 'Q'),
        sub('nt', 'nQ2', 'PPP'),
        fma('X3', 'R', 'R', 'nt'),
        negated ? sub('d', 'X3', 'Q') : sub('d', 'Q', 'X3'),
        mul('yp', 'Y', 'PPP'),
        negated ? fma('Y3', 'R', 'd', 'yp') : fms('Y3', 'R', 'd', 'yp'),
        mul('ZZ3', 'ZZ', 'PP'),
        mul('ZZZ3', 'ZZZ', 'PPP'),
    ];
}
/** The addition of an XYZZ (x, y, zz, zzz); `negated` as for madd. */
function fadd(negated: boolean): Op[] {
    return [
        mul('u1', 'X', 'zz'),
        mul('u2', 'x', 'ZZ'),
        mul('s1', 'Y', 'zzz'),
        mul('s2', 'y', 'ZZZ'),
        sub('P', 'u2', 'u1'),
        sub('R', 's2', 's1'),
        mul('PP', 'P', 'P'),
        mul('PPP', 'P', 'PP'),
        mul('Q', 'u1', 'PP'),
        ndbl('nQ2', 'Q'),
        sub('nt', 'nQ2', 'PPP'),
        fma('X3', 'R', 'R', 'nt'),
        negated ? sub('d', 'X3', 'Q') : sub('d', 'Q', 'X3'),
        mul('yp', 's1', 'PPP'),
        negated ? fma('Y3', 'R', 'd', 'yp') : fms('Y3', 'R', 'd', 'yp'),
        mul('z1', 'ZZ', 'zz'),
        mul('ZZ3', 'z1', 'PP'),
        mul('z3', 'ZZZ', 'zzz'),
        mul('ZZZ3', 'z3', 'PPP'),
    ];
}

const ACC = ['X', 'Y', 'ZZ', 'ZZZ'];
const OUT = ['X3', 'Y3', 'ZZ3', 'ZZZ3'];
function block(ops: Op[], inputs: string[], below: number | string[], under: string[] = []): Block {
    // `below`: the entries between p and the inputs (a count, or names the
    // formulas may read); `under`: named entries under p the formulas read
    const names = typeof below === 'number' ? Array.from({ length: below }, (_, i) => `_f${i}`) : below;
    return { fixed: [...under, 'p', ...names], inputs, ops, outputs: OUT, modulus: 'p' };
}

// ---- the formulas on real points (affine reference) ----
function rnd(): bigint {
    let x = 0n;
    for (let i = 0; i < 8; i++) x = (x << 32n) | BigInt(Math.floor(Math.random() * 2 ** 32));
    return mod(x);
}
function xyzz(pt: [bigint, bigint], z: bigint, pre = ''): Map<string, bigint> {
    return new Map([
        [`${pre}X`, mod(pt[0] * z * z)],
        [`${pre}Y`, mod(pt[1] * z * z * z)],
        [`${pre}ZZ`, mod(z * z)],
        [`${pre}ZZZ`, mod(z * z * z)],
    ]);
}
function aff(v: Map<string, bigint>): [bigint, bigint] {
    return [mod(v.get('X3')! * inv(v.get('ZZ3')!)), mod(v.get('Y3')! * inv(v.get('ZZZ3')!))];
}
const eq = (x: PointPair, y: PointPair, what: string) => {
    if (!x || !y || x[0] !== y[0] || x[1] !== y[1]) throw new Error(`formula ${what} wrong`);
};
for (let t = 0; t < 20; t++) {
    const a = affMul((rnd() % (N - 1n)) + 1n, [GX, GY])!;
    const b = affMul((rnd() % (N - 1n)) + 1n, [GX, GY])!;
    const env = xyzz(a, rnd());
    eq(aff(evaluate(block(ND, ACC, 0), env, P)), affNeg(affAdd(a, a)), 'ND');
    env.set('x', b[0]).set('y', b[1]);
    eq(aff(evaluate(block(madd(true), [], 0), env, P)), affNeg(affAdd(a, b)), 'NA');
    eq(aff(evaluate(block(madd(false), [], 0), env, P)), affAdd(a, b), 'A');
    const zb = rnd();
    env.set('x', mod(b[0] * zb * zb))
        .set('y', mod(b[1] * zb * zb * zb))
        .set('zz', mod(zb * zb))
        .set('zzz', mod(zb * zb * zb));
    eq(aff(evaluate(block(fadd(true), [], 0), env, P)), affNeg(affAdd(a, b)), 'NF');
    eq(aff(evaluate(block(fadd(false), [], 0), env, P)), affAdd(a, b), 'F');
    // adding a point to itself or to its negation ends in ZZ = ZZZ = 0
    env.set('x', a[0]).set('y', a[1]);
    const same = evaluate(block(madd(true), [], 0), env, P);
    env.set('y', mod(-a[1]));
    const opposite = evaluate(block(madd(true), [], 0), env, P);
    for (const v of [same, opposite]) if (v.get('ZZ3') !== 0n || v.get('ZZZ3') !== 0n) throw new Error('exceptional addition not absorbing');
}

// ---- self-check of compiled blocks against the SSA evaluation ----
function check(b: Block, name: string, tries: number) {
    const c = compileBest(b, tries);
    for (let t = 0; t < 200; t++) {
        const env = new Map<string, bigint>();
        const st: bigint[] = [];
        for (const f of b.fixed) {
            const v = f === 'p' ? P : f === 'k3' ? 3n : f.startsWith('_f') ? 7n : modR(rnd(), P);
            env.set(f, v);
            st.push(v);
        }
        for (const i of b.inputs) {
            const v = modR(rnd(), P);
            env.set(i, v);
            st.push(v);
        }
        const want = evaluate(b, env, P);
        const got = simulate(c.code, st);
        if (got.length !== b.fixed.length + b.outputs.length) throw new Error(`${name}: stack height ${got.length}`);
        if (got.slice(0, b.fixed.length).some((v, i) => v !== st[i])) throw new Error(`${name}: frame moved`);
        b.outputs.forEach((o, k) => {
            const g = got[b.fixed.length + k];
            if (mod(g) !== want.get(o)) throw new Error(`${name}: ${o} wrong`);
            if (g > P / 2n || g < -P / 2n - 1n) throw new Error(`${name}: ${o} not centred`);
        });
    }
    console.log(`${name}: ${c.code.length} instructions, ~${c.gas} gas`);
    return c;
}

/** n copies of one formula as one block, each feeding the next (frame entries keep their names). */
function chain(one: Op[], n: number, frame: string[] = []): Op[] {
    const out: Op[] = [];
    let cur: Record<string, string> = { X: 'X', Y: 'Y', ZZ: 'ZZ', ZZZ: 'ZZZ' };
    for (let i = 0; i < n; i++) {
        const names: Record<string, string> = { ...cur, ...Object.fromEntries(frame.map((f) => [f, f])) };
        if (i === n - 1) Object.assign(names, { X3: 'X3', Y3: 'Y3', ZZ3: 'ZZ3', ZZZ3: 'ZZZ3' });
        const r = (s: string) => names[s] ?? `${s}_${i}`;
        for (const o of one) {
            const c: Record<string, unknown> = { ...o, dst: r(o.dst), a: r(o.a) };
            if ('b' in o) c.b = r(o.b);
            if ('c' in o) c.c = r(o.c);
            out.push(c as unknown as Op);
        }
        cur = { X: r('X3'), Y: r('Y3'), ZZ: r('ZZ3'), ZZZ: r('ZZZ3') };
    }
    return out;
}

// ---- the offset point S ----
// The accumulator starts at S rather than at infinity (which these formulas
// cannot add to). S is hashed to the curve (try-and-increment on SHA-256 of a
// fixed tag), so nobody knows its discrete logarithm, and an honest input
// meets an exceptional addition (acc = +-T) only with negligible probability.
// A dishonest one gains nothing from one: the step ends in ZZ = ZZZ = 0 and
// stays there, while the final check demands the accumulator equal 2^125 S
// with ZZ != 0. So the ladder proves c0 G + c1 G' + a Q - b R = O or fails.
function hashToCurve(tag: string): [bigint, bigint] {
    for (let ctr = 0; ; ctr++) {
        const h = createHash('sha256').update(`${tag}/${ctr}`).digest('hex');
        const x = BigInt('0x' + h) % P;
        const y = P256_CURVE.liftX(x);
        if (y !== null) return [x, y];
    }
}
const S = hashToCurve('cocoon-ton/p256/ladder-offset/v1');

// ---- the scalars and their windows ----
// 26 windows of 5 bits, most significant first: 25 * 5 = 125 doublings.
// c0 and c1 (odd, |c| < 2^129) use odd digits: E = (c + 2^130 - 1) / 2 and
// window e stands for the digit 2e - 31 (-31..31, never 0, so no branch).
// a and b (|a|, |b| <= 2^128) use signed digits: E = k + M with
// M = 16 (32^26 - 1) / 31 and window v stands for v - 16 (-16..15; 0 skips).
const WINDOWS = 26;
const DOUBLINGS = 5 * (WINDOWS - 1);
const M1 = (32n ** BigInt(WINDOWS) - 1n) / 31n;
const BOOTH_M = 16n * M1;
const ODD_K = 31n * M1; // 2^130 - 1
const G128 = affMul(1n << 128n, [GX, GY])!;

// ---- assembly helpers ----
const reg = (i: number) => (i <= 15 ? `s${i}` : `${i} s()`);
const push = (i: number) => `${reg(i)} PUSH`;
const int = (v: bigint) => `${v} PUSHINT`;
const centred = (v: bigint) => int(modR(v, P));

// The sign schedule of one window: five negated doublings (sigma: the
// accumulator holds sigma times the true sum; +1 -> -1), then the G step
// (negated madd, -1 -> +1), the 2^128 G step (negated madd, +1 -> -1), the Q
// step (negated full add, -1 -> +1; a skipped digit negates ZZZ instead) and
// the R step (plain full add, +1 stays). A negated step adds sigma times the
// digit's multiple, so each table holds its point with the sign its step
// needs: -G, +2^128 G, -Q and (for -b R) -R, and the windows need no NEGATE
// besides the plain R step's one.
const dbl5 = check(block(chain(compileBest(block(nd('k3'), ACC, 0, ['k3']), 20000).order, 5, ['k3']), ACC, 0, ['k3']), 'five negated doublings', 0);
const gStep = check(block(madd(true), [...ACC, 'x', 'y'], 0), 'negated mixed add', 20000);
const qStep = check(block(fadd(true), [...ACC, 'x', 'y', 'zz', 'zzz'], 0), 'negated full add', 20000);
const rStep = check(block(fadd(false), [...ACC, 'x', 'y', 'zz', 'zzz'], 0), 'full add', 20000);

const lines: string[] = [];
const emit = (s: string) => lines.push(s);

// Arguments: c0 c1 a b qx qy rx ry (ry on top). The scalars become their
// window forms in place (each brought to the top and back).
emit(`s7 XCHG0 ${int(ODD_K)} ADD 1 RSHIFT# s7 XCHG0`);
emit(`s6 XCHG0 ${int(ODD_K)} ADD 1 RSHIFT# s6 XCHG0`);
emit(`s5 XCHG0 ${int(BOOTH_M)} ADD s5 XCHG0`);
emit(`s4 XCHG0 ${int(BOOTH_M)} ADD s4 XCHG0`);

/**
 * [.. p x y] -> [.. p T]: T = [-16P, .., -P, null, P, .., 15P] for the point
 * P = (x, y) (centred), entries (X, Y, ZZ, ZZZ) tuples; the digit v - 16 of a
 * window v is T[v].
 */
function table(): string {
    const out: string[] = [];
    // Each multiple is kept as a tuple below p, x and y, so the formulas find
    // them near the top: [.. t p x y acc] -> [.. t t' p x y acc'].
    const keep = '4 TUPLE DUP 4 1 BLKSWAP 4 UNTUPLE';
    // k = 1: (x, y, 1, 1)
    out.push(`s1 s0 PUSH2 1 PUSHINT 1 PUSHINT ${keep}`);
    // k = 2: a negated doubling, then -(-2P) by ZZZ
    out.push(`${check(block(ND, ACC, ['x', 'y']), 'table doubling', 3000).text} NEGATE ${keep}`);
    // k = 3..15: + P
    const plus = check(block(madd(false), ACC, ['x', 'y']), 'table mixed add', 10000).text;
    for (let k = 3; k <= 15; k++) out.push(`${plus} ${keep}`);
    // k = 16, then [t1 .. t15 p x y t16] -> [p t1 .. t16]
    out.push(`${plus} 4 TUPLE 3 1 BLKSWAP 2DROP 16 1 BLKSWAP`);
    // the negatives n16 .. n1 from copies (-P is (X, Y, ZZ, -ZZZ))
    for (let j = 0; j < 16; j++) out.push(`${push(2 * j)} 4 UNTUPLE NEGATE 4 TUPLE`);
    // [p t1 .. t16 n16 .. n1] -> [p n16 .. n1 null t1 .. t15] -> [p T]
    out.push('16 16 BLKSWAP DROP PUSHNULL 15 1 BLKSWAP 32 PUSHINT TUPLEVAR');
    return out.join('\n');
}

// R's table, of -R: [.. qx qy rx ry p rx' ry'] with rx' = rx, ry' = -ry centred.
emit(`${int(P)} s2 s0 PUSH2 MODR s2 PUSH NEGATE s2 PUSH MODR 2 3 BLKDROP2`);
emit(table());
// Q's table, of -Q: [.. qx qy p TR] -> [.. TR p qx' qy'].
emit('s3 s1 PUSH2 MODR s3 PUSH NEGATE s3 PUSH MODR s2 s3 XCHG 2 4 BLKDROP2');
emit(table());
// [EG EH EQ ER TR p TQ] -> [.. TR TQ TG TH pos 3 p]
emit('SWAP');
/** The constant table of odd multiples: T[e] = (sign (2e - 31)) base, affine centred pairs. */
function oddTable(base: [bigint, bigint], sign: bigint): string {
    const out: string[] = [];
    // e = 0..15 as constants, e = 16..31 as the negations of e = 15..0 (copied from below)
    for (let e = 0; e < 16; e++) {
        const pt = affMul(sign * BigInt(2 * e - 31), base)!;
        out.push(`${centred(pt[0])} ${centred(pt[1])} PAIR`);
    }
    for (let e = 16; e < 32; e++) out.push(`${push(2 * e - 32)} UNPAIR NEGATE PAIR`);
    out.push('32 PUSHINT TUPLEVAR');
    return out.join('\n');
}
emit(oddTable([GX, GY], -1n));
emit('SWAP');
emit(oddTable(G128, 1n));
emit(`SWAP ${DOUBLINGS} PUSHINT 3 PUSHINT ROT`);
// The accumulator, -S (sigma = -1, as after a window's doublings).
emit(`${centred(S[0])} ${centred(-S[1])} 1 PUSHINT 1 PUSHINT`);

// Frame from here, bottom to top: EG EH EQ ER TR TQ TG TH pos 3 p X Y ZZ ZZZ.
// A step's window: E >> pos, mod 32, as the index into its table.
const look = (t: number, e: number) => `${reg(t)} ${reg(e)} s6 PUSH3 RSHIFT 5 MODPOW2# INDEXVAR`;
const gLook = `${look(8, 14)} UNPAIR ${gStep.text}`;
const hLook = `${look(7, 13)} UNPAIR ${gStep.text}`;
const qLook = `${look(9, 12)} DUP ISNULL <{ DROP NEGATE }> PUSHCONT <{ 4 UNTUPLE ${qStep.text} }> PUSHCONT IFELSE`;
const rLook = `${look(10, 11)} DUP ISNULL <{ DROP }> PUSHCONT <{ 4 UNTUPLE ${rStep.text} }> PUSHCONT IFELSE`;
// In the loop the R step ends the body, so a skipped digit can jump out of it.
const rLast = `${look(10, 11)} DUP ISNULL <{ DROP }> PUSHCONT IFJMP 4 UNTUPLE ${rStep.text}`;
// The first window has no doublings; then 25 windows of five doublings each.
emit([gLook, hLook, qLook, rLook].join('\n'));
emit(`${WINDOWS - 1} PUSHINT <{`);
emit('s6 XCHG0 -5 ADDCONST s6 XCHG0');
emit(dbl5.text);
emit([gLook, hLook, qLook, rLast].join('\n'));
emit('}> PUSHCONT REPEAT');
// The accumulator (sigma = +1) must be 2^125 S: Y = yE ZZZ, X = xE ZZ, ZZ != 0.
// Both sides are centred (MULMODR), so congruent means equal.
const end = affMul(1n << BigInt(DOUBLINGS), S)!;
emit(`${centred(end[1])} s5 PUSH MULMODR ROT EQUAL`);
emit(`s1 PUSH ${centred(end[0])} s5 PUSH MULMODR s3 PUSH EQUAL AND`);
emit('SWAP 0 NEQINT AND');
emit('12 1 BLKDROP2');

// ---- the on-curve check ----
// [x y] -> x, y in [0, p) and y^2 = x^3 - 3x + b (mod p).
const onCurve = [
    `${int(P)}`,
    // [x y p] -> y^2 mod p
    's1 s1 s0 PUSH3 MULMOD',
    // x (x^2 - 3) + b mod p (MULADDDIVMOD leaves the quotient below)
    's3 s3 s1 PUSH3 MULMOD -3 ADDCONST s4 PUSH',
    `${int(B)} s4 PUSH MULADDDIVMOD NIP`,
    // [x y p y2 rhs]: equal, and 0 <= x, y < p
    'EQUAL s3 s1 PUSH2 LESS AND s2 s1 PUSH2 LESS AND',
    's3 PUSH -1 GTINT AND s2 PUSH -1 GTINT AND 3 1 BLKDROP2',
].join(' ');

const out = `// GENERATED by scripts/local/genP256.ts — do not edit by hand.
//
// The ladder of the half-size-scalar ECDSA check (contracts/lib/p256.tact):
// c0*G + c1*(2^128 G) + a*Q - b*R = O, as one joint ladder over 26 windows of
// 5 bits (125 doublings). G and 2^128 G come from constant tables of odd
// multiples (odd digits, never 0); Q and R from tables of their multiples
// -16..15 built here (signed digits; 0 skips). Coordinates are XYZZ with
// field values centred in [-p/2, p/2) by MULMODR / MULADDDIVMODR, which take
// the 513-bit product of two 257-bit integers. The accumulator starts at an
// offset point S and must end at 2^125 S (see genP256.ts on why that is
// sound). Cost per window: five doublings ~${dbl5.gas} gas, G steps ~${gStep.gas} each,
// the Q step ~${qStep.gas}, the R step ~${rStep.gas}, plus ~130 per table lookup.

// Whether c0*G + c1*(2^128 G) + a*Q - b*R is the point at infinity, for
// Q = (qx, qy) and R = (rx, ry) on the curve with coordinates in [0, p)
// (not checked here), odd c0 and c1 with |c0|, |c1| < 2^129, and
// |a|, |b| <= 2^128. Outside these bounds the result means nothing. True is
// always right; false is also the answer where the ladder meets a step it
// cannot compute, which takes a relation to the offset point S.
asm fun p256LadderIsZero(c0: Int, c1: Int, a: Int, b: Int, qx: Int, qy: Int, rx: Int, ry: Int): Bool {
${lines
    .flatMap((l) => l.split('\n'))
    .map((l) => '    ' + l)
    .join('\n')}
}

// Whether (x, y) is a point of P-256: both in [0, p) and y^2 = x^3 - 3x + b.
// The point at infinity has no affine encoding; (0, 0), its usual stand-in,
// is not on the curve.
asm fun p256OnCurve(x: Int, y: Int): Bool {
    ${onCurve}
}
`;
const target = process.env.P256_CORE_OUT ?? join(__dirname, '..', '..', 'contracts', 'lib', 'p256-core.tact');
writeFileSync(target, out);
console.log(`wrote ${target}`);
