import { Address } from '@ton/core';
import type { ReceiptWire } from '../../../protocol/paidRequest';
import { ReceiptFields, receiptMaxCost } from '../../../wrappers/receipt';
import type { WorkerInfo } from '../discovery';
import type { ClientContext } from '../options';
import type { AttemptRow } from '../store';
import { ReceiptRejected } from './rejection';
import { Delivered, MALFORMED, OpenedReceipt, RECEIPT_PRESENT, SentRequest, answeredRequest, checkReceipt, openReceipt } from './rules';
import { PriceSchedules } from './schedules';

/** A receipt that came with its answer: judged against the request as sent and what the answer delivered. */
export interface LiveReceipt {
    path: 'live';
    request: SentRequest;
    delivered: Delivered;
}

/** A receipt read back from the worker after its final frame was lost: it must answer one of `pending`, this client's own requests still waiting for a receipt. */
export interface RecoveredReceipt {
    path: 'recovered';
    pending: readonly AttemptRow[];
}

/**
 * The one place a receipt is judged before it is paid, live or recovered:
 * opened (a malformed one breaks MALFORMED), matched to the request it
 * answers, then run through every rule of ./rules.ts for its path. Returns
 * its fields when it may be paid; throws ReceiptRejected naming each rule
 * it breaks.
 */
export class ReceiptVerifier {
    private readonly schedules: PriceSchedules;

    constructor(private readonly ctx: ClientContext) {
        this.schedules = new PriceSchedules(ctx.o.opener);
    }

    /**
     * `channel`'s receipt from `w`, continuing the `verified` cumulative cost.
     * A recovered receipt also returns the request it answers.
     */
    async verify(w: WorkerInfo, channel: string, verified: bigint, wire: ReceiptWire, answered: LiveReceipt): Promise<{ fields: ReceiptFields }>;
    async verify(w: WorkerInfo, channel: string, verified: bigint, wire: ReceiptWire, answered: RecoveredReceipt): Promise<{ fields: ReceiptFields; attempt: AttemptRow }>;
    async verify(w: WorkerInfo, channel: string, verified: bigint, wire: ReceiptWire, answered: LiveReceipt | RecoveredReceipt): Promise<{ fields: ReceiptFields; attempt?: AttemptRow }> {
        const what = answered.path === 'live' ? 'receipt' : 'recovered receipt';
        const boc = typeof wire?.boc === 'string' ? wire.boc : '';
        let r: OpenedReceipt;
        try {
            r = openReceipt(wire);
        } catch (e) {
            throw new ReceiptRejected(`${what}: malformed: ${(e as Error).message} [${MALFORMED}]`, [MALFORMED], boc);
        }
        let request: SentRequest;
        let attempt: AttemptRow | undefined;
        if (answered.path === 'live') request = answered.request;
        else {
            attempt = answeredRequest(r, answered.pending);
            if (!attempt)
                throw new ReceiptRejected('recovered receipt: its request hash matches no request of ours still waiting for a receipt (unknown, or already paid) [request]', ['request'], boc);
            request = { requestHash: attempt.requestHash, promptBound: attempt.promptBound, maxTokens: attempt.maxTokens, startedAt: attempt.at };
        }
        const broken = await checkReceipt(r, {
            path: answered.path,
            worker: w,
            channel: Address.parse(channel),
            verified,
            request,
            delivered: answered.path === 'live' ? answered.delivered : undefined,
            wire,
            now: this.ctx.now(),
            terms: { cached: () => this.schedules.cached(w), fresh: () => this.schedules.fresh(w) },
        });
        if (broken.length > 0)
            throw new ReceiptRejected(
                `${what}: ${broken.map((b) => `${b.message} [${b.rule}]`).join('; ')}`,
                broken.map((b) => b.rule),
                boc,
            );
        return { fields: r.fields, attempt };
    }

    /** An answer that came without a receipt: refused (ReceiptRejected) unless its usage, at the worker's prices, costs nothing. */
    verifyAbsent(w: WorkerInfo, final: any): void {
        const u = final?.usage ?? {};
        const cost = receiptMaxCost(w.prices, {
            prompt: BigInt(u.prompt_tokens ?? 0),
            cached: BigInt(u.prompt_tokens_details?.cached_tokens ?? 0),
            completion: BigInt(u.completion_tokens ?? 0),
            reasoning: BigInt(u.completion_tokens_details?.reasoning_tokens ?? 0),
        });
        if (cost !== 0n) throw new ReceiptRejected(`usage costs something but no receipt came [${RECEIPT_PRESENT}]`, [RECEIPT_PRESENT]);
    }
}
