import { Address } from '@ton/core';
import { ReceiptWire, RefusalCode, decodeVoucher } from '../../lib/protocol';
import { ChannelStatus } from '../../wrappers/PaymentChannel';
import { Prices, makeSignedReceipt, receiptMaxCost } from '../../wrappers/receipt';
import { SignedVoucher, keyToInt, verifyVoucher } from '../../wrappers/voucher';
import type { ChainView } from './chain';
import type { Usage } from './inference/types';
import type { VoucherRecord, WorkerStore } from './store/store';

/**
 * The worker's side of the payment rules (DESIGN.md section 3): whom to
 * serve, and what to sign and store after serving.
 *
 * Admission reserves the request's maximum cost on its channel until the
 * request is settled, so concurrent requests on one channel cannot together
 * exceed the deposit.
 */

export class PaymentError extends Error {
    constructor(
        readonly status: number,
        readonly code: string,
        message: string,
    ) {
        super(message);
        this.name = 'PaymentError';
    }
}

export interface PaymentsOptions {
    store: WorkerStore;
    chain: ChainView;
    /** This worker's WorkerStake. */
    workerStake: Address;
    /** Ed25519 receipt key (public 32 bytes, secret 64 bytes). */
    receiptKey: { publicKey: Buffer; secretKey: Buffer };
    /** Prices to charge (nanoTON per million tokens): the WorkerStake's prices in force. */
    prices: () => Promise<Prices>;
    /** Receipts the newest voucher may leave uncovered (default 1). */
    maxUnpaidReceipts?: number;
    now?: () => number;
}

export interface Admission {
    channel: Address;
    /** The store's key for the channel (friendly form). */
    channelKey: string;
    voucher?: SignedVoucher;
    prices: Prices;
    maxCost: bigint;
    settled: boolean;
}

export interface SettleInput {
    modelId: bigint;
    usage: Usage;
    requestHash: Buffer;
    responseHash: Buffer;
}

export class Payments {
    private readonly reserved = new Map<string, bigint>();
    private readonly now: () => number;

    constructor(private readonly o: PaymentsOptions) {
        this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
    }

    /** Upper bound on the cost of a request: every prompt byte a token, max_tokens generated (all reasoning). */
    maxCost(prices: Prices, promptBound: number, maxTokens: number): bigint {
        const m = BigInt(maxTokens);
        return receiptMaxCost(prices, { prompt: BigInt(promptBound), cached: 0n, completion: m, reasoning: m });
    }

    async admit(req: { channel: string; voucher?: string; promptBound: number; maxTokens: number }): Promise<Admission> {
        let channel: Address;
        try {
            channel = Address.parse(req.channel);
        } catch {
            throw new PaymentError(400, RefusalCode.UnknownChannel, 'channel is not a valid address');
        }
        let voucher: SignedVoucher | undefined;
        if (req.voucher !== undefined) {
            try {
                voucher = decodeVoucher(req.voucher);
            } catch (e) {
                throw new PaymentError(402, RefusalCode.BadVoucher, `voucher: ${(e as Error).message}`);
            }
            if (!voucher.channel.equals(channel)) throw new PaymentError(402, RefusalCode.BadVoucher, 'voucher names another channel');
        }
        let state;
        try {
            state = await this.o.chain.channel(channel);
        } catch (e) {
            throw new PaymentError(503, RefusalCode.BackendDown, `cannot read the channel from the chain: ${(e as Error).message}`);
        }
        if (!state) throw new PaymentError(402, RefusalCode.UnknownChannel, 'no payment channel is deployed at that address');
        if (!state.workerStake.equals(this.o.workerStake) || state.workerKey !== keyToInt(this.o.receiptKey.publicKey))
            throw new PaymentError(403, RefusalCode.WrongWorker, 'the channel is for another worker');
        if (state.status !== ChannelStatus.Open) throw new PaymentError(402, RefusalCode.ChannelNotOpen, 'the channel is not open');
        const clientKey = Buffer.from(state.clientKey.toString(16).padStart(64, '0'), 'hex');
        const key = channel.toString();
        if (voucher) {
            if (!verifyVoucher(channel, voucher.total, voucher.signature, clientKey))
                throw new PaymentError(402, RefusalCode.BadVoucher, 'voucher signature does not verify with the channel client key');
            const latest = this.o.store.latestVoucher(key);
            if ((latest && voucher.total < latest.total) || voucher.total < state.paid)
                throw new PaymentError(402, RefusalCode.StaleVoucher, 'voucher is older than one already received');
            // A valid voucher is money whatever happens to this request
            // (refused, cut, the process killed): on disk before serving.
            this.o.store.recordVoucher({ channel: key, total: voucher.total, signature: voucher.signature, receivedAt: this.now() });
        }
        // A client that stops sending vouchers stops getting answers.
        const covered = this.o.store.latestVoucher(key)?.total ?? 0n;
        const uncovered = this.o.store.receiptsAbove(key, covered);
        if (uncovered > (this.o.maxUnpaidReceipts ?? 1))
            throw new PaymentError(
                402,
                RefusalCode.VoucherRequired,
                `${uncovered} receipts are not covered by a voucher: send one for the cumulative cost of ${this.o.store.receiptTotal(key)} nanoTON`,
            );
        let prices: Prices;
        try {
            prices = await this.o.prices();
        } catch (e) {
            throw new PaymentError(503, RefusalCode.BackendDown, `cannot read prices: ${(e as Error).message}`);
        }
        const maxCost = this.maxCost(prices, req.promptBound, req.maxTokens);
        // No await from here on: check and reservation are one step.
        const owed = this.o.store.receiptTotal(key) + (this.reserved.get(key) ?? 0n);
        if (state.deposit < owed + maxCost)
            throw new PaymentError(
                402,
                RefusalCode.InsufficientDeposit,
                `deposit ${state.deposit} does not cover unpaid receipts and reservations (${owed}) plus this request's maximum cost (${maxCost}) nanoTON`,
            );
        this.reserved.set(key, (this.reserved.get(key) ?? 0n) + maxCost);
        return { channel, channelKey: key, voucher, prices, maxCost, settled: false };
    }

