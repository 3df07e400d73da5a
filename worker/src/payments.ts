import { Address } from '@ton/core';
import { ReceiptWire, ReceiptsAnswer, decodeVoucher, requestMaxCost } from '../../protocol/paidRequest';
import { ChannelState, ChannelStatus } from '../../wrappers/PaymentChannel';
import { Prices, makeSignedReceipt, receiptMaxCost } from '../../wrappers/receipt';
import { SignedVoucher, verifyVoucher } from '../../wrappers/voucher';
import type { ChainView } from './chain';
import { ChannelGate } from './channelGate';
import type { ChannelVoucher } from './channelVoucher';
import type { Usage } from './inference/types';
import { PriceQuote, PriceStaleError, WorkerPricing } from './pricing';
import { ReceiptRecovery, ReceiptsQuery } from './receiptRecovery';
import { Operation, Refusal, RefusalKind } from './refusal';
import { StorageGuard, isStorageFault } from './storageGuard';
import type { VoucherRecord, WorkerStore } from './store/store';
import { INT64_MAX, bytesToUint, hex256, uint256ToBytes } from '../../helpers/bytes';

/** A refusal of payment: the name callers and tests have always caught it by. */
export { Refusal as PaymentError } from './refusal';

/**
 * The worker's side of the payment rules (DESIGN.md section 3): whom to
 * serve, and what to sign and store after serving.
 *
 * Admission reserves the request's maximum cost on its channel until the
 * request is settled, so concurrent requests on one channel cannot together
 * exceed the deposit.
 */

export interface PaymentsOptions {
    store: WorkerStore;
    chain: ChainView;
    /** This worker's WorkerStake. */
    workerStake: Address;
    /** Ed25519 receipt key (public 32 bytes, secret 64 bytes). */
    receiptKey: { publicKey: Buffer; secretKey: Buffer };
    /** What to charge: terms no receipt can be proven to overcharge by (worker/src/pricing.ts). */
    pricing: WorkerPricing;
    /**
     * The worker's credit to one channel, nanoTON: what is served and not yet
     * covered by a voucher, plus the most every request in flight can cost,
     * never passes it (default: DEFAULT_CREDIT_TOKENS at the highest price in
     * force). One request is served whatever its cost when nothing else is
     * owed or in flight.
     */
    creditLimit?: bigint;
    now?: () => number;
}

export interface Admission {
    channel: Address;
    /** The store's key for the channel (friendly form). */
    channelKey: string;
    voucher?: SignedVoucher;
    /** The model served: the one the WorkerStake is attested for. */
    modelId: bigint;
    /** The price read the request was admitted on and its terms; settlement charges at most those. */
    quote: PriceQuote;
    maxCost: bigint;
    settled: boolean;
}

export interface SettleInput {
    modelId: bigint;
    usage: Usage;
    requestHash: Buffer;
    responseHash: Buffer;
}

/** What admission needs of a request. */
export interface AdmissionRequest {
    channel: string;
    voucher?: string;
    promptBound: number;
    maxTokens: number;
    modelId: bigint;
}

/**
 * Without a configured credit limit, the worker's credit is this many
 * tokens at its highest per-token price: a few long requests' worth,
 * whatever the prices.
 */
export const DEFAULT_CREDIT_TOKENS = 32_768n;

/** The credit limit that applies at `prices` (nanoTON per million tokens). */
export function creditLimitAt(prices: Prices, configured?: bigint): bigint {
    if (configured !== undefined) return configured;
    const highest = [prices.prompt, prices.cached, prices.completion, prices.reasoning].reduce((a, b) => (a > b ? a : b));
    return (DEFAULT_CREDIT_TOKENS * highest) / 1_000_000n;
}

/** The least time between two reads of one channel past the cache on behalf of a refused request. */
const FRESH_READ_INTERVAL_MS = 1000;

export class Payments {
    private readonly reserved = new Map<string, bigint>();
    /** The latest read of each channel past the chain view's cache for admission: when it starts (ms) and its end. */
    private readonly freshReads = new Map<string, { startsAt: number; done: Promise<void> }>();
    private readonly now: () => number;
    private readonly gate: ChannelGate;
    private readonly storage: StorageGuard;
    private readonly recovery: ReceiptRecovery;

