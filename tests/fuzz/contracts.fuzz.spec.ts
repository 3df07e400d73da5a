import '@ton/test-utils';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Address, BitString, Builder, Cell, Transaction, beginCell, toNano } from '@ton/core';
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import fc from 'fast-check';
import { EscrowFixture, deployEscrow, openChannel } from '../helpers/channel';
import { StakingFixture, attest, deployStaking, stake } from '../helpers/staking';
import { VerifierFixture, deployVerifier, fixtureImageHash, intelPolicy } from '../helpers/attestation';
import { keyPairFromSeed } from '@ton/crypto';
import { storeCooperativeClose } from '../../build/PaymentChannel/PaymentChannel_PaymentChannel';
import { ExtendedPaymentChannel, storeClaim } from '../../wrappers/PaymentChannel';
import { signCloseApproval, signVoucher } from '../../wrappers/voucher';
import { params } from './arbitraries';
import { Opcode } from '../../wrappers/opcodes';

jest.setTimeout(600_000);

/**
 * Random messages to every contract on @ton/sandbox: random opcodes,
 * known opcodes with random (type-shaped, from the compiled ABI) or
 * truncated payloads, from random senders with random values. Property:
 * without a valid authorised message the account's data cell does not
 * change, and a refused message costs its sender no more than the fees
 * (the value bounces back); the contract keeps nothing of it.
 */

type AbiType = { kind: string; type?: string; optional?: boolean; format?: number | string };
interface AbiStruct {
    name: string;
    header: number | null;
    fields: Array<{ name: string; type: AbiType }>;
}
interface Abi {
    types: AbiStruct[];
    receivers: Array<{ receiver: string; message: { kind: string; type?: string } }>;
}

function loadAbi(dir: string, name: string): Abi {
    return JSON.parse(readFileSync(join(__dirname, '..', '..', 'build', dir, `${dir}_${name}.abi`), 'utf8'));
}

interface Target {
    name: string;
    blockchain: Blockchain;
    address: Address;
    abi: Abi;
    /** Opcodes anyone may send (a random payload could, in principle, be a valid message). */
    permissionless: number[];
    /** Senders with rights on this contract (used only with bodies that cannot be valid). */
    authorised: Array<SandboxContract<TreasuryContract>>;
    strangers: Array<SandboxContract<TreasuryContract>>;
    /** Addresses a random address field draws from (so that payloads name real parties). */
    parties: Address[];
}

type Gen = fc.GeneratorValue;

/** Enough value to pay for a compute phase and a bounce. */
const BOUNCEABLE = toNano('0.01');

/** A random cell: random bits, up to two random refs. */
function randomCell(g: Gen, depth = 0, maxBits = 1023): Cell {
    const b = beginCell();
    const bits = g(() => fc.nat({ max: maxBits }));
    const bytes = Buffer.from(g(() => fc.uint8Array({ minLength: Math.ceil(bits / 8), maxLength: Math.ceil(bits / 8) })));
    b.storeBits(new BitString(bytes, 0, bits));
    const refs = depth >= 2 ? 0 : g(() => fc.nat({ max: 2 }));
    for (let i = 0; i < refs; i++) b.storeRef(randomCell(g, depth + 1));
    return b.endCell();
}

function randomUint(g: Gen, bits: number): bigint {
    const max = (1n << BigInt(bits)) - 1n;
    return g(() => fc.oneof(fc.constant(0n), fc.constant(1n), fc.constant(max), fc.bigInt({ min: 0n, max })));
}

