import '@ton/test-utils';
import { Address, Contract, OpenedContract, Sender, SenderArguments, toNano } from '@ton/core';
import { BlockchainSnapshot, SandboxContract, SendMessageResult } from '@ton/sandbox';
import { RefusalCode } from '../../protocol/paidRequest';
import { ExitCode } from '../../wrappers/exitCodes';
import { ChannelStatus, ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { keyToInt, signVoucher } from '../../wrappers/voucher';
import { ChainView } from '../../worker/src/chain';
import { ContractOpener } from '../../wrappers/toncenter';
import { Claimer } from '../../worker/src/claimer';
import { CooperativeClose } from '../../worker/src/cooperativeClose';
import { createLogger } from '../../worker/src/log';
import { PaymentError, Payments } from '../../worker/src/payments';
import { WorkerStore } from '../../worker/src/store/store';
import { openChannel } from '../helpers/channel';
import { OP, amounts, delivered, paidOut } from '../helpers/messages';
import { deployProbe, linkContracts } from '../helpers/registry';
import { balanceOf } from '../helpers/safety';
import { ServingFixture, daemonPayments, deployServing } from '../helpers/serving';
import { sandboxOpener } from '../worker/helpers';

jest.setTimeout(60_000);

const DEPOSIT = toNano('10');

/**
 * An opener whose get-method calls on one address wait, while held, for a
 * release the test controls: a chain read that takes its time, as a real
 * one does.
 */
function gatedOpener(base: ContractOpener) {
    let held: Address | undefined;
    let once = false;
    let release = () => {};
    let released = Promise.resolve();
    let arrived = () => {};
    const gate = {
        /** Resolves once a held read is waiting. */
        reached: Promise.resolve(),
        /** Holds get-method calls on `address` (only the first one, with `first`) until release(). */
        hold(address: Address, first = false) {
            held = address;
            once = first;
            released = new Promise<void>((r) => (release = r));
            gate.reached = new Promise<void>((r) => (arrived = r));
        },
        release() {
            held = undefined;
            release();
        },
    };
    const opener: ContractOpener = {
        ...base,
        open: <T extends Contract>(c: T) => {
            const opened = base.open(c);
            return new Proxy(opened, {
                get(target, prop, receiver) {
                    const v = Reflect.get(target, prop, receiver);
                    if (typeof prop !== 'string' || !prop.startsWith('get') || typeof v !== 'function') return v;
                    return async (...args: unknown[]) => {
                        if (held && c.address.equals(held)) {
                            if (once) held = undefined;
                            arrived();
                            await released;
                        }
                        return v.apply(target, args);
                    };
                },
            }) as OpenedContract<T>;
        },
    };
    return { opener, gate };
}

/**
 * Property: a worker that approves a final total serves nothing beyond it
 * (a request caught in an await during the approval is not served unpaid),
 * and a cooperative close whose payout bounces leaves the worker's share
 * claimable by the worker instead of refunding it to the client.
 */
describe('cooperativeClose', () => {
    let f: ServingFixture;
    let channel: SandboxContract<ExtendedPaymentChannel>;
    let start: BlockchainSnapshot;
    let store: WorkerStore;
    let gate: ReturnType<typeof gatedOpener>['gate'];
    let chain: ChainView;
    let payments: Payments;
    let closer: CooperativeClose;

    beforeAll(async () => {
        f = await deployServing();
        ({ channel } = await openChannel(f, { nonce: 1n, deposit: DEPOSIT }));
        start = f.blockchain.snapshot();
    });

    beforeEach(async () => {
        await f.blockchain.loadFrom(start);
        store = WorkerStore.open(':memory:');
        const gated = gatedOpener(sandboxOpener(f.blockchain));
        gate = gated.gate;
        ({ chain, payments } = daemonPayments(f, { store, opener: gated.opener }));
        closer = new CooperativeClose({ store, chain, workerStake: f.workerStake.address, receiptKey: f.workerKeys, inFlight: (k) => payments.inFlight(k), now: () => f.blockchain.now! });
    });

    afterEach(() => store.close());

    const key = () => channel.address.toString();
    const admit = () => payments.admit({ channel: key(), promptBound: 2000, maxTokens: 200, modelId: f.modelId });
    /** Serves one request of `prompt` prompt tokens and 100 completion tokens; returns its cost. */
    async function serve(prompt: number): Promise<bigint> {
        const a = await admit();
        const r = await payments.settle(a, {
            modelId: f.modelId,
            usage: { promptTokens: prompt, cachedTokens: 0, completionTokens: 100, reasoningTokens: 0, estimated: false },
            requestHash: Buffer.alloc(32, 1),
            responseHash: Buffer.alloc(32, 2),
        });
        return BigInt(r!.cost);
    }
    /** The protocol fee and the worker's share of a payout of `total` on this channel. */
    async function split(total: bigint) {
        const terms = await channel.getTerms();
        const fee = (total * terms.feeBps) / 10_000n;
        return { fee, share: total - fee };
    }
    /** Governance links another Escrow (or the old one back) and the WorkerStake takes the new links. */
    async function relink(escrow: Address) {
        await linkContracts(f, { staking: f.staking.address, escrow, verifier: f.verifier.address });
        const version = await f.workerStake.getConfigVersion();
        const synced = await f.staking.sendSyncWorkerConfig(f.stranger.getSender(), f.operator.address, keyToInt(f.workerKeys.publicKey));
        expect(synced.transactions).toHaveTransaction({ to: f.workerStake.address, success: true });
        expect(await f.workerStake.getConfigVersion()).toBeGreaterThan(version);
    }
    /** The daemon's claimer over this test's store, claiming with the operator wallet; `sends` collects what it sent. */
    function daemonClaimer() {
        const sends: SendMessageResult[] = [];
        const sender: Sender = { address: f.operator.address, send: async (args: SenderArguments) => void sends.push(await f.operator.send(args)) };
        const claimer = new Claimer({
            store,
            chain: new ChainView(sandboxOpener(f.blockchain), 0),
            sender,
            logger: createLogger({ level: 'silent' }),
            threshold: toNano('1000'),
            intervalMs: 60_000,
            retryInitialMs: 60_000,
            retryMaxMs: 600_000,
            confirmTimeoutMs: 5_000,
        });
        return { claimer, sends };
    }
    const approve = (total: bigint) =>
        closer.approve({ channel: key(), body: { total: total.toString(), signature: signVoucher(channel.address, total, f.clientKeys.secretKey).signature.toString('hex') } });

    it('a request whose chain read is still pending when the worker approves a final total is refused: nothing reserved, nothing signed', async () => {
        const total = await serve(1000);
        expect(store.receiptsOf(key())).toHaveLength(1);

        // The admission's read of the WorkerStake (model, prices) takes its time...
        gate.hold(f.workerStake.address);
        const admission = admit().then(
            (a) => ({ admitted: a }),
            (e: unknown) => ({ refused: e }),
        );
        await gate.reached;
        // ...meanwhile the client asks to close for the total it owes, and the worker approves.
        const approval = await approve(total);
        expect(approval.total).toBe(total.toString());
        expect(store.channelState(key())).toBe('closing');
        gate.release();

        const outcome = await admission;
        expect('refused' in outcome).toBe(true);
        const e = (outcome as { refused: unknown }).refused;
        expect(e).toBeInstanceOf(PaymentError);
        expect(e).toMatchObject({ status: 402, code: RefusalCode.ChannelNotOpen });
        expect(payments.inFlight(key())).toBe(false);
        expect(payments.pending).toBe(0);
        expect(store.receiptsOf(key())).toHaveLength(1);
        expect(store.receiptTotal(key())).toBe(total);

        // The approved total is final: the close pays exactly it and refunds the rest.
        const voucher = signVoucher(channel.address, total, f.clientKeys.secretKey);
        const r = await channel.sendCooperativeClose(f.client.getSender(), voucher, Buffer.from(approval.signature, 'hex'));
        expect(paidOut(r.transactions, channel.address, f.operator.address) + delivered(r.transactions, channel.address, f.treasury.address, OP.ProtocolFee)).toBe(total);
        expect(amounts(r.transactions, channel.address, f.client.address, OP.ChannelRefund)).toBe(DEPOSIT - total);
        await expect(admit()).rejects.toMatchObject({ status: 402, code: RefusalCode.ChannelNotOpen });
    });

    it('a request admitted while the approval reads the chain makes the approval wait: 409 request_in_flight', async () => {
        const total = await serve(1000);
        // The approval's read of the channel takes its time...
        gate.hold(channel.address, true);
        const approval = approve(total).then(
            (a) => ({ approved: a }),
            (e: unknown) => ({ refused: e }),
        );
        await gate.reached;
        // ...meanwhile a request is admitted (its reads are not held) and is being served.
        const a = await admit();
        expect(payments.inFlight(key())).toBe(true);
        gate.release();
        const outcome = await approval;
        expect('refused' in outcome).toBe(true);
        expect((outcome as { refused: unknown }).refused).toMatchObject({ status: 409, code: RefusalCode.RequestInFlight });
        expect(store.latestVoucher(key())).toBeUndefined();
        expect(store.channelState(key())).toBe('open');
        payments.release(a);
    });

    it("a cooperative close pays the worker's share straight to the WorkerStake's owner, whatever the WorkerStake's links say, and the claimer lets the closed channel go", async () => {
        const total = (await serve(1500)) + (await serve(1200));
        const { fee, share } = await split(total);
        expect(fee).toBeGreaterThan(0n);

        // Governance moves the Escrow: the payout no longer passes through the WorkerStake, so this cannot stop it.
        await relink((await deployProbe(f, 77n)).address);

        const approval = await approve(total);
        const voucher = signVoucher(channel.address, total, f.clientKeys.secretKey);
        const ownerBefore = await balanceOf(f.blockchain, f.operator.address);
        const closed = await channel.sendCooperativeClose(f.client.getSender(), voucher, Buffer.from(approval.signature, 'hex'));
        // The client got exactly the unspent deposit, once; the treasury its fee; the owner the share, in one non-bounceable message.
        expect(amounts(closed.transactions, channel.address, f.client.address, OP.ChannelRefund)).toBe(DEPOSIT - total);
        // The closing client gets the refund and its unspent value in one message.
        expect(closed.transactions.filter((t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.src.equals(channel.address) && t.inMessage.info.dest.equals(f.client.address))).toHaveLength(
            1,
        );
        expect(delivered(closed.transactions, channel.address, f.treasury.address, OP.ProtocolFee)).toBe(fee);
        expect(paidOut(closed.transactions, channel.address, f.operator.address)).toBe(share);
        expect(delivered(closed.transactions, channel.address, f.operator.address, OP.WorkerPaid)).toBe(share);
        expect(closed.transactions).not.toHaveTransaction({ to: channel.address, inMessageBounced: true });
        expect(closed.transactions).not.toHaveTransaction({ to: f.workerStake.address });
        expect(await balanceOf(f.blockchain, f.operator.address)).toBeGreaterThan(ownerBefore + share - toNano('0.01'));
        const st = await channel.getState();
        expect(st.status).toBe(ChannelStatus.Closed);
        expect(st.paid).toBe(total);
        expect(st.refunded).toBe(DEPOSIT - total);
        expect(st.claimable).toBe(0n);
        expect(st.feeDue).toBe(0n);
        expect(await balanceOf(f.blockchain, channel.address)).toBe(ExtendedPaymentChannel.STORAGE_RESERVE);

        // Nothing is due: the daemon's claimer sends nothing and lets the channel go; a Claim is refused.
        const { claimer, sends } = daemonClaimer();
        expect(await claimer.tick()).toEqual([]);
        expect(store.channelState(key())).toBe('closed');
        expect(sends).toHaveLength(0);
        const none = await channel.sendClaim(f.stranger.getSender(), voucher);
        expect(none.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NOT_OPEN });
    });
});