    constructor(private readonly o: PaymentsOptions) {
        this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
        this.gate = new ChannelGate(o);
        this.storage = new StorageGuard(o.store);
        this.recovery = new ReceiptRecovery({ store: o.store, gate: this.gate, now: this.now });
    }

    /** Why the store cannot take writes now, if it cannot. */
    get storageProblem(): string | undefined {
        return this.storage.problem;
    }

    /**
     * Receipt recovery (worker/src/receiptRecovery.ts): the stored receipts
     * of the channel above `after`, for the channel's client only.
     */
    receiptsFor(q: ReceiptsQuery): Promise<ReceiptsAnswer> {
        return this.recovery.answer(q);
    }

    /** Upper bound on the cost of a request: every prompt byte a token, max_tokens generated (all reasoning). */
    maxCost(prices: Prices, promptBound: number, maxTokens: number): bigint {
        return requestMaxCost(prices, promptBound, maxTokens);
    }

    /**
     * Decides whether to serve a request. Every chain read happens first;
     * the decision and the reservation then run with no await in between,
     * so a cooperative close approved meanwhile, or a concurrent request,
     * is always seen (worker/src/cooperativeClose.ts relies on this).
     */
    async admit(req: AdmissionRequest): Promise<Admission> {
        const arrived = Date.now();
        try {
            return await this.decide(req, false);
        } catch (e) {
            // The chain view's deposit may predate a top-up that has landed (the client tops up and sends again at
            // once): a refusal for want of deposit rests on a chain read begun after the request arrived. Such reads
            // are shared and start at most once a second per channel, so refused requests cannot turn into a stream
            // of chain reads; a request waits up to that second for the next one rather than being refused on an
            // older answer.
            if (!(e instanceof Refusal) || e.kind !== 'insufficient_deposit') throw e;
            await this.freshRead(req.channel, arrived);
            return this.decide(req, false);
        }
    }

