import '@ton/test-utils';
import { Constants } from '../wrappers/constants';
import { Address, Cell, beginCell, toNano } from '@ton/core';
import { SandboxContract, internal } from '@ton/sandbox';
import fc from 'fast-check';
import { ExitCode } from '../wrappers/exitCodes';
import { ReceiptFields, makeSignedReceipt, parseReceipt, receiptMaxCost, signReceipt, signedReceiptCell, buildReceipt, toPriceTerms, toReceiptUsage, verifyReceipt } from '../wrappers/receipt';
import { ExtendedStaking, storeStake, toListing } from '../wrappers/Staking';
import { ExtendedWorkerStake, WorkerStatus, loadStakeDeposit, loadStakeWithdrawn, loadTopUpStake, loadWorkerSlashed, storeNetworkConfig, storeTopUpStake } from '../wrappers/WorkerStake';
import { Transaction } from '@ton/core';
import { ExtendedPaymentChannel } from '../wrappers/PaymentChannel';
import { IMAGE, MODEL, OTHER_MODEL, PRICES, StakingFixture, attest, deployStaking, keyInt, listing, stake, workerKeys } from './helpers/staking';
import { BASECHAIN_GAS_PRICE } from './helpers/safety';
import { Opcode } from '../wrappers/opcodes';

const STAKE = toNano('20');
// ChannelPayout's opcode: PaymentChannel -> WorkerStake, before channels paid the owner directly.
const CHANNEL_PAYOUT_OPCODE = 0xc0c05010;

