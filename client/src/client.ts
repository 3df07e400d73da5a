import type { EmbeddingsRequest } from '../../protocol/embeddings';
import type { ChatCompletionRequest } from '../../protocol/paidRequest';
import { paidCall, CallParts, CallResult } from './call';
import { PaidOperation, operationBounds } from './operation';
import { closeChannel, CloseResult } from './channels/close';
import { requestCostBound, unaffordable } from './channels/affordability';
import { ensureChannel } from './channels/ensure';
import type { ChannelLease } from './channels/lease';
import { openChannel } from './channels/open';
import { ChannelPool } from './channels/pool';
import { ChannelSequencer } from './channels/sequencer';
import { topUp, topUpExactly } from './channels/topUp';
import { VoucherPush } from './channels/voucherPush';
import { Discovery, WorkerInfo } from './discovery';
import type { MeasuredStats } from './gateway/ranking';
import { ClientContext, ClientOptions, clientContext } from './options';
import { FraudProofOutcome, proveOvercharge } from './receipts/fraudProof';
import { ReceiptPayer } from './receipts/payment';
import { ReceiptRecovery } from './receipts/recovery';
import { Rejections } from './receipts/rejection';
import { ReceiptVerifier } from './receipts/verifier';
import type { ChannelRow } from './store';

export { CocoonError } from './cocoonError';
export type { CallResult } from './call';
export type { CloseResult } from './channels/close';
export type { ClientOptions } from './options';
export type { FraudProofOutcome } from './receipts/fraudProof';

/**
 * The Cocoon client SDK: pays for private inference one verified receipt at
 * a time. For each request it (1) makes sure an open, funded channel to the
 * worker exists, shared by concurrent requests while its deposit covers them
 * (./channels), (2) seals the request to the worker's attested X25519 key
 * with the voucher that covers every receipt verified so far, (3) opens the
 * sealed answer (./transport), and (4) verifies the receipt, in the
 * channel's receipt order, with the one verifier of ./receipts (the same
 * rules for a receipt recovered after its final frame was lost) before it
 * signs the voucher that pays for it and sends it to the worker at once
 * (the worker's credit rule). A receipt that
 * breaks any rule is kept as evidence, the worker is excluded, and nothing
 * is signed; an overcharge the WorkerStake would slash for is also proven on
 * chain.
 *
 * This class only holds the client's state and wires those parts together.
 */
export class CocoonClient {
    readonly discovery: Discovery;
    /** Workers caught with a bad receipt (by WorkerStake address). */
    readonly excluded = new Map<string, string>();
    /** What this client measured of each worker (by WorkerStake address): the ranking's input (./gateway/ranking.ts). */
    readonly stats = new Map<string, MeasuredStats>();
    /** Outcomes of the overcharge fraud proofs considered so far (for callers and tests to await). */
    readonly fraudProofs: Array<Promise<FraudProofOutcome>> = [];
    private readonly ctx: ClientContext;
    private readonly cache = new Map<string, { at: number; workers: WorkerInfo[] }>();
    private readonly pool: ChannelPool;
    private readonly parts: CallParts;
    /** Sends each voucher to its worker as soon as it is signed. */
    readonly vouchers: VoucherPush;

    constructor(readonly o: ClientOptions) {
        this.ctx = clientContext(o);
        this.discovery = new Discovery(o.opener, o.staking);
        this.pool = new ChannelPool(o);
        const verifier = new ReceiptVerifier(this.ctx);
        const rejections = new Rejections(this.ctx, this.excluded, this.fraudProofs);
        this.vouchers = new VoucherPush(this.ctx);
        const payer = new ReceiptPayer(this.ctx, new ChannelSequencer(), this.vouchers);
        this.parts = { ctx: this.ctx, checks: new Map(), verifier, rejections, payer, vouchers: this.vouchers, recovery: new ReceiptRecovery(this.ctx, verifier, rejections, payer) };
        // A worker once caught with a bad receipt stays excluded across restarts.
        for (const b of o.store.badReceipts()) this.excluded.set(b.workerStake, b.reason);
    }

    /** The client's clock, unix seconds. */
    now(): number {
        return this.ctx.now();
    }

