import { ENVELOPE_MEDIA_TYPE } from '../../helpers/hpke';
import type { ChatCompletionRequest, ReceiptWire } from '../../protocol/paidRequest';
import type { ReceiptFields } from '../../wrappers/receipt';
import { ensureChannel } from './channels/ensure';
import type { ChannelLease } from './channels/lease';
import type { ChannelChecks } from './channels/onChain';
import { topUp } from './channels/topUp';
import { CocoonError } from './cocoonError';
import type { WorkerInfo } from './discovery';
import type { ClientContext } from './options';
import { payReceipt } from './receipts/payment';
import type { ReceiptRecovery } from './receipts/recovery';
import { ReceiptRejected, Rejections } from './receipts/rejection';
import type { ReceiptVerifier } from './receipts/verifier';
import { Answer, readFrames } from './transport/frameReader';
import { sealRequest } from './transport/seal';

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
}

/**
 * One paid request to `w` on the lease's channel: the request is sealed
 * and recorded before it leaves (so a receipt for it can be recovered if
 * the answer is lost), the answer is read, and its receipt verified and
 * paid before the result is returned. A refusal for want of deposit or of
 * a voucher is fixed once and retried on the same channel.
 */
export async function paidCall(p: CallParts, w: WorkerInfo, request: ChatCompletionRequest, c: CallOptions): Promise<CallResult> {
    const { ctx } = p;
    const { o } = ctx;
    if (c.signal?.aborted) throw new CocoonError(499, 'caller_gone', 'the caller went away before the request was sent');
    const t0 = performance.now();
    let row = await ensureChannel(ctx, p.checks, w, 0n, c.lease);
    // A retry below (after a top-up or a recovery) uses the same channel.
    if (c.lease) c.lease.preferred = row;
    const { sealed, sent } = await sealRequest(ctx, w, row.address, request);
    // On disk before it leaves: if the final frame is lost, the worker's stored receipt for it is paid later (recoverReceipts).
    const attemptId = o.store.addAttempt({ channel: row.address, requestHash: sent.requestHash, maxTokens: sent.maxTokens, promptBound: sent.promptBound, at: sent.startedAt });
    const ac = new AbortController();
    c.signal?.addEventListener('abort', () => ac.abort(), { once: true });
    const timer = setTimeout(() => ac.abort(), o.connectTimeoutMs ?? 30_000);
    let res: Response;
    try {
        res = await fetch(`${w.endpoint}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': ENVELOPE_MEDIA_TYPE }, body: sealed.envelope, signal: ac.signal });
    } catch (e) {
        // The connection may have broken after the worker stored its receipt (killed before answering).
        await p.recovery.recoverOrReject(w, row.address);
        throw new CocoonError(502, 'worker_unreachable', `worker unreachable: ${(e as Error).message}`);
    } finally {
        clearTimeout(timer);
    }
    if (res.status !== 200) {
        let err: { message?: string; code?: string } = {};
        try {
            err = ((await res.json()) as any).error ?? {};
        } catch {
            /* not JSON */
        }
        // A refusal: the worker served nothing, so no receipt may ever name this request.
        o.store.setAttemptState(attemptId, 'refused');
        if (res.status === 402 && err.code === 'insufficient_deposit' && c.mayTopUp) {
            await topUp(ctx, row, o.topUpAmount ?? o.deposit);
            return paidCall(p, w, request, { ...c, mayTopUp: false });
        }
        // Receipts whose final frames were lost are what the voucher does not cover: recover them, then retry.
        if (res.status === 402 && err.code === 'voucher_required' && c.mayRecover) {
            if ((await p.recovery.recoverOrReject(w, row.address, false)) > 0) return paidCall(p, w, request, { ...c, mayRecover: false });
        }
        throw new CocoonError(res.status === 429 ? 429 : 502, err.code ?? 'worker_refused', `worker refused (${res.status}): ${err.message ?? 'no reason given'}`);
    }

    const answer: Answer = { final: undefined, content: '', reasoning: '', delivered: false };
    try {
        await readFrames(res, sealed.response, Boolean(request.stream), answer, { ms: o.idleTimeoutMs ?? 120_000, onIdle: () => ac.abort() }, c.onChunk);
    } catch (e) {
        if (e instanceof CocoonError) throw e;
        // The worker may hold a receipt for what it delivered (stored before the final frame that never came).
        await p.recovery.recoverOrReject(w, row.address, answer.delivered);
        throw new CocoonError(502, 'worker_failed', `the worker's answer broke off: ${(e as Error).message}`, answer.delivered);
    }
    const { final, content, reasoning, delivered } = answer;

    const receipt: ReceiptWire | null = final?.receipt ?? null;
    let fields: ReceiptFields | null = null;
    let cost = 0n;
    try {
        // A cumulative above what is verified plus this receipt's cost: receipts between were lost on the way. Fetch them first.
        if (receipt && /^[0-9]+$/.test(String(receipt.cumulativeCost)) && /^[0-9]+$/.test(String(receipt.cost)) && BigInt(receipt.cumulativeCost) - BigInt(receipt.cost) > row.verified) {
            try {
                await p.recovery.recoverReceipts(w, row.address, attemptId, BigInt(receipt.cumulativeCost) - BigInt(receipt.cost));
            } catch (e) {
                if (e instanceof ReceiptRejected) throw e;
                // Nothing recovered: the gap stays, and the receipt in hand is judged (and rejected) as it is.
                ctx.log('receipt recovery failed', { worker: w.workerStake.toString(), error: (e as Error).message });
            }
            row = o.store.channel(row.address) ?? row;
        }
        if (receipt) {
            ({ fields } = await p.verifier.verify(w, row.address, row.verified, receipt, { path: 'live', request: sent, delivered: { content, reasoning, usage: final?.usage } }));
            cost = fields.cost;
        } else p.verifier.verifyAbsent(w, final);
    } catch (e) {
        if (!(e instanceof ReceiptRejected)) throw e;
        // Never paid later either: a recovered copy would miss the rules only the live answer can judge.
        o.store.setAttemptState(attemptId, 'refused');
        throw p.rejections.reject(w, row.address, e.boc ?? receipt?.boc ?? '', e, delivered);
    }
    // Only now, with the receipt verified, is the voucher that pays for it signed.
    if (fields) payReceipt(ctx, w, row.address, receipt!, fields, attemptId);
    else o.store.setAttemptState(attemptId, 'refused'); // nothing charged for it: no receipt may name it later

    const latencyMs = performance.now() - t0;
    return { worker: w, channel: row.address, final, content, receipt, fields, cost, latencyMs };
}
