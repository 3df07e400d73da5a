import { NetworkProvider } from '@ton/blueprint';
import { Cell } from '@ton/core';
import { argOrAsk, waitUntil } from './lib/cli';
import { chainTime, openWorkerStake, statusName } from './lib/worker';
import { openSignedReceipt, parseReceipt, receiptMaxCost, verifyReceipt } from '../wrappers/receipt';
import { WorkerStatus } from '../wrappers/WorkerStake';
import { uint256ToBytes } from '../helpers/bytes';

/**
 * Submits evidence that slashes a worker; the reporter gets its share.
 *   npx blueprint run submitFraudProof <workerStake> equivocation <receipt1> <receipt2>
 *   npx blueprint run submitFraudProof <workerStake> model <receipt>
 *   npx blueprint run submitFraudProof <workerStake> overcharge <receipt>
 * Each receipt is a signed-receipt cell (wrappers/receipt.ts
 * signedReceiptCell) as base64 BoC. The script checks the evidence as the
 * contract will before spending anything.
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const worker = await openWorkerStake(provider, args, 0);
    const kind = await argOrAsk(provider, args, 1, 'Kind: equivocation, model or overcharge');
    const state = await worker.getState();
    const status = Number(state.status);
    if (status === WorkerStatus.Jailed) throw new Error('the worker is already jailed');
    if (status === WorkerStatus.Withdrawn || status === WorkerStatus.New || state.stake === 0n) {
        throw new Error(`the WorkerStake is ${statusName(status)} with nothing to slash`);
    }
    const workerKey = uint256ToBytes(state.workerKey);
    const load = (text: string) => {
        const evidence = Cell.fromBase64(text.trim());
        const { receipt, signature } = openSignedReceipt(evidence);
        const fields = parseReceipt(receipt);
        if (!fields.workerStake.equals(worker.address)) throw new Error(`the receipt is for ${fields.workerStake.toString()}, not this worker`);
        if (!verifyReceipt(receipt, signature, workerKey)) throw new Error('the receipt is not signed by this worker key');
        return { evidence, receipt, fields };
    };

    let send: () => Promise<unknown>;
    if (kind === 'equivocation') {
        const a = load(await argOrAsk(provider, args, 2, 'First receipt (base64 BoC)'));
        const b = load(await argOrAsk(provider, args, 3, 'Second receipt (base64 BoC)'));
        if (a.receipt.hash().equals(b.receipt.hash())) throw new Error('the two receipts are identical');
        if (a.fields.requestId !== b.fields.requestId) throw new Error('the receipts have different request ids');
        if (!a.fields.channel.equals(b.fields.channel)) throw new Error('the receipts name different channels (request ids are unique per channel only)');
        send = () => worker.sendProveEquivocation(provider.sender(), a.evidence, b.evidence);
    } else if (kind === 'model') {
        const r = load(await argOrAsk(provider, args, 2, 'Receipt (base64 BoC)'));
        if (r.fields.modelId === state.modelId) throw new Error("the receipt names the worker's own model");
        send = () => worker.sendProveWrongModel(provider.sender(), r.evidence);
    } else if (kind === 'overcharge') {
        const r = load(await argOrAsk(provider, args, 2, 'Receipt (base64 BoC)'));
        // As the contract judges: at the receipt's time (today for one dated in the future), by the highest
        // terms in force during the price-cut grace before it, and only while the history still holds them.
        const now = BigInt(chainTime(provider));
        const time = r.fields.time < now ? r.fields.time : now;
        const grace = await worker.getPriceCutGrace();
        const since = await worker.getHistorySince();
        if (time - grace < since) throw new Error(`the WorkerStake no longer holds the terms of ${time - grace} (its history starts at ${since}): it cannot judge this receipt`);
        const terms = await worker.getChargeableAt(time);
        const max = receiptMaxCost(terms, r.fields.usage);
        if (r.fields.cost <= max) throw new Error(`the cost ${r.fields.cost} is within the terms chargeable at its time (at most ${max})`);
        send = () => worker.sendProveOvercharge(provider.sender(), r.evidence);
    } else {
        throw new Error(`unknown kind "${kind}": use equivocation, model or overcharge`);
    }
    await send();
    await waitUntil(provider, 'the slash', async () => (await worker.getState()).slashes > state.slashes);
    const after = await worker.getState();
    provider.ui().write(`Slashed ${after.slashedTotal - state.slashedTotal} nanoTON; the worker is ${statusName(after.status)}`);
    return after.slashedTotal - state.slashedTotal;
}
