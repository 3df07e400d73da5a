import { NetworkProvider } from '@ton/blueprint';
import { waitUntil } from './lib/cli';
import { isBonded, openWorkerStake, requireWorkerOwner, statusName } from './lib/worker';
import { WorkerStatus } from '../wrappers/WorkerStake';

/**
 * Starts unbonding: the worker leaves the index at once and its stake can be
 * withdrawn after the unbonding period.
 *   npx blueprint run unbondWorker <workerStake>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const worker = await openWorkerStake(provider, args, 0);
    await requireWorkerOwner(provider, worker);
    const state = await worker.getState();
    if (!isBonded(state.status)) throw new Error(`the WorkerStake is ${statusName(state.status)}, not bonded`);
    await worker.sendStartUnbonding(provider.sender());
    await waitUntil(provider, 'unbonding to start', async () => Number(await worker.getStatus()) === WorkerStatus.Unbonding);
    const deadline = Number((await worker.getState()).unbondingDeadline);
    provider.ui().write(`Unbonding; withdraw after ${new Date(deadline * 1000).toISOString()}:`);
    provider.ui().write(`  npx blueprint run withdrawStake ${worker.address.toString()}`);
    return deadline;
}
