import { Cell } from '@ton/core';
import { ExtendedStaking } from '../../../wrappers/Staking';
import { ExtendedWorkerStake, WorkerStatus } from '../../../wrappers/WorkerStake';
import { openSignedReceipt, parseReceipt, receiptOvercharges, verifyReceipt } from '../../../wrappers/receipt';
import { WorkerInfo, keyBuf } from '../discovery';
import type { ClientContext } from '../options';

export interface FraudProofOutcome {
    filed: boolean;
    /** Why it was not filed. */
    reason?: string;
}

/**
 * Submits an overcharging receipt as a fraud proof, but only one the
 * WorkerStake would accept: signed by its key and naming it, the worker
 * still slashable, and `receiptOvercharges` true by the schedule read
 * fresh from chain, the chain's time (the opener's, else the client's
 * clock) and the WorkerStake's fraud-proof window. A refused proof would
 * only waste gas, and an honest worker must never be slashable.
 */
export async function proveOvercharge(ctx: ClientContext, w: WorkerInfo, boc: string): Promise<FraudProofOutcome> {
    const worker = w.workerStake.toString();
    try {
        const { receipt, signature } = openSignedReceipt(Cell.fromBase64(boc));
        const f = parseReceipt(receipt);
        const ws = ctx.o.opener.open(ExtendedWorkerStake.fromAddress(w.workerStake));
        const [state, schedule, chainNow, window] = await Promise.all([ws.getState(), ws.getPriceSchedule(), chainTime(ctx), fraudProofWindow(ctx, ws)]);
        let why: string | undefined;
        if (!f.workerStake.equals(w.workerStake) || !verifyReceipt(receipt, signature, keyBuf(state.workerKey))) why = "the receipt is not signed by this WorkerStake's key for it";
        else if (state.stake <= 0n || ![WorkerStatus.Pending, WorkerStatus.Active, WorkerStatus.Unbonding].includes(Number(state.status))) why = 'the worker is not slashable now';
        else if (window === undefined) why = "the WorkerStake's fraud-proof window is unknown (its config version differs from Staking's)";
        else if (!receiptOvercharges(f, schedule, chainNow, window)) why = 'the WorkerStake would not judge it an overcharge (within chargeable terms, or too old to judge)';
        if (why) {
            ctx.log('overcharge fraud proof not filed', { worker, reason: why });
            return { filed: false, reason: why };
        }
        await ws.sendProveOvercharge(ctx.o.wallet, Cell.fromBase64(boc));
        ctx.log('overcharge fraud proof submitted', { worker });
        return { filed: true };
    } catch (e) {
        ctx.log('fraud proof failed', { worker, error: (e as Error).message });
        return { filed: false, reason: (e as Error).message };
    }
}

/** Chain time: the opener's when it tells it, else the client's clock. */
async function chainTime(ctx: ClientContext): Promise<number> {
    if (ctx.o.opener.now) {
        try {
            return await ctx.o.opener.now();
        } catch {
            /* fall back to the client's clock */
        }
    }
    return ctx.now();
}

/** The fraud-proof window the WorkerStake judges by: Staking's, when both hold the same config version (the WorkerStake has no getter for its own). */
async function fraudProofWindow(ctx: ClientContext, ws: { getConfigVersion(): Promise<bigint> }): Promise<number | undefined> {
    const staking = ctx.o.opener.open(ExtendedStaking.fromAddress(ctx.o.staking));
    const [mine, network] = await Promise.all([ws.getConfigVersion(), staking.getConfigVersion()]);
    if (mine !== network) return undefined;
    return Number((await staking.getParams()).fraudProofWindow);
}
