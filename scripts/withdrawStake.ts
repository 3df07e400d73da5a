import { NetworkProvider } from '@ton/blueprint';
import { waitUntil } from './lib/cli';
import { chainTime, openWorkerStake, requireWorkerOwner, statusName } from './lib/worker';
import { WorkerStatus } from '../wrappers/WorkerStake';

/**
 * Withdraws the whole remaining stake once unbonding (or a jail term) is over.
 *   npx blueprint run withdrawStake <workerStake>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const worker = await openWorkerStake(provider, args, 0);
    await requireWorkerOwner(provider, worker);
    const state = await worker.getState();
    const status = Number(state.status);
    if (status !== WorkerStatus.Unbonding && status !== WorkerStatus.Jailed) {
        throw new Error(`the WorkerStake is ${statusName(status)}: only an unbonding or jailed stake can be withdrawn`);
    }
    if (state.stake === 0n) throw new Error('nothing is left to withdraw');
    const now = chainTime(provider);
    if (now < Number(state.unbondingDeadline)) {
        throw new Error(`the stake is locked until ${new Date(Number(state.unbondingDeadline) * 1000).toISOString()}`);
    }
    await worker.sendWithdraw(provider.sender());
    await waitUntil(provider, 'the withdrawal', async () => Number(await worker.getStatus()) === WorkerStatus.Withdrawn);
    provider.ui().write(`Withdrew ${state.stake} nanoTON to ${state.owner.toString()}`);
    return state.stake;
}