/** Writes a random value of ABI type `t` (a field or a whole struct). Throws when the builder overflows. */
function storeRandom(g: Gen, b: Builder, t: AbiType, types: Map<string, AbiStruct>, target: Target, depth: number) {
    if (t.optional) {
        const present = g(() => fc.boolean());
        b.storeBit(present);
        if (!present) return;
        if (t.kind === 'simple' && (t.type === 'cell' || t.type === 'string' || types.has(t.type ?? ''))) {
            // Optional cells and structs travel as a reference.
            const inner = beginCell();
            storeRandom(g, inner, { ...t, optional: false }, types, target, depth + 1);
            b.storeRef(inner.endCell());
            return;
        }
    }
    if (t.kind === 'dict') {
        const present = g(() => fc.boolean());
        b.storeBit(present);
        if (present) b.storeRef(randomCell(g));
        return;
    }
    switch (t.type) {
        case 'uint':
            if (t.format === 'coins') b.storeCoins(g(() => fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: toNano('100') }), fc.bigInt({ min: 0n, max: (1n << 120n) - 1n }))));
            else b.storeUint(randomUint(g, Number(t.format ?? 256)), Number(t.format ?? 256));
            return;
        case 'int': {
            const bits = Number(t.format ?? 257);
            const half = 1n << BigInt(bits - 1);
            b.storeInt(
                g(() => fc.oneof(fc.constant(0n), fc.constant(-1n), fc.constant(half - 1n), fc.constant(-half), fc.bigInt({ min: -half, max: half - 1n }))),
                bits,
            );
            return;
        }
        case 'bool':
            b.storeBit(g(() => fc.boolean()));
            return;
        case 'address':
            b.storeAddress(
                g(() =>
                    fc.oneof(
                        fc.constantFrom(...target.parties),
                        fc.uint8Array({ minLength: 32, maxLength: 32 }).map((h) => new Address(0, Buffer.from(h))),
                        fc.uint8Array({ minLength: 32, maxLength: 32 }).map((h) => new Address(-1, Buffer.from(h))),
                    ),
                ),
            );
            return;
        case 'fixed-bytes':
            b.storeBuffer(Buffer.from(g(() => fc.uint8Array({ minLength: Number(t.format), maxLength: Number(t.format) }))));
            return;
        case 'cell':
            b.storeRef(randomCell(g));
            return;
        case 'slice':
            if (t.format === 'remainder') {
                const n = Math.min(
                    b.availableBits,
                    g(() => fc.nat({ max: 1023 })),
                );
                b.storeUint(0, 0);
                for (let i = 0; i < n; i++) b.storeBit(g(() => fc.boolean()));
            } else b.storeRef(randomCell(g));
            return;
        case 'string':
            b.storeRef(
                beginCell()
                    .storeStringTail(g(() => fc.string({ maxLength: 100 })))
                    .endCell(),
            );
            return;
        default: {
            const s = types.get(t.type ?? '');
            if (!s || depth > 3) throw new Error(`unsupported ABI type ${JSON.stringify(t)}`);
            for (const field of s.fields) storeRandom(g, b, field.type, types, target, depth + 1);
        }
    }
}

/** A body for a known message: its opcode and a random, type-shaped payload (cut off wherever the cell is full). */
function knownBody(g: Gen, target: Target, msg: AbiStruct): Cell {
    const types = new Map(target.abi.types.map((t) => [t.name, t]));
    const b = beginCell().storeUint(msg.header!, 32);
    try {
        for (const field of msg.fields) storeRandom(g, b, field.type, types, target, 0);
    } catch {
        /* The cell is full: a message cut short is random input too. */
    }
    // A write that overflowed may leave a bit or two past a cell's 1023 (the builder's buffer is 1024 bits):
    // keep the first 1023, still a message cut short.
    if (b.bits > 1023) {
        const raw = b as unknown as { _bits: { build(): BitString }; _refs: Cell[] };
        const cut = beginCell().storeBits(raw._bits.build().substring(0, 1023));
        for (const r of raw._refs) cut.storeRef(r);
        return cut.endCell();
    }
    return b.endCell();
}

/** Cuts a cell to its first `bits` bits and `refs` references. */
function truncate(c: Cell, bits: number, refs: number): Cell {
    const s = c.beginParse();
    const b = beginCell().storeBits(s.loadBits(Math.min(bits, s.remainingBits)));
    for (let i = 0; i < Math.min(refs, s.remainingRefs); i++) b.storeRef(s.loadRef());
    return b.endCell();
}

async function account(bc: Blockchain, a: Address) {
    const c = await bc.getContract(a);
    const st = c.accountState;
    return { balance: c.balance, data: st?.type === 'active' ? st.state.data?.hash().toString('hex') : `(${st?.type})`, code: st?.type === 'active' ? st.state.code?.hash().toString('hex') : '' };
}

function feesOf(txs: Transaction[]): bigint {
    let fees = 0n;
    for (const tx of txs) {
        fees += tx.totalFees.coins;
        for (const m of tx.outMessages.values()) if (m.info.type === 'internal') fees += m.info.forwardFee + m.info.ihrFee;
    }
    return fees;
}

interface Findings {
    accepted: Map<string, number>;
}