    /**
     * A read of the channel past the chain view's cache that begins at
     * `notBefore` or later (the cache then holds its answer): the one already
     * scheduled when it qualifies, else a new one, FRESH_READ_INTERVAL_MS
     * after the last. A failed read leaves the cache as it was; the decision
     * that follows refuses on it.
     */
    private freshRead(channel: string, notBefore: number): Promise<void> {
        const last = this.freshReads.get(channel);
        if (last && last.startsAt >= notBefore) return last.done;
        const startsAt = Math.max(Date.now(), (last?.startsAt ?? -Infinity) + FRESH_READ_INTERVAL_MS);
        const address = this.gate.address(channel, 'admission');
        // The clock may tick past startsAt before this line: Node.js 24 warns of a negative delay (it waits 1 ms either way).
        const done = new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, startsAt - Date.now()))).then(() =>
            this.gate.channel(address, 'admission', true).then(
                () => undefined,
                () => undefined,
            ),
        );
        this.freshReads.set(channel, { startsAt, done });
        return done;
    }

    private async decide(req: AdmissionRequest, fresh: boolean): Promise<Admission> {
        const refuse = (kind: RefusalKind, message: string) => new Refusal(kind, message, { during: 'admission' });
        const channel = this.gate.address(req.channel, 'admission');
        const voucher = req.voucher === undefined ? undefined : this.decodeVoucher(channel, req.voucher, 'admission');
        const state = await this.gate.channel(channel, 'admission', fresh);
        if (state.status !== ChannelStatus.Open) throw refuse('channel_not_open', 'the channel is not open');
        this.refuseIfClosedHere(channel.toString());
        // Before any voucher is kept: a look-alike contract's vouchers would only feed the claimer's gas.
        const ws = await this.gate.payoutChannel(channel, state, 'admission');
        const key = channel.toString();
        // A valid voucher is money whatever happens to this request (refused, cut, the process killed): on disk
        // before serving. Killed from here on, the worker still has it; a power cut before the receipt's fsync'd
        // commit (which carries it too) could lose it, and the client sends it again.
        if (voucher) this.keepVoucher(channel, state, voucher, 'admission', 'process');
        // Receipts for any other model than the attested one would be slashable (ProveWrongModel).
        const attestedModel = ws.attestation?.modelId ?? ws.state.modelId;
        if (req.modelId !== attestedModel) throw refuse('model_not_attested', `this worker is attested for model ${hex256(attestedModel)} only`);
        let quote: PriceQuote;
        try {
            quote = await this.o.pricing.quote(this.now());
        } catch (e) {
            if (e instanceof PriceStaleError) throw refuse('prices_unavailable', `cannot price the request safely: ${e.message}`);
            throw refuse('chain_unavailable', `cannot read prices: ${(e as Error).message}`);
        }

        // No await from here on: checks and reservation are one step.
        this.refuseIfClosedHere(key);
        // Vouchers of the current key stop counting when an announced key
        // takes effect: the worker serves nothing it could not redeem in
        // time (the claimer redeems the newest voucher before then).
        if (state.pendingClientKey !== 0n)
            throw refuse('client_key_changing', `the channel's client key changes at ${state.pendingKeyAt}; the worker serves the channel again once the new key is in force`);
        // A receipt could not be stored: serve nothing that cannot be paid for.
        this.storage.check();
        const maxCost = this.maxCost(quote.prices, req.promptBound, req.maxTokens);
        // The credit rule: a client that stops sending vouchers stops getting answers, and what the worker could be
        // left unpaid for (served and uncovered, plus everything in flight, this request included) stays within the
        // credit limit. A lone request is always served: nothing is owed or in flight then.
        const served = this.o.store.receiptTotal(key);
        const covered = this.o.store.latestVoucher(key)?.total ?? 0n;
        const uncovered = served > covered ? served - covered : 0n;
        const inFlight = this.reserved.get(key) ?? 0n;
        const limit = creditLimitAt(quote.prices, this.o.creditLimit);
        if (uncovered + inFlight > 0n && uncovered + inFlight + maxCost > limit) {
            if (inFlight === 0n) throw refuse('voucher_required', `${uncovered} nanoTON served is not covered by a voucher: send one for the cumulative cost of ${served} nanoTON`);
            throw new Refusal(
                'credit_limit',
                `the channel's requests in flight (up to ${inFlight} nanoTON) and ${uncovered} nanoTON served unpaid leave no room for this request's ${maxCost} within the worker's credit limit of ${limit} nanoTON: retry when one ends`,
                { during: 'admission', retryAfter: 1 },
            );
        }
        const owed = served + inFlight;
        if (state.deposit < owed + maxCost)
            throw refuse('insufficient_deposit', `deposit ${state.deposit} does not cover unpaid receipts and reservations (${owed}) plus this request's maximum cost (${maxCost}) nanoTON`);
        this.reserved.set(key, (this.reserved.get(key) ?? 0n) + maxCost);
        return { channel, channelKey: key, voucher, modelId: req.modelId, quote, maxCost, settled: false };
    }

    /**
     * A voucher sent on its own (POST /v1/channels/:channel/voucher), as soon
     * as the client has verified the receipt it pays for: checked as at
     * admission and stored, answered once on disk (a group commit shared with
     * the receipts and vouchers of the same moment). Answers the newest voucher total
     * kept and the cumulative cost served, so the client sees what is unpaid.
     */
    async acceptVoucher(q: ChannelVoucher): Promise<{ total: string; served: string }> {
        const { channel } = q;
        const voucher: SignedVoucher = { channel, total: q.body.total, signature: q.body.signature };
        const state = await this.gate.channel(channel, 'voucher');
        if (state.status !== ChannelStatus.Open && state.status !== ChannelStatus.Closing) throw new Refusal('channel_not_open', 'the channel is closed', { during: 'voucher' });
        // Before it is kept: a look-alike contract's vouchers would only feed the claimer's gas.
        await this.gate.payoutChannel(channel, state, 'voucher');
        this.keepVoucher(channel, state, voucher, 'voucher', 'process');
        await this.storage.durable('the voucher', () => this.o.store.durable());
        const key = channel.toString();
        return { total: (this.o.store.latestVoucher(key)?.total ?? 0n).toString(), served: this.o.store.receiptTotal(key).toString() };
    }

    private decodeVoucher(channel: Address, text: string, during: Operation): SignedVoucher {
        let voucher: SignedVoucher;
        try {
            voucher = decodeVoucher(text);
        } catch (e) {
            throw new Refusal('invalid_voucher', `voucher: ${(e as Error).message}`, { during });
        }
        if (!voucher.channel.equals(channel)) throw new Refusal('invalid_voucher', 'voucher names another channel', { during });
        // No deposit reaches 2^63 nanoTON and the store cannot hold more: a client mistake, not a server error.
        if (voucher.total > INT64_MAX) throw new Refusal('invalid_voucher', `voucher total ${voucher.total} is out of range`, { during });
        return voucher;
    }

    /** Checks a voucher against the channel's client key and what is already held, and stores it. */
    private keepVoucher(channel: Address, state: ChannelState, voucher: SignedVoucher, during: Operation, durability: 'fsync' | 'process') {
        if (!verifyVoucher(channel, voucher.total, voucher.signature, uint256ToBytes(state.clientKey)))
            throw new Refusal('invalid_voucher', 'voucher signature does not verify with the channel client key', { during });
        const key = channel.toString();
        const latest = this.o.store.latestVoucher(key);
        if ((latest && voucher.total < latest.total) || voucher.total < state.paid) {
            // With a request, an older voucher adds nothing and refuses nothing: the client sends each voucher on its
            // own too, so the newer one may simply have arrived first. On its own, the client is told.
            if (during === 'admission') return;
            throw new Refusal('stale_voucher', 'voucher is older than one already received', { during });
        }
        this.storage.check();
        this.storage.write('the voucher', () => this.o.store.recordVoucher({ channel: key, total: voucher.total, signature: voucher.signature, receivedAt: this.now() }, durability));
    }

    private refuseIfClosedHere(key: string) {
        const localState = this.o.store.channelState(key);
        if (localState !== undefined && localState !== 'open') throw new Refusal('channel_not_open', `the channel is ${localState}`, { during: 'admission' });
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
        // Already stored at admission; this repeat must not turn a refusal into a crash on a full disk.
        if (v)
            try {
                this.o.store.recordVoucher(v);
            } catch (e) {
                if (!isStorageFault(e)) throw e;
            }
    }

    /**
     * Signs the receipt for what was delivered and stores it with the
     * request's voucher in one transaction, resolving once that is on disk
     * (a group commit: the requests settling at the same moment share one
     * fsync). The receipt is assigned its cumulative total and written before
     * the first await, so concurrent settlements on a channel can neither
     * interleave nor reorder. Returns null when the usage costs nothing (a
     * receipt of 0 would repeat the cumulative total).
     */
    async settle(a: Admission, s: SettleInput): Promise<ReceiptWire | null> {
        if (a.settled) throw new Error('request already settled');
        if (s.modelId !== a.modelId) throw new Error(`settling model ${s.modelId.toString(16)}, admitted for ${a.modelId.toString(16)}`);
        this.unreserve(a);
        const usage = {
            prompt: BigInt(s.usage.promptTokens),
            cached: BigInt(s.usage.cachedTokens),
            completion: BigInt(s.usage.completionTokens),
            reasoning: BigInt(s.usage.reasoningTokens),
        };
        const time = this.now();
        // Terms still safe at the receipt's time; none (the price read grew
        // too old while serving): the request is not charged rather than
        // charged at terms a cut may have made provable overcharge.
        const terms = this.o.pricing.settlementTerms(a.quote, time);
        const cost = terms ? receiptMaxCost(terms, usage) : 0n;
        if (cost === 0n) {
            const v = this.voucherRecord(a);
            if (v) this.storage.write('the voucher', () => this.o.store.recordVoucher(v));
            return null;
        }
        const store = this.o.store;
        const requestId = store.nextRequestId();
        const cumulative = store.receiptTotal(a.channelKey) + cost;
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
                requestHash: bytesToUint(s.requestHash),
                responseHash: bytesToUint(s.responseHash),
            },
            this.o.receiptKey.secretKey,
        );
        const boc = evidence.toBoc();
        this.storage.write('the receipt', () =>
            store.deferred(() =>
                store.appendReceipt(
                    {
                        channel: a.channelKey,
                        requestId: requestId.toString(),
                        boc,
                        modelId: hex256(s.modelId),
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
                ),
            ),
        );
        await this.storage.durable('the receipt', () => store.durable());
        return { boc: boc.toString('base64'), requestId: requestId.toString(), cost: cost.toString(), cumulativeCost: cumulative.toString() };
    }

    /** True while a request on this channel (store key) is admitted and not yet settled. */
    inFlight(channelKey: string): boolean {
        return this.reserved.has(channelKey);
    }

    /** Requests admitted and not yet settled. */
    get pending(): number {
        return this.reserved.size;
    }
}
