import { ENVELOPE_MEDIA_TYPE } from '../../helpers/hpke';
import { HttpAnswer, httpPost } from '../../helpers/httpPost';
import { embeddingsResponseText } from '../../protocol/embeddings';
import type { ReceiptWire } from '../../protocol/paidRequest';
import type { ReceiptFields } from '../../wrappers/receipt';
import { ensureChannel } from './channels/ensure';
import type { ChannelLease } from './channels/lease';
import type { VoucherPush } from './channels/voucherPush';
import type { ChannelChecks } from './channels/onChain';
import { topUp } from './channels/topUp';
import { CocoonError } from './cocoonError';
import type { WorkerInfo } from './discovery';
import type { ClientContext } from './options';
import type { ReceiptPayer } from './receipts/payment';
import { ReceiptRecovery, WorkerUnreachable } from './receipts/recovery';
import { ReceiptRejected, Rejections } from './receipts/rejection';
import type { ReceiptVerifier } from './receipts/verifier';
import { Answer, readFrames } from './transport/frameReader';
import { sealRequest } from './transport/seal';
import { PaidOperation, operationPath, operationStreams } from './operation';

export interface CallResult {
    worker: WorkerInfo;
    channel: string;
    /** The final frame: a chat.completion (non-streaming) or the last chunk (streaming). */
    final: any;
    content: string;
    receipt: ReceiptWire | null;
    fields: ReceiptFields | null;
    cost: bigint;
    latencyMs: number;
}

/** The parts of a client one paid call uses. */
export interface CallParts {
    ctx: ClientContext;
    checks: ChannelChecks;
    verifier: ReceiptVerifier;
    recovery: ReceiptRecovery;
    rejections: Rejections;
    payer: ReceiptPayer;
    vouchers: VoucherPush;
}

export interface CallOptions {
    onChunk?: (chunk: any) => void | Promise<void>;
    /** The worker answered insufficient_deposit: top up once and retry. */
    mayTopUp: boolean;
    /** The worker answered voucher_required: recover the receipts the voucher misses once and retry. */
    mayRecover: boolean;
    /** The caller is gone (an app that disconnected): stop reading; the worker's receipt for what it delivered is recovered. */
    signal?: AbortSignal;
    lease?: ChannelLease;
    /** Times the worker refused for its credit limit already (each retry waits for another call on the channel). */
    creditWaits?: number;
}

/** How many times a call waits for its channel's other calls when the worker's credit limit is reached. */
const MAX_CREDIT_WAITS = 64;

/**
 * One paid request to `w` on the lease's channel, which other calls may be
 * using too: the request is sealed and recorded before it leaves (so a
 * receipt for it can be recovered if the answer is lost), the answer is
 * read, and its receipt verified and paid, in the channel's receipt order
 * (ChannelSequencer), before the result is returned. A refusal for want of
 * deposit or of a voucher is fixed once and retried on the same channel; a
 * refusal for the worker's credit limit waits for another call on the
 * channel to end.
 */