/** Sends one message and checks the property; what a stranger got accepted is counted in `findings`. */
async function probe(t: Target, sender: SandboxContract<TreasuryContract>, body: Cell | undefined, value: bigint, findings: Findings): Promise<void> {
    const bc = t.blockchain;
    const before = await account(bc, t.address);
    const senderBefore = (await bc.getContract(sender.address)).balance;
    const r = await sender.send({ to: t.address, value, body, bounce: true });
    const after = await account(bc, t.address);
    const senderAfter = (await bc.getContract(sender.address)).balance;
    const tx = r.transactions.find((x) => x.inMessage?.info.type === 'internal' && x.inMessage.info.dest.equals(t.address) && x.inMessage.info.src.equals(sender.address));
    const d = tx?.description;
    const accepted = d?.type === 'generic' && !d.aborted && d.computePhase.type === 'vm' && d.computePhase.success;
    const s = body?.beginParse();
    const op = s && s.remainingBits >= 32 ? s.preloadUint(32) : undefined;
    expect(after.code).toBe(before.code);
    if (!accepted) {
        // Refused: nothing changed, nothing kept, everything but the fees back with the sender.
        expect(after.data).toBe(before.data);
        if (value >= BOUNCEABLE) {
            expect(after.balance).toBeLessThanOrEqual(before.balance);
            expect(senderBefore - senderAfter).toBeLessThanOrEqual(feesOf(r.transactions));
        } else {
            // Too little to pay for the bounce: TON credits it to the account (no contract can refund it).
            expect(after.balance - before.balance).toBeLessThanOrEqual(value);
        }
        return;
    }
    // Opcode 0 with no bits after it is an empty comment, which Tact routes to the empty receiver whatever
    // references follow (its dispatcher tests `op == 0 & bits <= 32` alone): a plain transfer too.
    const plain = op === undefined || (op === 0 && s!.remainingBits === 32);
    const key = `${t.name}:${plain ? 'empty' : '0x' + op!.toString(16)}`;
    findings.accepted.set(key, (findings.accepted.get(key) ?? 0) + 1);
    // Accepted: only an empty body (a plain transfer, kept as a donation) or a permissionless opcode.
    if (plain) {
        expect(after.data).toBe(before.data);
        return;
    }
    if (!t.permissionless.includes(op!)) {
        throw new Error(`${t.name} accepted opcode 0x${op.toString(16)} from an unauthorised sender ${sender.address.toString()} (data ${after.data === before.data ? 'unchanged' : 'CHANGED'})`);
    }
}

function messages(t: Target): AbiStruct[] {
    const byName = new Map(t.abi.types.map((x) => [x.name, x]));
    return t.abi.receivers
        .filter((r) => r.receiver === 'internal' && r.message.kind === 'typed' && r.message.type)
        .map((r) => byName.get(r.message.type!)!)
        .filter((m) => m && m.header !== null);
}

function bodyArb(t: Target) {
    const known = messages(t);
    const knownOps = new Set(known.map((m) => m.header!));
    return fc.oneof(
        // A random opcode (not one the contract knows) with random bits and refs.
        {
            arbitrary: fc
                .tuple(
                    fc.integer({ min: 0, max: 0xffffffff }).filter((op) => !knownOps.has(op)),
                    fc.gen(),
                )
                .map(([op, g]) => ({
                    kind: 'unknown' as const,
                    body: beginCell()
                        .storeUint(op, 32)
                        .storeSlice(randomCell(g, 0, 1023 - 32).beginParse())
                        .endCell(),
                })),
            weight: 2,
        },
        // Fewer than 32 bits, or nothing.
        {
            arbitrary: fc
                .nat({ max: 31 })
                .chain((n) => fc.array(fc.boolean(), { minLength: n, maxLength: n }))
                .map((bits) => ({ kind: 'unknown' as const, body: bits.reduce((b, x) => b.storeBit(x), beginCell()).endCell() as Cell | undefined })),
            weight: 1,
        },
        { arbitrary: fc.constant({ kind: 'unknown' as const, body: undefined as Cell | undefined }), weight: 1 },
        // A known opcode with a random, type-shaped payload.
        { arbitrary: fc.tuple(fc.constantFrom(...known), fc.gen()).map(([m, g]) => ({ kind: 'known' as const, body: knownBody(g, t, m) })), weight: 4 },
        // A known opcode with a truncated payload.
        {
            arbitrary: fc
                .tuple(fc.constantFrom(...known), fc.gen(), fc.nat({ max: 1023 }), fc.nat({ max: 4 }))
                .map(([m, g, bits, refs]) => ({ kind: 'known' as const, body: truncate(knownBody(g, t, m), 32 + bits, refs) })),
            weight: 2,
        },
    );
}