describe('WorkerStake', () => {
    let f: StakingFixture;
    let worker: SandboxContract<ExtendedWorkerStake>;

    beforeEach(async () => {
        f = await deployStaking();
        ({ worker } = await stake(f, STAKE));
    });

    function fields(over: Partial<ReceiptFields> = {}): ReceiptFields {
        const usage = { prompt: 1000n, cached: 200n, completion: 500n, reasoning: 100n };
        const cost = receiptMaxCost(PRICES, usage);
        return {
            workerStake: worker.address,
            channel: f.stranger.address,
            requestId: 7n,
            modelId: MODEL,
            usage,
            cost,
            cumulativeCost: cost,
            time: BigInt(f.blockchain.now!),
            requestHash: 0xaan,
            responseHash: 0xbbn,
            ...over,
        };
    }

    const signed = (over: Partial<ReceiptFields> = {}, keys = f.keys) => makeSignedReceipt(fields(over), keys.secretKey).evidence;

    describe('attestation', () => {
        it('is recorded from the configured verifier and makes the worker active', async () => {
            const res = await attest(f, worker.address, { encryptionKey: 0xabcn });
            expect(res.transactions).toHaveTransaction({ to: worker.address, success: true });
            expect(Number(await worker.getStatus())).toBe(WorkerStatus.Active);
            expect(await worker.getIsActive()).toBe(true);
            const a = await worker.getAttestation();
            expect(a!.imageHash).toBe(IMAGE);
            expect((await worker.getListing()).encryptionKey).toBe(0xabcn);
            expect((await worker.getState()).modelFixed).toBe(true);
        });

        it('expires by time alone', async () => {
            await attest(f, worker.address, { expiresAt: BigInt(f.blockchain.now! + 10) });
            expect(await worker.getIsActive()).toBe(true);
            f.blockchain.now! += 10;
            expect(await worker.getIsActive()).toBe(false);
            expect(Number(await worker.getStatus())).toBe(WorkerStatus.Pending);
        });

        it('is refused from anyone but the verifier', async () => {
            const res = await attest(f, worker.address, {}, f.stranger);
            expect(res.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_NOT_VERIFIER });
            expect(await worker.getAttestation()).toBeNull();
        });

        it('refuses another key, another model, an expired claim and too little value', async () => {
            const cases: [Parameters<typeof attest>[2], number][] = [
                [{ workerKey: 5n }, ExitCode.ERR_WS_WRONG_KEY],
                [{ modelId: OTHER_MODEL }, ExitCode.ERR_WS_MODEL_MISMATCH],
                [{ expiresAt: BigInt(f.blockchain.now!) }, ExitCode.ERR_WS_ATTESTATION_EXPIRED],
                [{ value: toNano('0.01') }, ExitCode.ERR_INSUFFICIENT_VALUE],
            ];
            for (const [over, code] of cases) {
                const res = await attest(f, worker.address, over);
                expect(res.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: code });
            }
            expect(await worker.getAttestation()).toBeNull();
        });

        it('is refused once unbonding', async () => {
            await worker.sendStartUnbonding(f.provider.getSender());
            const res = await attest(f, worker.address);
            expect(res.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_NOT_BONDED });
        });

        it('refuses a malformed body', async () => {
            const res = await f.verifier.send({ to: worker.address, value: toNano('0.1'), body: beginCell().storeUint(Opcode.AttestationRecorded, 32).storeUint(0, 64).endCell() });
            expect(res.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: 9 });
        });
    });

    describe('index notification bounces', () => {
        // What the network delivers when Staking refuses a notification: the body's first bits after 0xFFFFFFFF.
        const bounce = (op: number) =>
            internal({ from: f.staking.address, to: worker.address, value: toNano('0.02'), bounced: true, body: beginCell().storeUint(0xffffffff, 32).storeUint(op, 32).storeUint(0, 64).endCell() });

        it('a refused WorkerIndexed leaves the worker unlisted', async () => {
            await attest(f, worker.address);
            expect((await worker.getState()).listed).toBe(true);
            const res = await f.blockchain.sendMessage(bounce(Opcode.WorkerIndexed));
            expect(res.transactions).toHaveTransaction({ to: worker.address, success: true });
            expect((await worker.getState()).listed).toBe(false);
            expect(await worker.getStake()).toBe(STAKE);
        });

        it('a refused WorkerUnindexed keeps the worker listed, so the next change tells Staking again', async () => {
            await attest(f, worker.address);
            await worker.sendStartUnbonding(f.provider.getSender());
            expect((await worker.getState()).listed).toBe(false);
            const res = await f.blockchain.sendMessage(bounce(Opcode.WorkerUnindexed));
            expect(res.transactions).toHaveTransaction({ to: worker.address, success: true });
            expect((await worker.getState()).listed).toBe(true);
            // A newer config reaches the WorkerStake: it sends the WorkerUnindexed again.
            await f.registry.sendRevokeModel(f.owner.getSender(), OTHER_MODEL);
            const sync = await f.staking.sendSyncWorkerConfig(f.stranger.getSender(), f.provider.address, f.workerKey);
            expect(sync.transactions).toHaveTransaction({ from: worker.address, to: f.staking.address, op: Opcode.WorkerUnindexed, success: true });
            expect((await worker.getState()).listed).toBe(false);
            expect(await f.staking.getWorkerCount(MODEL)).toBe(0n);
        });

        it('a bounce of anything else changes nothing', async () => {
            await attest(f, worker.address);
            const res = await f.blockchain.sendMessage(bounce(Opcode.Excesses));
            expect(res.transactions).toHaveTransaction({ to: worker.address, success: true });
            expect((await worker.getState()).listed).toBe(true);
            expect(await worker.getStake()).toBe(STAKE);
        });
    });

    describe('messages only Staking may send', () => {
        it('refuses StakeDeposit, WorkerConfigUpdate and GovernanceSlash from anyone else', async () => {
            const config = beginCell()
                .store(storeNetworkConfig(await f.registry.getNetworkConfig()))
                .endCell();
            const deposit = await worker.send(
                f.provider.getSender(),
                { value: toNano('1') },
                {
                    $$type: 'StakeDeposit',
                    queryId: 0n,
                    amount: toNano('100'),
                    listing: toListing(listing()),
                    configVersion: 99n,
                    config,
                },
            );
            expect(deposit.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_NOT_STAKING });
            const update = await worker.send(
                f.provider.getSender(),
                { value: toNano('1') },
                {
                    $$type: 'WorkerConfigUpdate',
                    refundKey: 0n,
                    queryId: 0n,
                    configVersion: 99n,
                    config,
                    excessTo: f.provider.address,
                },
            );
            expect(update.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_NOT_STAKING });
            expect(await worker.getStake()).toBe(STAKE);
        });

        it('ignores a config that is not newer but returns the value', async () => {
            const version = await worker.getConfigVersion();
            const first = await f.staking.sendSyncWorkerConfig(f.stranger.getSender(), f.provider.address, f.workerKey);
            expect(first.transactions).toHaveTransaction({ from: worker.address, to: f.stranger.address, success: true });
            expect(await worker.getConfigVersion()).toBe(version);
        });

        it('refuses StartUnbonding with too little value', async () => {
            const res = await worker.sendStartUnbonding(f.provider.getSender(), 0n, toNano('0.02'));
            expect(res.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
        });
    });

    describe('listing and prices', () => {
        it('updates the endpoint for the owner only', async () => {
            const bad = await worker.sendUpdateListing(f.stranger.getSender(), listing({ endpoint: 'https://evil' }));
            expect(bad.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_NOT_OWNER });
            const ok = await worker.sendUpdateListing(f.provider.getSender(), listing({ endpoint: 'https://new.example' }));
            expect(ok.transactions).toHaveTransaction({ to: worker.address, success: true });
            expect(ok.transactions).toHaveTransaction({ from: worker.address, to: f.provider.address });
            expect((await worker.getListing()).endpoint).toBe('https://new.example');
        });

        it('refuses too little value and malformed listings', async () => {
            const low = await worker.sendUpdateListing(f.provider.getSender(), listing(), 0n, toNano('0.01'));
            expect(low.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            const bad = await worker.sendUpdateListing(f.provider.getSender(), listing({ endpoint: '' }));
            expect(bad.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_BAD_LISTING });
        });

        it('lets the model change before attestation only', async () => {
            await worker.sendUpdateListing(f.provider.getSender(), listing({ modelId: OTHER_MODEL }));
            expect((await worker.getListing()).modelId).toBe(OTHER_MODEL);
            await attest(f, worker.address, { modelId: OTHER_MODEL });
            const res = await worker.sendUpdateListing(f.provider.getSender(), listing({ modelId: MODEL }));
            expect(res.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_MODEL_FIXED });
        });

        it('applies a price cut at once and a raise only after the notice period', async () => {
            const t0 = f.blockchain.now!;
            f.blockchain.now = t0 + 100;
            const cut = { ...PRICES, completion: PRICES.completion / 2n };
            await worker.sendUpdateListing(f.provider.getSender(), listing({ prices: cut }));
            expect((await worker.getPricesInForce()).completion).toBe(cut.completion);
            f.blockchain.now = t0 + 200;
            const raise = { ...cut, prompt: PRICES.prompt * 3n };
            await worker.sendUpdateListing(f.provider.getSender(), listing({ prices: raise }));
            expect((await worker.getPricesInForce()).prompt).toBe(PRICES.prompt);
            expect((await worker.getListing()).prices.prompt).toBe(raise.prompt); // announced
            const notice = Number(f.params.priceNoticePeriod);
            f.blockchain.now = t0 + 200 + notice - 1;
            expect((await worker.getPricesInForce()).prompt).toBe(PRICES.prompt);
            f.blockchain.now = t0 + 200 + notice;
            expect((await worker.getPricesInForce()).prompt).toBe(raise.prompt);
            // History answers for any time in the window.
            expect((await worker.getPricesAt(BigInt(t0 + 50))).completion).toBe(PRICES.completion);
            expect((await worker.getPricesAt(BigInt(t0 + 150))).completion).toBe(cut.completion);
        });

        it('prunes price history past the fraud-proof window and bounds it inside', async () => {
            const window = Number(f.params.fraudProofWindow);
            let p = PRICES.prompt;
            for (let i = 0; i < 15; i++) {
                f.blockchain.now! += 1;
                p -= 1n;
                const res = await worker.sendUpdateListing(f.provider.getSender(), listing({ prices: { ...PRICES, prompt: p } }));
                expect(res.transactions).toHaveTransaction({ to: worker.address, success: true });
            }
            f.blockchain.now! += 1;
            const full = await worker.sendUpdateListing(f.provider.getSender(), listing({ prices: { ...PRICES, prompt: p - 1n } }));
            expect(full.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_PRICE_HISTORY_FULL });
            // Kept for the window and the price-cut grace before it (receipts that old are judged by them).
            f.blockchain.now! += window + Number(Constants.PRICE_CUT_GRACE) + 1;
            const later = await worker.sendUpdateListing(f.provider.getSender(), listing({ prices: { ...PRICES, prompt: p - 1n } }));
            expect(later.transactions).toHaveTransaction({ to: worker.address, success: true });
            expect((await worker.getPriceHistory()).size).toBe(2);
        });
    });

    describe('unbonding and withdrawal', () => {
        it('withdraws the whole stake once, after the deadline only', async () => {
            const notOwner = await worker.sendStartUnbonding(f.stranger.getSender());
            expect(notOwner.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_NOT_OWNER });
            const early = await worker.sendWithdraw(f.provider.getSender());
            expect(early.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_NOT_UNBONDING });
            await worker.sendStartUnbonding(f.provider.getSender());
            const again = await worker.sendStartUnbonding(f.provider.getSender());
            expect(again.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_NOT_BONDED });
            expect(Number(await worker.getStatus())).toBe(WorkerStatus.Unbonding);
            const deadline = Number((await worker.getState()).unbondingDeadline);
            f.blockchain.now = deadline - 1;
            const tooSoon = await worker.sendWithdraw(f.provider.getSender());
            expect(tooSoon.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_UNBONDING_NOT_OVER });
            f.blockchain.now = deadline;
            const byStranger = await worker.sendWithdraw(f.stranger.getSender());
            expect(byStranger.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_NOT_OWNER });
            const before = await f.provider.getBalance();
            const ok = await worker.sendWithdraw(f.provider.getSender());
            expect(ok.transactions).toHaveTransaction({ from: worker.address, to: f.provider.address, success: true, value: (v) => v! >= STAKE });
            // The stake comes back whole; only this message's fees are spent.
            expect((await f.provider.getBalance()) - before).toBeGreaterThan(STAKE - toNano('0.03'));
            expect(Number(await worker.getStatus())).toBe(WorkerStatus.Withdrawn);
            const twice = await worker.sendWithdraw(f.provider.getSender());
            expect(twice.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_NOT_UNBONDING });
            const low = await worker.sendWithdraw(f.provider.getSender(), 0n, toNano('0.01'));
            expect(low.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
        });

        it('refuses a top-up while unbonding, and refunds a Stake whole', async () => {
            await worker.sendStartUnbonding(f.provider.getSender());
            const top = await worker.sendTopUpStake(f.provider.getSender(), toNano('5'));
            expect(top.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_NOT_BONDED });
            expect(top.transactions).toHaveTransaction({ from: worker.address, to: f.provider.address, inMessageBounced: true, value: (v) => v! > toNano('5') });
            const value = await f.staking.getStakeValue(toNano('5'));
            const res = await f.staking.sendStake(f.provider.getSender(), value, f.workerKey, listing());
            expect(res.transactions).toHaveTransaction({ from: worker.address, to: f.provider.address, op: Opcode.StakeRefunded, value: (v) => v! > toNano('5') });
            expect(await worker.getStake()).toBe(STAKE);
        });

        it('restores the stake when the owner refuses the withdrawal', async () => {
            // An owner that is a contract rejecting unknown messages: the Registry.
            const owner = f.registry.address;
            const value = await f.staking.getStakeValue(STAKE);
            const body = beginCell()
                .store(
                    storeStake({
                        $$type: 'Stake',
                        queryId: 0n,
                        workerKey: f.workerKey,
                        listing: {
                            $$type: 'Listing',
                            modelId: MODEL,
                            endpoint: 'https://x',
                            encryptionKey: 1n,
                            prices: toPriceTerms(PRICES),
                        },
                    }),
                )
                .endCell();
            await f.blockchain.sendMessage(internal({ from: owner, to: f.staking.address, value, body }));
            const w = f.blockchain.openContract(ExtendedWorkerStake.fromAddress(await f.staking.getWorkerAddress(owner, f.workerKey)));
            expect(await w.getStake()).toBe(STAKE);
            const send = (op: Cell) => f.blockchain.sendMessage(internal({ from: owner, to: w.address, value: toNano('0.2'), body: op }));
            await send(beginCell().storeUint(Opcode.StartUnbonding, 32).storeUint(0, 64).endCell());
            f.blockchain.now = Number((await w.getState()).unbondingDeadline);
            const res = await send(beginCell().storeUint(Opcode.WithdrawStake, 32).storeUint(0, 64).endCell());
            expect(res.transactions).toHaveTransaction({ from: w.address, to: owner, success: false });
            expect(res.transactions).toHaveTransaction({ from: owner, to: w.address, inMessageBounced: true, success: true });
            expect(await w.getStake()).toBe(STAKE);
            expect(Number(await w.getStatus())).toBe(WorkerStatus.Unbonding);
        });
    });

    describe('top-up', () => {
        const topUpBody = (amount: bigint, queryId = 0n) =>
            beginCell()
                .store(storeTopUpStake({ $$type: 'TopUpStake', queryId, amount }))
                .endCell();
        // What a top-up must carry on top of its amount: its gas, an index notification it may send and the reply.
        const overhead = Constants.GAS_WS_TOP_UP * BASECHAIN_GAS_PRICE + Constants.INDEX_NOTIFY_VALUE + 2n * Constants.MSG_FWD_BUDGET;
        const balanceOf = async (a: Address) => (await f.blockchain.getContract(a)).balance;

        it('adds the amount, straight from the owner, and returns the rest of the value', async () => {
            const before = await f.provider.getBalance();
            const res = await worker.sendTopUpStake(f.provider.getSender(), toNano('3'), 7n, toNano('4'));
            expect(res.transactions).toHaveTransaction({ from: worker.address, to: f.provider.address, op: Opcode.Excesses, value: (v) => v! > toNano('0.9') });
            expect(res.transactions).not.toHaveTransaction({ to: f.staking.address });
            expect(await worker.getStake()).toBe(STAKE + toNano('3'));
            // The owner pays the amount and the fees, no more.
            expect(before - (await f.provider.getBalance())).toBeLessThan(toNano('3.01'));
            expect(await balanceOf(worker.address)).toBeGreaterThanOrEqual(STAKE + toNano('3') + Constants.WORKER_STORAGE_RESERVE);
        });

        it('is refused from anyone but the owner (Staking included); the value bounces back', async () => {
            const res = await worker.sendTopUpStake(f.stranger.getSender(), toNano('3'));
            expect(res.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_NOT_OWNER });
            expect(res.transactions).toHaveTransaction({ from: worker.address, to: f.stranger.address, inMessageBounced: true, value: (v) => v! > toNano('3') });
            const fromStaking = await f.blockchain.sendMessage(internal({ from: f.staking.address, to: worker.address, value: toNano('4'), body: topUpBody(toNano('3')) }));
            expect(fromStaking.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_NOT_OWNER });
            expect(await worker.getStake()).toBe(STAKE);
        });

        it('refuses too little value and a zero amount', async () => {
            const poor = await worker.sendTopUpStake(f.provider.getSender(), toNano('3'), 0n, toNano('3') + overhead - 1n);
            expect(poor.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            expect(poor.transactions).toHaveTransaction({ from: worker.address, to: f.provider.address, inMessageBounced: true });
            const zero = await worker.sendTopUpStake(f.provider.getSender(), 0n);
            expect(zero.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_NOTHING_STAKED });
            expect(await worker.getStake()).toBe(STAKE);
            const exact = await worker.sendTopUpStake(f.provider.getSender(), toNano('3'), 0n, toNano('3') + overhead);
            expect(exact.transactions).toHaveTransaction({ to: worker.address, success: true });
            expect(await worker.getStake()).toBe(STAKE + toNano('3'));
        });

        it('refuses a malformed body', async () => {
            const res = await f.provider.send({ to: worker.address, value: toNano('1'), body: beginCell().storeUint(Opcode.TopUpStake, 32).storeUint(0, 64).endCell() });
            expect(res.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: 9 });
            expect(await worker.getStake()).toBe(STAKE);
        });

        it('credits a replayed top-up only with the value it brings', async () => {
            const body = topUpBody(toNano('2'), 5n);
            for (let i = 0; i < 2; i++) {
                const res = await f.provider.send({ to: worker.address, value: toNano('2.1'), body });
                expect(res.transactions).toHaveTransaction({ to: worker.address, success: true });
            }
            const bare = await f.provider.send({ to: worker.address, value: toNano('0.1'), body });
            expect(bare.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            expect(await worker.getStake()).toBe(STAKE + toNano('4'));
            expect(await balanceOf(worker.address)).toBeGreaterThanOrEqual(STAKE + toNano('4') + Constants.WORKER_STORAGE_RESERVE);
        });

        it('lists the worker once at the minimum; a refused listing bounces and leaves it unlisted', async () => {
            f = await deployStaking({ maxActiveWorkers: 1n });
            // Another worker fills the model's one slot.
            const other = await stake(f, f.params.minWorkerStake, { workerKey: 1n });
            await attest(f, other.worker.address, { workerKey: 1n });
            expect(await f.staking.getWorkerCount(MODEL)).toBe(1n);
            ({ worker } = await stake(f, f.params.minWorkerStake - 1n));
            await attest(f, worker.address);
            expect((await worker.getState()).listed).toBe(false);
            const full = await worker.sendTopUpStake(f.provider.getSender(), 1n);
            expect(full.transactions).toHaveTransaction({ from: worker.address, to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_INDEX_FULL });
            expect(full.transactions).toHaveTransaction({ from: f.staking.address, to: worker.address, inMessageBounced: true, success: true });
            expect((await worker.getState()).listed).toBe(false);
            expect(await worker.getStake()).toBe(f.params.minWorkerStake);
            // The bounced notification's value stays here, above the stake.
            expect(await balanceOf(worker.address)).toBeGreaterThanOrEqual(f.params.minWorkerStake + Constants.WORKER_STORAGE_RESERVE);
            // Once a slot frees up, the next top-up lists it.
            await other.worker.sendStartUnbonding(f.provider.getSender());
            const listed = await worker.sendTopUpStake(f.provider.getSender(), 1n);
            expect(listed.transactions).toHaveTransaction({ from: worker.address, to: f.staking.address, success: true });
            expect((await worker.getState()).listed).toBe(true);
            expect((await f.staking.getAllActiveWorkers(MODEL)).map((e) => e.worker.toString())).toEqual([worker.address.toString()]);
        });
    });

    describe('fraud proofs', () => {
        async function expectSlashed(res: Awaited<ReturnType<typeof worker.sendProveWrongModel>>) {
            const slashed = (STAKE * f.params.slashFractionBps) / 10000n;
            const reporterShare = (slashed * f.params.reporterShareBps) / 10000n;
            expect(res.transactions).toHaveTransaction({ from: worker.address, to: f.treasury.address, value: slashed - reporterShare });
            expect(res.transactions).toHaveTransaction({ from: worker.address, to: f.reporter.address, value: (v) => v! > reporterShare });
            expect(await worker.getStake()).toBe(STAKE - slashed);
            const s = await worker.getState();
            expect(Number(s.status)).toBe(WorkerStatus.Jailed);
            expect(s.slashes).toBe(1n);
            expect(s.slashedTotal).toBe(slashed);
        }

        it('slashes equivocation: two receipts, one request id, different contents', async () => {
            await attest(f, worker.address);
            expect(await f.staking.getWorkerCount(MODEL)).toBe(1n);
            const res = await worker.sendProveEquivocation(f.reporter.getSender(), signed(), signed({ responseHash: 0xccn }));
            await expectSlashed(res);
            expect(await f.staking.getWorkerCount(MODEL)).toBe(0n);
            // Replaying the evidence does nothing more.
            const replay = await worker.sendProveEquivocation(f.reporter.getSender(), signed(), signed({ responseHash: 0xccn }));
            expect(replay.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_JAILED });
        });

        it('refuses equivocation evidence that is not', async () => {
            const same = await worker.sendProveEquivocation(f.reporter.getSender(), signed(), signed());
            expect(same.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_SAME_RECEIPT });
            const otherId = await worker.sendProveEquivocation(f.reporter.getSender(), signed(), signed({ requestId: 8n }));
            expect(otherId.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_DIFFERENT_REQUESTS });
            const intruder = workerKeys('intruder');
            const forged = await worker.sendProveEquivocation(f.reporter.getSender(), signed(), signed({ responseHash: 0xccn }, intruder));
            expect(forged.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_BAD_SIGNATURE });
            // Receipts of another worker (its address, its key).
            const other = await stake(f, STAKE, { workerKey: keyInt(intruder.publicKey) });
            const a = makeSignedReceipt(fields({ workerStake: other.worker.address }), intruder.secretKey).evidence;
            const b = makeSignedReceipt(fields({ workerStake: other.worker.address, responseHash: 1n }), intruder.secretKey).evidence;
            const notMine = await worker.sendProveEquivocation(f.reporter.getSender(), a, b);
            expect(notMine.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_RECEIPT_NOT_MINE });
            const low = await worker.sendProveEquivocation(f.reporter.getSender(), signed(), signed({ responseHash: 0xccn }), 0n, toNano('0.01'));
            expect(low.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            const junk = await worker.sendProveEquivocation(f.reporter.getSender(), beginCell().endCell(), beginCell().endCell());
            expect(junk.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: 9 });
            expect(await worker.getStake()).toBe(STAKE);
        });

        it('slashes a receipt for another model, not one for its own', async () => {
            await attest(f, worker.address);
            const own = await worker.sendProveWrongModel(f.reporter.getSender(), signed());
            expect(own.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_MODEL_MATCHES });
            const forged = await worker.sendProveWrongModel(f.reporter.getSender(), signed({ modelId: OTHER_MODEL }, workerKeys('intruder')));
            expect(forged.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_BAD_SIGNATURE });
            await expectSlashed(await worker.sendProveWrongModel(f.reporter.getSender(), signed({ modelId: OTHER_MODEL })));
        });

        it('slashes an overcharge, not a cost within the terms', async () => {
            const usage = fields().usage;
            const max = receiptMaxCost(PRICES, usage);
            const fair = await worker.sendProveOvercharge(f.reporter.getSender(), signed({ cost: max }));
            expect(fair.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_COST_WITHIN_TERMS });
            await expectSlashed(await worker.sendProveOvercharge(f.reporter.getSender(), signed({ cost: max + 1n })));
        });

        it('judges a receipt by the terms in force at its time: a raise does not apply before its notice', async () => {
            const t0 = f.blockchain.now!;
            const raised = { ...PRICES, completion: PRICES.completion * 2n };
            await worker.sendUpdateListing(f.provider.getSender(), listing({ prices: raised }));
            const usage = fields().usage;
            const atRaised = receiptMaxCost(raised, usage);
            const effective = t0 + Number(f.params.priceNoticePeriod);
            f.blockchain.now = effective + 10;
            // Charged at the raised price after it took effect: fine.
            const after = await worker.sendProveOvercharge(f.reporter.getSender(), signed({ cost: atRaised, time: BigInt(effective) }));
            expect(after.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_COST_WITHIN_TERMS });
            // Charged at the raised price one second before: fraud.
            await expectSlashed(await worker.sendProveOvercharge(f.reporter.getSender(), signed({ cost: atRaised, time: BigInt(effective - 1) })));
        });

        it('judges a receipt dated in the future by the terms in force now', async () => {
            const raised = { ...PRICES, completion: PRICES.completion * 2n };
            await worker.sendUpdateListing(f.provider.getSender(), listing({ prices: raised }));
            const effective = f.blockchain.now! + Number(f.params.priceNoticePeriod);
            const cost = receiptMaxCost(raised, fields().usage);
            await expectSlashed(await worker.sendProveOvercharge(f.reporter.getSender(), signed({ cost, time: BigInt(effective) })));
        });

        it('refuses overcharge evidence older than the fraud-proof window', async () => {
            const t = BigInt(f.blockchain.now!);
            f.blockchain.now! += Number(f.params.fraudProofWindow) + 1;
            const res = await worker.sendProveOvercharge(f.reporter.getSender(), signed({ cost: 10n ** 12n, time: t }));
            expect(res.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_EVIDENCE_TOO_OLD });
        });

        it('slashes during unbonding, then pays only the rest once, after the jail term', async () => {
            await worker.sendStartUnbonding(f.provider.getSender());
            const firstDeadline = Number((await worker.getState()).unbondingDeadline);
            f.blockchain.now = firstDeadline - 10;
            await expectSlashed(await worker.sendProveWrongModel(f.reporter.getSender(), signed({ modelId: OTHER_MODEL })));
            f.blockchain.now = firstDeadline;
            const early = await worker.sendWithdraw(f.provider.getSender());
            expect(early.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_UNBONDING_NOT_OVER });
            f.blockchain.now = Number((await worker.getState()).unbondingDeadline);
            const rest = await worker.getStake();
            const ok = await worker.sendWithdraw(f.provider.getSender());
            expect(ok.transactions).toHaveTransaction({ from: worker.address, to: f.provider.address, value: (v) => v! >= rest && v! < rest + toNano('0.2') });
            const again = await worker.sendProveWrongModel(f.reporter.getSender(), signed({ modelId: OTHER_MODEL, requestId: 9n }));
            expect(again.transactions).toHaveTransaction({ to: worker.address, success: false });
        });
    });

    describe('governance slash', () => {
        it('takes the ordered fraction for the treasury and keeps the reason hash', async () => {
            // A Staking whose "Registry" is a wallet we control, configured
            // with the real Registry's config.
            const gov = await f.blockchain.treasury('gov');
            const staking = f.blockchain.openContract(await ExtendedStaking.fromInit(gov.address));
            await staking.sendDeploy(gov.getSender());
            const { storeConfigUpdate } = await import('../wrappers/Staking');
            await gov.send({
                to: staking.address,
                value: toNano('0.1'),
                body: beginCell()
                    .store(
                        storeConfigUpdate({
                            $$type: 'ConfigUpdate',
                            queryId: 0n,
                            version: 1n,
                            config: await f.registry.getNetworkConfig(),
                        }),
                    )
                    .endCell(),
            });
            await staking.sendStake(f.provider.getSender(), await staking.getStakeValue(STAKE), f.workerKey, listing());
            const w = f.blockchain.openContract(ExtendedWorkerStake.fromAddress(await staking.getWorkerAddress(f.provider.address, f.workerKey)));
            const order = { $$type: 'GovernanceSlashOrder' as const, queryId: 0n, owner: f.provider.address, workerKey: f.workerKey, fractionBps: 2500n, reasonHash: 0xfeedn };
            const bad = await staking.send(gov.getSender(), { value: toNano('0.5') }, { ...order, fractionBps: 0n });
            expect(bad.transactions).toHaveTransaction({ to: staking.address, success: false, exitCode: ExitCode.ERR_STAKING_BAD_FRACTION });
            const low = await staking.send(gov.getSender(), { value: toNano('0.01') }, order);
            expect(low.transactions).toHaveTransaction({ to: staking.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            const res = await staking.send(gov.getSender(), { value: toNano('0.5') }, order);
            expect(res.transactions).toHaveTransaction({ from: w.address, to: f.treasury.address, value: (v) => v! >= STAKE / 4n });
            expect(await w.getStake()).toBe(STAKE - STAKE / 4n);
            const s = await w.getState();
            expect(s.lastSlashReason).toBe(0xfeedn);
            expect(Number(s.status)).toBe(WorkerStatus.Jailed);
            // Only Staking may order it.
            const direct = await w.send(gov.getSender(), { value: toNano('0.5') }, { $$type: 'GovernanceSlash', queryId: 0n, fractionBps: 10000n, reasonHash: 1n });
            expect(direct.transactions).toHaveTransaction({ to: w.address, success: false, exitCode: ExitCode.ERR_WS_NOT_STAKING });
        });
    });

    describe('payouts', () => {
        it('takes no channel payouts: channels pay the owner directly', async () => {
            // The body a PaymentChannel used to send (ChannelPayout: queryId, amount, client, nonce), from a channel's address.
            const escrow = (await f.blockchain.treasury('escrow')).address;
            const channel = (await ExtendedPaymentChannel.fromInit(escrow, f.stranger.address, worker.address, 1n)).address;
            const body = beginCell().storeUint(CHANNEL_PAYOUT_OPCODE, 32).storeUint(0, 64).storeCoins(toNano('1')).storeAddress(f.stranger.address).storeUint(1, 64).endCell();
            const data = async () => {
                const account = (await f.blockchain.getContract(worker.address)).accountState;
                return account?.type === 'active' ? account.state.data!.hash().toString('hex') : '';
            };
            const before = await data();
            const res = await f.blockchain.sendMessage(internal({ from: channel, to: worker.address, value: toNano('1.1'), body }));
            expect(res.transactions).toHaveTransaction({ from: channel, to: worker.address, success: false, exitCode: 130 });
            // The value bounces back to the channel, and nothing here changed.
            expect(res.transactions).toHaveTransaction({ from: worker.address, to: channel, inMessageBounced: true });
            expect(await data()).toBe(before);
            expect(await worker.getStake()).toBe(STAKE);
        });
    });

    describe('receipts', () => {
        it('round-trips, signs and verifies off chain', () => {
            const fl = fields();
            const { receipt, signature } = makeSignedReceipt(fl, f.keys.secretKey);
            const back = parseReceipt(receipt);
            expect(back.workerStake.equals(fl.workerStake) && back.channel.equals(fl.channel)).toBe(true);
            expect({ ...back, workerStake: 0, channel: 0 }).toEqual({ ...fl, workerStake: 0, channel: 0 });
            expect(buildReceipt(back).hash().equals(receipt.hash())).toBe(true);
            expect(verifyReceipt(receipt, signature, f.keys.publicKey)).toBe(true);
            expect(verifyReceipt(buildReceipt({ ...fl, cost: fl.cost + 1n }), signature, f.keys.publicKey)).toBe(false);
            expect(signedReceiptCell(receipt, signReceipt(receipt, f.keys.secretKey)).refs.length).toBe(1);
        });

        it('states the cost rule once: the Tact function and its TypeScript twin agree', async () => {
            const u32 = fc.bigInt({ min: 0n, max: (1n << 32n) - 1n });
            const price = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
            await fc.assert(
                fc.asyncProperty(u32, u32, u32, u32, price, price, price, price, async (p, c, o, r, a, b, d, e) => {
                    const prices = { prompt: a, cached: b, completion: d, reasoning: e };
                    const usage = { prompt: p, cached: c, completion: o, reasoning: r };
                    const onChain = await worker.getCostLimit(toPriceTerms(prices), toReceiptUsage(usage));
                    expect(onChain).toBe(receiptMaxCost(prices, usage));
                }),
                { numRuns: 40 },
            );
        });
    });
});