    /** Verified workers of `model`, cached for 30 s; excluded workers left out. */
    async workers(model: string, refresh = false): Promise<WorkerInfo[]> {
        const hit = this.cache.get(model);
        let list: WorkerInfo[];
        if (!refresh && hit && Date.now() - hit.at < 30_000) list = hit.workers;
        else {
            let r;
            try {
                r = await this.discovery.workers(model);
            } catch (e) {
                // The chain is unreachable: the workers verified last time are still the best knowledge
                // (each receipt is still checked against their attested keys and prices).
                if (!hit) throw e;
                this.ctx.log('discovery failed; using the workers verified before', { model, error: (e as Error).message });
                return hit.workers.filter((w) => !this.excluded.has(w.workerStake.toString()));
            }
            for (const x of r.rejected) this.ctx.log('worker rejected', { ...x });
            this.cache.set(model, { at: Date.now(), workers: r.workers });
            list = r.workers;
        }
        return list.filter((w) => !this.excluded.has(w.workerStake.toString()));
    }

    /** What this client measured of `w` (created empty on first use). */
    statsOf(w: WorkerInfo): MeasuredStats {
        const k = w.workerStake.toString();
        let s = this.stats.get(k);
        if (!s) this.stats.set(k, (s = { ok: 0, failed: 0, latencyMs: 0 }));
        return s;
    }

    /** An open channel to `w` with at least `topUpBelow` (and `minFree`) unspent, opened or topped up as needed (./channels/ensure.ts). */
    ensureChannel(w: WorkerInfo, minFree = 0n, lease?: ChannelLease): Promise<ChannelRow> {
        return ensureChannel(this.ctx, this.parts.checks, w, minFree, lease);
    }

    /** A new channel to `w` with the configured deposit (./channels/open.ts). */
    openChannel(w: WorkerInfo, lease?: ChannelLease): Promise<ChannelRow> {
        return openChannel(this.ctx, this.parts.checks, w, lease);
    }

    /** Adds `amount` to a channel's deposit (./channels/topUp.ts). */
    topUp(row: ChannelRow, amount: bigint): Promise<ChannelRow> {
        return topUp(this.ctx, row, amount);
    }

    /** Adds exactly `amount` to a channel's deposit, as a person asks for it (./channels/topUp.ts). */
    topUpExactly(row: ChannelRow, amount: bigint): Promise<ChannelRow> {
        return topUpExactly(this.ctx, this.pool, row, amount);
    }

    /**
     * One paid request to `w`. `onChunk` receives each streamed
     * chat.completion.chunk as it is decrypted. Resolves once the receipt is
     * verified and the voucher for it signed and stored.
     */
    call(w: WorkerInfo, request: ChatCompletionRequest, onChunk?: (chunk: any) => void | Promise<void>, signal?: AbortSignal): Promise<CallResult> {
        return this.pay(w, { kind: 'chat', request }, onChunk, signal);
    }

    /** Paid embeddings from `w`: resolves with the answer (`final`: OpenAI's embeddings list) once its receipt is verified and paid. */
    embed(w: WorkerInfo, request: EmbeddingsRequest, signal?: AbortSignal): Promise<CallResult> {
        return this.pay(w, { kind: 'embeddings', request }, undefined, signal);
    }

    /** One paid operation of either kind (./operation.ts). */
    async pay(w: WorkerInfo, op: PaidOperation, onChunk?: (chunk: any) => void | Promise<void>, signal?: AbortSignal): Promise<CallResult> {
        // The worker knows the model by its wire name (the app may have used the Registry's display name).
        const asked = { ...op, request: { ...op.request, model: w.model } } as PaidOperation;
        const bounds = operationBounds(asked);
        const refused = unaffordable(w, bounds, this.o.deposit);
        if (refused) throw refused;
        return this.pool.withChannel(w, (lease) => paidCall(this.parts, w, asked, { onChunk, mayTopUp: true, mayRecover: true, signal, lease }), requestCostBound(w, bounds));
    }

    /** Reads back and pays the receipts `w` stored on `channel` whose final frames were lost, up to `upTo` (./receipts/recovery.ts). */
    recoverReceipts(w: WorkerInfo, channel: string, upTo?: bigint): Promise<number> {
        return this.parts.recovery.recoverReceipts(w, channel, upTo);
    }

    /** Closes a channel, cooperatively when the worker co-signs, else by a close request (./channels/close.ts). */
    closeChannel(address: string, opts: { cooperative?: boolean } = {}): Promise<CloseResult> {
        return closeChannel(this.ctx, this.pool, address, opts);
    }

    /** Files an overcharging receipt as a fraud proof, if the WorkerStake would accept it (./receipts/fraudProof.ts). */
    proveOvercharge(w: WorkerInfo, boc: string): Promise<FraudProofOutcome> {
        return proveOvercharge(this.ctx, w, boc);
    }
}
