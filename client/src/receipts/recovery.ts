import { Address } from '@ton/core';
import { sign } from '@ton/crypto';
import { RECEIPTS_SIGNATURE_HEADER, RECEIPTS_TIMESTAMP_HEADER, ReceiptsAnswer, receiptsQueryDigest } from '../../../protocol/paidRequest';
import type { WorkerInfo } from '../discovery';
import type { ClientContext } from '../options';
import type { ReceiptPayer } from './payment';
import { ReceiptRejected, Rejections } from './rejection';
import { answeredRequest, openReceipt } from './rules';
import type { ReceiptVerifier } from './verifier';

/**
 * Receipt recovery: a receipt whose final frame never arrived (a worker
 * killed after storing it, a cut connection, a caller that went away) is
 * read back from the worker and paid, so the worker is paid for what it
 * served and the voucher it asks for next covers it.
 */
export class ReceiptRecovery {
    constructor(
        private readonly ctx: ClientContext,
        private readonly verifier: ReceiptVerifier,
        private readonly rejections: Rejections,
        private readonly payer: ReceiptPayer,
    ) {}

    /**
     * Reads from the worker the receipts it stored on `channel` above the
     * verified cumulative cost and pays each, in order, only if the verifier
     * passes it: it must answer one of this client's own requests still
     * waiting for a receipt and no longer in flight (each used once), and
     * keep every rule a receipt without its answer can be judged by. Stops
     * at the receipt of a call still in flight on the channel (that call
     * judges it against its answer) and at `upTo` (the receipt in hand
     * starts above it). Returns how many were paid; throws ReceiptRejected
     * on the first bad one. Runs under the channel's lock.
     */
    recoverReceipts(w: WorkerInfo, channel: string, upTo?: bigint): Promise<number> {
        return this.payer.sequencer.locked(channel, () => this.recoverLocked(w, channel, upTo));
    }

    /** recoverReceipts for a caller that already holds the channel's lock. */
    async recoverLocked(w: WorkerInfo, channel: string, upTo?: bigint): Promise<number> {
        const { o } = this.ctx;
        let recovered = 0;
        for (let round = 0; round < 100; round++) {
            const row = o.store.channel(channel);
            if (!row) return recovered;
            const after = row.verified;
            const timestamp = Math.floor(Date.now() / 1000);
            const signature = sign(receiptsQueryDigest(Address.parse(channel), after, timestamp), o.channelKey.secretKey);
            let res: Response;
            try {
                res = await fetch(`${w.endpoint}/v1/channels/${encodeURIComponent(channel)}/receipts?after=${after}`, {
                    headers: { [RECEIPTS_TIMESTAMP_HEADER]: String(timestamp), [RECEIPTS_SIGNATURE_HEADER]: signature.toString('hex') },
                    signal: AbortSignal.timeout(o.connectTimeoutMs ?? 30_000),
                });
            } catch (e) {
                throw new WorkerUnreachable(`the worker could not be asked for its receipts: ${(e as Error).message}`);
            }
            if (res.status === 503) throw new WorkerUnreachable(`the worker cannot answer the receipts query now (503): ${await res.text().catch(() => '')}`);
            if (res.status !== 200) throw new Error(`the worker refused the receipts query (${res.status}): ${await res.text().catch(() => '')}`);
            const answer = (await res.json()) as ReceiptsAnswer;
            if (!Array.isArray(answer?.receipts)) throw new Error('the worker answered the receipts query with no receipt list');
            if (answer.receipts.length === 0) return recovered;
            let verified = after;
            const inFlight = [...this.payer.sequencer.inFlight(channel)];
            const pending = o.store.pendingAttempts(channel).filter((a) => !inFlight.some(([id]) => id === a.id));
            for (const wire of answer.receipts) {
                if (upTo !== undefined && /^[0-9]+$/.test(String(wire?.cumulativeCost)) && BigInt(wire.cumulativeCost) > upTo) return recovered;
                // A call in flight pays its own receipt, judged against its answer: the one it holds, or, while its
                // answer is still coming, any receipt that could be its own (the same request hash).
                if (inFlight.some(([, call]) => call.receiptId === String(wire?.requestId))) return recovered;
                if (
                    answersOneOf(
                        wire,
                        inFlight.filter(([, call]) => call.receiptId === undefined).map(([, call]) => call),
                    )
                )
                    return recovered;
                const { fields, attempt } = await this.verifier.verify(w, channel, verified, wire, { path: 'recovered', pending });
                pending.splice(pending.indexOf(attempt), 1);
                await this.payer.pay(w, channel, wire, fields, attempt.id);
                verified = fields.cumulativeCost;
                recovered++;
                this.ctx.log('lost receipt recovered and paid', { channel, requestId: fields.requestId.toString(), cumulative: verified.toString() });
            }
            if (!answer.more) return recovered;
        }
        return recovered;
    }

    /**
     * recoverReceipts, with a bad recovered receipt handled as any bad
     * receipt (Rejections) and an unreachable worker counted as nothing
     * recovered: after a call that ended without its receipt, the worker
     * still down is left for the next request.
     */
    async recoverOrReject(w: WorkerInfo, channel: string, delivered = false): Promise<number> {
        try {
            return await this.recoverReceipts(w, channel);
        } catch (e) {
            if (e instanceof ReceiptRejected) throw this.rejections.reject(w, channel, e.boc ?? '', e, delivered);
            this.ctx.log('receipt recovery failed; retried on the next request', { worker: w.workerStake.toString(), error: (e as Error).message });
            return 0;
        }
    }
}

/** The worker could not be asked (no connection, no answer in time, or 503 while it restarts): not an answer about its receipts. */
export class WorkerUnreachable extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'WorkerUnreachable';
    }
}

/** Whether the wire's receipt answers one of `attempts` (a malformed one answers none: the verifier judges it). */
function answersOneOf(wire: ReceiptsAnswer['receipts'][number], attempts: readonly { requestHash: string }[]): boolean {
    if (attempts.length === 0) return false;
    try {
        return answeredRequest(openReceipt(wire), attempts) !== undefined;
    } catch {
        return false;
    }
}