async function fuzz(t: Target, numRuns: number) {
    const findings: Findings = { accepted: new Map() };
    await fc.assert(
        fc.asyncProperty(bodyArb(t), fc.nat(), fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: toNano('0.05') }), fc.bigInt({ min: toNano('0.05'), max: toNano('5') })), async (b, who, value) => {
            // Authorised senders only with bodies that cannot be a valid message.
            const pool = b.kind === 'unknown' ? [...t.strangers, ...t.authorised] : t.strangers;
            await probe(t, pool[who % pool.length], b.body, value, findings);
        }),
        params(numRuns),
    );
    return findings;
}

describe('contract receivers under random messages', () => {
    let e: EscrowFixture;
    let s: StakingFixture;
    let v: VerifierFixture;
    const targets: Record<string, Target> = {};
    let ch: SandboxContract<ExtendedPaymentChannel>;

    beforeAll(async () => {
        e = await deployEscrow();
        const { channel } = await openChannel(e, { nonce: 1n, deposit: toNano('10') });
        const eStrangers = [e.stranger, await e.blockchain.treasury('fuzzer-1', { balance: toNano('100000') }), await e.blockchain.treasury('fuzzer-2', { balance: toNano('100000') })];
        const eParties = [e.registry.address, e.escrow.address, channel.address, e.owner.address, e.client.address, e.workerStake.address, e.treasury.address, e.stranger.address];
        const base = { blockchain: e.blockchain, strangers: eStrangers, parties: eParties };
        // Anyone may execute a ripe proposal, and anyone may re-push the config (a version bump, same contents: see registry.tact).
        targets.Registry = {
            ...base,
            name: 'Registry',
            address: e.registry.address,
            abi: loadAbi('Registry', 'Registry'),
            permissionless: [Opcode.ExecuteProposal /* ExecuteProposal */, Opcode.PushConfig /* PushConfig */],
            authorised: [e.owner],
        };
        targets.Escrow = { ...base, name: 'Escrow', address: e.escrow.address, abi: loadAbi('Escrow', 'Escrow'), permissionless: [Opcode.OpenChannel /* OpenChannel */], authorised: [e.owner] };
        // Anyone may top up an open channel (payment-channel.tact); a Claim needs the client's signature, whoever sends it.
        targets.PaymentChannel = {
            ...base,
            name: 'PaymentChannel',
            address: channel.address,
            abi: loadAbi('PaymentChannel', 'PaymentChannel'),
            permissionless: [Opcode.TopUp /* TopUp */],
            authorised: [e.client, e.workerOwner],
        };
        ch = channel;

        s = await deployStaking();
        const { worker } = await stake(s, toNano('100'));
        await attest(s, worker.address);
        const sStrangers = [s.stranger, s.reporter, await s.blockchain.treasury('fuzzer-1', { balance: toNano('100000') })];
        const sParties = [s.registry.address, s.staking.address, worker.address, s.owner.address, s.provider.address, s.verifier.address, s.stranger.address];
        const sBase = { blockchain: s.blockchain, strangers: sStrangers, parties: sParties };
        targets.Staking = {
            ...sBase,
            name: 'Staking',
            address: s.staking.address,
            abi: loadAbi('Staking', 'Staking'),
            permissionless: [
                Opcode.Stake /* Stake */,
                Opcode.SyncWorkerConfig /* SyncWorkerConfig: anyone may re-push config (staking.tact) */,
                Opcode.ReclaimStranded /* ReclaimStranded: anyone takes back only what Staking holds for them (their own stranded refunds or bounced deposit) */,
            ],
            authorised: [s.owner],
        };
        targets.WorkerStake = { ...sBase, name: 'WorkerStake', address: worker.address, abi: loadAbi('WorkerStake', 'WorkerStake'), permissionless: [], authorised: [s.provider, s.verifier] };

        v = await deployVerifier({ policy: intelPolicy(), images: [fixtureImageHash()] });
        const vStrangers = [v.stranger, v.submitter];
        targets.AttestationVerifier = {
            name: 'AttestationVerifier',
            blockchain: v.blockchain,
            address: v.verifier.address,
            abi: loadAbi('AttestationVerifier', 'AttestationVerifier'),
            permissionless: [],
            authorised: [v.owner],
            strangers: vStrangers,
            parties: [v.registry.address, v.verifier.address, v.owner.address, v.stranger.address, v.submitter.address],
        };
        // The ABI's opcodes are what the permissionless lists name.
        expect(messages(targets.Escrow).find((m) => m.name === 'OpenChannel')?.header).toBe(Opcode.OpenChannel);
        expect(messages(targets.Staking).find((m) => m.name === 'Stake')?.header).toBe(Opcode.Stake);
    });

    for (const [name, n] of [
        ['Registry', 60],
        ['Escrow', 40],
        ['PaymentChannel', 60],
        ['Staking', 40],
        ['WorkerStake', 60],
        ['AttestationVerifier', 40],
    ] as const) {
        it(`${name}: no state change and no value kept without a valid authorised message`, async () => {
            // Fixed examples first: an empty comment (opcode 0, nothing else), a bare opcode 0xffffffff, a lone bit.
            const t = targets[name];
            const fixed: Findings = { accepted: new Map() };
            for (const body of [beginCell().storeUint(0, 32).endCell(), beginCell().storeUint(0xffffffff, 32).endCell(), beginCell().storeBit(1).endCell()])
                for (const value of [toNano('0.005'), toNano('0.5')]) await probe(t, t.strangers[0], body, value, fixed);
            const findings = await fuzz(targets[name], n);
            // Every contract still refuses junk afterwards and its getters still answer (it is not bricked).
            const after = await account(targets[name].blockchain, targets[name].address);
            expect(after.code).not.toBe('');
            // What strangers got accepted (plain transfers, permissionless opcodes), for a look with FUZZ_VERBOSE=1.
            if (process.env.FUZZ_VERBOSE && findings.accepted.size) console.log(`${name}: accepted from strangers`, Object.fromEntries(findings.accepted));
        });
    }

    it('PaymentChannel: forged, stale, replayed and other-channel vouchers move no money (Claim and CooperativeClose)', async () => {
        const mallory = keyPairFromSeed(Buffer.alloc(32, 7));
        // One genuine claim first, so that "stale" and "replayed" mean something.
        const first = signVoucher(ch.address, toNano('1'), e.clientKeys.secretKey);
        const ok = await ch.sendClaim(e.workerOwner.getSender(), first);
        expect(ok.transactions).toHaveTransaction({ to: ch.address, success: true });
        const paid = await ch.getPaid();
        expect(paid).toBe(toNano('1'));
        const t = targets.PaymentChannel;
        const findings: Findings = { accepted: new Map() };
        // Each with the client's real signature and a forged worker approval, or the other way round:
        // never both genuine (that would be a valid cooperative close).
        const voucherArb = fc.oneof(
            fc.constant({ v: first, clientSigned: true }), // replayed
            fc.bigInt({ min: 0n, max: paid }).map((x) => ({ v: signVoucher(ch.address, x, e.clientKeys.secretKey), clientSigned: true })), // stale
            fc.bigInt({ min: paid + 1n, max: toNano('100') }).map((x) => ({ v: signVoucher(ch.address, x, mallory.secretKey), clientSigned: false })), // forged
            fc.bigInt({ min: paid + 1n, max: toNano('100') }).map((x) => ({ v: signVoucher(e.stranger.address, x, e.clientKeys.secretKey), clientSigned: false })), // other channel
            fc
                .tuple(fc.bigInt({ min: paid + 1n, max: toNano('100') }), fc.uint8Array({ minLength: 64, maxLength: 64 }))
                .map(([x, sig]) => ({ v: { channel: ch.address, total: x, signature: Buffer.from(sig) }, clientSigned: false })), // random signature
        );
        await fc.assert(
            fc.asyncProperty(voucherArb, fc.boolean(), fc.nat(), async ({ v: vch, clientSigned }, cooperative, who) => {
                const sender = [e.stranger, e.client, e.workerOwner][who % 3];
                const workerSignature = signCloseApproval(vch.channel, vch.total, (clientSigned ? mallory : e.workerKeys).secretKey);
                const body = cooperative
                    ? beginCell()
                          .store(storeCooperativeClose({ $$type: 'CooperativeClose', queryId: 0n, clientSignature: vch.signature, workerSignature, total: vch.total }))
                          .endCell()
                    : beginCell()
                          .store(storeClaim({ $$type: 'Claim', queryId: 0n, signature: vch.signature, total: vch.total }))
                          .endCell();
                await probe(t, sender, body, toNano('0.2'), findings);
                expect(await ch.getPaid()).toBe(paid);
            }),
            params(40),
        );
        expect(findings.accepted.size).toBe(0);
    });

    it('the contracts still work after the fuzzing: a channel opens, a worker is still staked, the verifier is configured', async () => {
        const { result } = await openChannel(e, { nonce: 99n, deposit: toNano('1') });
        expect(result.transactions).toHaveTransaction({ from: e.escrow.address, deploy: true, success: true });
        expect(await s.staking.getIsConfigured()).toBe(true);
        expect(await v.verifier.getAttestationPolicy()).not.toBeNull();
    });
});