export async function paidCall(p: CallParts, w: WorkerInfo, op: PaidOperation, c: CallOptions): Promise<CallResult> {
    const { ctx } = p;
    const { o } = ctx;
    const sequencer = p.payer.sequencer;
    if (c.signal?.aborted) throw new CocoonError(499, 'caller_gone', 'the caller went away before the request was sent');
    const t0 = performance.now();
    const row = await ensureChannel(ctx, p.checks, w, c.lease?.need ?? 0n, c.lease);
    // A retry below (after a top-up or a recovery) uses the same channel.
    if (c.lease) c.lease.preferred = row;
    const { sealed, sent, voucherTotal } = await sealRequest(ctx, w, row.address, op);
    // On disk before it leaves: if the final frame is lost, the worker's stored receipt for it is paid later (recoverReceipts).
    const attemptId = o.store.addAttempt({ channel: row.address, requestHash: sent.requestHash, maxTokens: sent.maxTokens, promptBound: sent.promptBound, at: sent.startedAt });
    const channel = row.address;
    sequencer.enter(channel, attemptId, sent.requestHash);
    let inFlight = true;
    // Once the call has no receipt to bring any more, the channel's other calls stop waiting for it.
    const leave = () => {
        if (!inFlight) return;
        inFlight = false;
        sequencer.leave(channel, attemptId);
    };
    try {
        const ac = new AbortController();
        c.signal?.addEventListener('abort', () => ac.abort(), { once: true });
        const timer = setTimeout(() => ac.abort(), o.connectTimeoutMs ?? 30_000);
        let res: HttpAnswer;
        try {
            res = await httpPost(`${w.endpoint}${operationPath(op)}`, { headers: { 'content-type': ENVELOPE_MEDIA_TYPE }, body: sealed.envelope, signal: ac.signal });
        } catch (e) {
            clearTimeout(timer);
            // The connection may have broken after the worker stored its receipt (killed before answering).
            leave();
            await p.recovery.recoverOrReject(w, channel);
            throw new CocoonError(502, 'worker_unreachable', `worker unreachable: ${(e as Error).message}`);
        }
        if (res.status !== 200) {
            let err: { message?: string; code?: string } = {};
            // Read under the same timer: a worker that stalls in its refusal cannot hold the call (and its channel's order).
            try {
                err = ((await res.json()) as any).error ?? {};
            } catch {
                /* not JSON, or cut off */
            } finally {
                clearTimeout(timer);
            }
            // A refusal: the worker served nothing, so no receipt may ever name this request.
            o.store.setAttemptState(attemptId, 'refused');
            leave();
            if (res.status === 402 && err.code === 'insufficient_deposit' && c.mayTopUp) {
                await topUp(ctx, o.store.channel(channel) ?? row, o.topUpAmount ?? o.deposit);
                return paidCall(p, w, op, { ...c, mayTopUp: false });
            }
            // Receipts whose final frames were lost are what the voucher does not cover: recover them, then retry.
            if (res.status === 402 && err.code === 'voucher_required' && c.mayRecover) {
                if ((await p.recovery.recoverOrReject(w, channel, false)) > 0) return paidCall(p, w, op, { ...c, mayRecover: false });
            }
            // The worker's credit to the channel is taken by the calls in flight on it: go again when one ends.
            if (res.status === 429 && err.code === 'credit_limit' && (c.creditWaits ?? 0) < MAX_CREDIT_WAITS && sequencer.calls(channel) > 0) {
                await sequencer.next(channel);
                return paidCall(p, w, op, { ...c, creditWaits: (c.creditWaits ?? 0) + 1 });
            }
            throw new CocoonError(res.status === 429 ? 429 : 502, err.code ?? 'worker_refused', `worker refused (${res.status}): ${err.message ?? 'no reason given'}`);
        }
        clearTimeout(timer);
        // Admitted: the worker stored the voucher this request carries before serving it.
        p.vouchers.carried(channel, voucherTotal);

        const answer: Answer = { final: undefined, content: '', reasoning: '', toolCalls: [], logprobs: [], delivered: false };
        try {
            await readFrames(res, sealed.response, operationStreams(op), answer, op.kind === 'completions' ? 'text' : 'chat', { ms: o.idleTimeoutMs ?? 120_000, onIdle: () => ac.abort() }, c.onChunk);
        } catch (e) {
            // Nothing more is read from this answer: its connection is closed, not left to the worker.
            ac.abort();
            if (e instanceof CocoonError) throw e;
            // The worker may hold a receipt for what it delivered (stored before the final frame that never came).
            leave();
            await p.recovery.recoverOrReject(w, channel, answer.delivered);
            throw new CocoonError(502, 'worker_failed', `the worker's answer broke off: ${(e as Error).message}`, answer.delivered);
        }
        // Embeddings are delivered as their data: the receipt's response hash commits to it in the place of text.
        if (op.kind === 'embeddings') answer.content = embeddingsResponseText(answer.final?.data);
        const { final, content, reasoning, toolCalls, logprobs, delivered } = answer;

        const receipt: ReceiptWire | null = final?.receipt ?? null;
        let fields: ReceiptFields | null = null;
        let cost = 0n;
        if (receipt) {
            // The receipts before this one come first: those of other calls on the channel still on their way.
            const start = /^[0-9]+$/.test(String(receipt.cumulativeCost)) && /^[0-9]+$/.test(String(receipt.cost)) ? BigInt(receipt.cumulativeCost) - BigInt(receipt.cost) : 0n;
            sequencer.received(channel, attemptId, String(receipt.requestId), start);
            const verifiedNow = () => o.store.channel(channel)?.verified ?? 0n;
            await sequencer.turn(channel, attemptId, verifiedNow);
            let paid: Promise<void> | undefined;
            await sequencer.locked(channel, async () => {
                try {
                    // A gap no call in flight can fill: receipts whose final frames were lost. Fetch them first.
                    if (start > verifiedNow()) {
                        try {
                            await p.recovery.recoverLocked(w, channel, start);
                        } catch (e) {
                            if (e instanceof ReceiptRejected) throw e;
                            if (e instanceof WorkerUnreachable) {
                                // Killed or restarting right after it sent this answer: the receipt in hand can be judged only
                                // after the ones before it. It is neither paid nor refused here: the attempt stays pending,
                                // and the next recovery pays the gap and then it, in order.
                                ctx.log('receipt recovery failed; the receipt waits for the ones before it', { worker: w.workerStake.toString(), error: e.message });
                                throw new CocoonError(502, 'worker_unreachable', `${e.message}; this answer's receipt is paid after the ones before it once the worker answers`, delivered);
                            }
                            // The worker answered but gave nothing to fill the gap: the receipt in hand is judged (and refused) as it is.
                            ctx.log('receipt recovery failed', { worker: w.workerStake.toString(), error: (e as Error).message });
                        }
                    }
                    ({ fields } = await p.verifier.verify(w, channel, verifiedNow(), receipt, {
                        path: 'live',
                        request: sent,
                        delivered: { kind: op.kind, content, reasoning, toolCalls, logprobs, usage: final?.usage },
                    }));
                    cost = fields.cost;
                    // Only now, with the receipt verified, is the voucher that pays for it signed.
                    paid = p.payer.pay(w, channel, receipt, fields, attemptId);
                } catch (e) {
                    if (!(e instanceof ReceiptRejected)) throw e;
                    // Never paid later either: a recovered copy would miss the rules only the live answer can judge.
                    o.store.setAttemptState(attemptId, 'refused');
                    throw p.rejections.reject(w, channel, e.boc ?? receipt.boc ?? '', e, delivered);
                }
            });
            // On disk before the answer is handed over; the next receipt on the channel did not wait for it.
            await paid;
        } else {
            try {
                p.verifier.verifyAbsent(w, final);
            } catch (e) {
                if (!(e instanceof ReceiptRejected)) throw e;
                o.store.setAttemptState(attemptId, 'refused');
                throw p.rejections.reject(w, channel, e.boc ?? '', e, delivered);
            }
            // Nothing charged for it: no receipt may name it later.
            o.store.setAttemptState(attemptId, 'refused');
        }
        const latencyMs = performance.now() - t0;
        return { worker: w, channel, final, content, receipt, fields, cost, latencyMs };
    } finally {
        leave();
    }
}