/**
 * Stake accounting over random sequences of stake, top-up, unbond, slash,
 * withdraw and waiting: whatever the order, the stake paid out (withdrawals
 * and slashes) plus the stake held equals what was deposited, the contract
 * always holds at least the recorded stake, and at most one withdrawal ever
 * pays out.
 */
describe('WorkerStake accounting (property)', () => {
    type Op = { t: 'stake'; amount: bigint } | { t: 'topUp'; amount: bigint } | { t: 'unbond' } | { t: 'slash' } | { t: 'withdraw' } | { t: 'wait'; secs: number };

    it('never pays out more than came in, nor twice', async () => {
        const f = await deployStaking();
        const snapshot = f.blockchain.snapshot();
        const start = f.blockchain.now!;
        const unbonding = Number(f.params.unbondingPeriod);
        const amount = fc.bigInt({ min: 1n, max: toNano('30') });
        const op: fc.Arbitrary<Op> = fc.oneof(
            amount.map((a) => ({ t: 'stake' as const, amount: a })),
            amount.map((a) => ({ t: 'topUp' as const, amount: a })),
            fc.constant({ t: 'unbond' as const }),
            fc.constant({ t: 'slash' as const }),
            fc.constant({ t: 'withdraw' as const }),
            // Waits of exactly the unbonding period too, so withdrawals after it happen often whatever its length.
            fc.oneof(fc.integer({ min: 0, max: 2 * unbonding }), fc.constant(unbonding)).map((secs) => ({ t: 'wait' as const, secs })),
        );

        // How often the interesting paths ran, so the property cannot pass vacuously.
        const seen = { withdrawals: 0, slashes: 0, slashThenWithdraw: 0 };
        await fc.assert(
            fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
                await f.blockchain.loadFrom(snapshot);
                f.blockchain.now = start;
                const address = await f.staking.getWorkerAddress(f.provider.address, f.workerKey);
                const w = f.blockchain.openContract(ExtendedWorkerStake.fromAddress(address));
                let deposited = 0n;
                let withdrawn = 0n;
                let slashed = 0n;
                let withdrawals = 0;
                let requestId = 0n;

                const account = (txs: Transaction[]) => {
                    for (const tx of txs) {
                        const inMsg = tx.inMessage;
                        if (!inMsg || inMsg.info.type !== 'internal' || !inMsg.info.dest.equals(address)) continue;
                        if (tx.description.type !== 'generic' || tx.description.aborted) continue;
                        const outs = [...tx.outMessages.values()];
                        const ops = outs.map((m) => (m.body.bits.length >= 32 ? m.body.beginParse().preloadUint(32) : 0));
                        const inOp = inMsg.body.bits.length >= 32 ? inMsg.body.beginParse().preloadUint(32) : 0;
                        if (inOp === Opcode.StakeDeposit && !ops.includes(Opcode.StakeRefunded)) deposited += loadStakeDeposit(inMsg.body.beginParse()).amount;
                        if (inOp === Opcode.TopUpStake) deposited += loadTopUpStake(inMsg.body.beginParse()).amount;
                        outs.forEach((m, i) => {
                            if (ops[i] === Opcode.StakeWithdrawn) {
                                const amountOut = loadStakeWithdrawn(m.body.beginParse()).amount;
                                withdrawn += amountOut;
                                withdrawals += 1;
                                // The owner really receives it.
                                expect(m.info.type === 'internal' && m.info.value.coins >= amountOut).toBe(true);
                            }
                            if (ops[i] === Opcode.WorkerSlashed) slashed += loadWorkerSlashed(m.body.beginParse()).amount;
                        });
                    }
                };

                for (const o of ops) {
                    let txs: Transaction[] = [];
                    if (o.t === 'stake') {
                        txs = (await f.staking.sendStake(f.provider.getSender(), await f.staking.getStakeValue(o.amount), f.workerKey, listing())).transactions;
                    } else if (o.t === 'topUp') {
                        txs = (await w.sendTopUpStake(f.provider.getSender(), o.amount)).transactions;
                    } else if (o.t === 'unbond') {
                        txs = (await w.sendStartUnbonding(f.provider.getSender())).transactions;
                    } else if (o.t === 'withdraw') {
                        txs = (await w.sendWithdraw(f.provider.getSender())).transactions;
                    } else if (o.t === 'slash') {
                        requestId += 1n;
                        const usage = { prompt: 1n, cached: 0n, completion: 1n, reasoning: 0n };
                        const ev = makeSignedReceipt(
                            {
                                workerStake: address,
                                channel: f.stranger.address,
                                requestId,
                                modelId: OTHER_MODEL,
                                usage,
                                cost: 0n,
                                cumulativeCost: 0n,
                                time: BigInt(f.blockchain.now!),
                                requestHash: 1n,
                                responseHash: 2n,
                            },
                            f.keys.secretKey,
                        ).evidence;
                        txs = (await w.sendProveWrongModel(f.reporter.getSender(), ev)).transactions;
                    } else {
                        f.blockchain.now! += o.secs;
                    }
                    account(txs);
                    const deployed = (await f.blockchain.getContract(address)).accountState?.type === 'active';
                    const held = deployed ? await w.getStake() : 0n;
                    expect(withdrawn + slashed + held).toBe(deposited);
                    expect(withdrawals).toBeLessThanOrEqual(1);
                    if (deployed) {
                        expect((await f.blockchain.getContract(address)).balance).toBeGreaterThanOrEqual(held);
                        const s = await w.getState();
                        expect(s.slashedTotal).toBe(slashed);
                    }
                }
                if (withdrawals > 0) seen.withdrawals += 1;
                if (slashed > 0) seen.slashes += 1;
                if (withdrawals > 0 && slashed > 0) seen.slashThenWithdraw += 1;
            }),
            { numRuns: 40, seed: 20261125 },
        );
        expect(seen.withdrawals).toBeGreaterThan(0);
        expect(seen.slashes).toBeGreaterThan(0);
        expect(seen.slashThenWithdraw).toBeGreaterThan(0);
    });
});