    private voucherRecord(a: Admission): VoucherRecord | undefined {
        return a.voucher ? { channel: a.channelKey, total: a.voucher.total, signature: a.voucher.signature, receivedAt: this.now() } : undefined;
    }

    private unreserve(a: Admission) {
        if (a.settled) return;
        a.settled = true;
        const left = (this.reserved.get(a.channelKey) ?? 0n) - a.maxCost;
        if (left > 0n) this.reserved.set(a.channelKey, left);
        else this.reserved.delete(a.channelKey);
    }

    /** Nothing served (backend down, refused): keep the voucher (it is money), charge nothing. */
    release(a: Admission): void {
        this.unreserve(a);
        const v = this.voucherRecord(a);
        if (v) this.o.store.recordVoucher(v);
    }

    /**
     * Signs the receipt for what was delivered and stores it with the
     * request's voucher in one fsync'd transaction. Returns null when the
     * usage costs nothing (a receipt of 0 would repeat the cumulative total).
     */
    settle(a: Admission, s: SettleInput): ReceiptWire | null {
        if (a.settled) throw new Error('request already settled');
        this.unreserve(a);
        const usage = {
            prompt: BigInt(s.usage.promptTokens),
            cached: BigInt(s.usage.cachedTokens),
            completion: BigInt(s.usage.completionTokens),
            reasoning: BigInt(s.usage.reasoningTokens),
        };
        const cost = receiptMaxCost(a.prices, usage);
        if (cost === 0n) {
            const v = this.voucherRecord(a);
            if (v) this.o.store.recordVoucher(v);
            return null;
        }
        const store = this.o.store;
        const requestId = store.nextRequestId();
        const cumulative = store.receiptTotal(a.channelKey) + cost;
        const time = this.now();
        const { evidence } = makeSignedReceipt(
            {
                workerStake: this.o.workerStake,
                channel: a.channel,
                requestId,
                modelId: s.modelId,
                usage,
                cost,
                cumulativeCost: cumulative,
                time: BigInt(time),
                requestHash: BigInt('0x' + s.requestHash.toString('hex')),
                responseHash: BigInt('0x' + s.responseHash.toString('hex')),
            },
            this.o.receiptKey.secretKey,
        );
        const boc = evidence.toBoc();
        store.appendReceipt(
            {
                channel: a.channelKey,
                requestId: requestId.toString(),
                boc,
                modelId: s.modelId.toString(16).padStart(64, '0'),
                promptTokens: s.usage.promptTokens,
                cachedTokens: s.usage.cachedTokens,
                completionTokens: s.usage.completionTokens,
                reasoningTokens: s.usage.reasoningTokens,
                cost,
                cumulative,
                createdAt: time,
                requestHash: s.requestHash.toString('hex'),
                responseHash: s.responseHash.toString('hex'),
            },
            this.voucherRecord(a),
        );
        return { boc: boc.toString('base64'), requestId: requestId.toString(), cost: cost.toString(), cumulativeCost: cumulative.toString() };
    }

    /** Requests admitted and not yet settled. */
    get pending(): number {
        return this.reserved.size;
    }
}
