import { CocoonError } from '../cocoonError';
import type { WorkerInfo } from '../discovery';
import type { ClientContext } from '../options';
import { FraudProofOutcome, proveOvercharge } from './fraudProof';

/** A receipt that breaks a rule of ./rules.ts: what the verifier throws, never seen by the SDK's callers (see Rejections.reject). */
export class ReceiptRejected extends Error {
    constructor(
        message: string,
        /** Names of the rules broken (./rules.ts). */
        readonly rules: readonly string[],
        /** The rejected receipt. */
        readonly boc?: string,
    ) {
        super(message);
    }

    /** The price rule is broken: the one breach the chain may also punish. */
    get overcharge(): boolean {
        return this.rules.includes('price');
    }
}

/**
 * What follows a rejected receipt, live or recovered: it is kept as
 * evidence, its worker is excluded (across restarts too: the store keeps
 * it), an overcharge is proven on chain when the WorkerStake would slash for
 * it, and nothing is signed.
 */
export class Rejections {
    constructor(
        private readonly ctx: ClientContext,
        /** Workers caught with a bad receipt (by WorkerStake address). */
        private readonly excluded: Map<string, string>,
        /** Outcomes of the overcharge fraud proofs considered so far. */
        private readonly fraudProofs: Array<Promise<FraudProofOutcome>>,
    ) {}

    /** Records the rejection and returns the error for the caller. */
    reject(w: WorkerInfo, channel: string, boc: string, e: ReceiptRejected, delivered: boolean): CocoonError {
        const { o } = this.ctx;
        o.store.recordBadReceipt(channel, w.workerStake.toString(), boc, e.message);
        this.excluded.set(w.workerStake.toString(), e.message);
        this.ctx.log('receipt rejected; worker excluded and not paid', { worker: w.workerStake.toString(), reason: e.message });
        // Only a broken price rule can be proven, and proveOvercharge files only what the WorkerStake would slash for.
        if (e.overcharge && boc && o.submitFraudProofs !== false) this.fraudProofs.push(proveOvercharge(this.ctx, w, boc));
        return new CocoonError(502, 'receipt_rejected', `the worker's receipt was rejected: ${e.message}`, delivered, e.rules);
    }
}
