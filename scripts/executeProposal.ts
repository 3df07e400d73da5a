import { NetworkProvider } from '@ton/blueprint';
import { ExtendedRegistry, ProposalKind, decodeProposal } from '../wrappers/Registry';
import { ExtendedStaking } from '../wrappers/Staking';
import { ExtendedWorkerStake, STATUS_NAMES, WorkerStatus } from '../wrappers/WorkerStake';
import { argOrAsk, openRegistry, parseUint, waitUntil } from './lib/cli';
import { withTupleFix } from './lib/v2compat';

/**
 * Executes a queued proposal whose timelock has passed. Anyone may run it.
 *   npx blueprint run executeProposal <registry> <proposalId>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const registry = await openRegistry(provider, args);
    const id = parseUint(await argOrAsk(provider, args, 1, 'Proposal id'), 32, 'proposal id');
    const proposal = await registry.getProposal(id);
    if (!proposal) throw new Error(`proposal ${id} is not queued (never proposed, cancelled or already executed)`);
    const decoded = decodeProposal(proposal);
    if (!(await registry.getProposalReady(id))) {
        const deadline = Number(await registry.getProposalDeadline(id));
        if (Date.now() / 1000 > deadline) {
            throw new Error(`proposal ${id} expired at ${new Date(deadline * 1000).toISOString()}: cancel it and propose again`);
        }
        throw new Error(`proposal ${id} is still timelocked until ${new Date(decoded.executeAfter * 1000).toISOString()}`);
    }
    provider.ui().write(`Executing proposal ${id} (${ProposalKind[decoded.kind]})`);
    if (decoded.kind === ProposalKind.GovernanceSlash) {
        const stakingAddress = (await registry.getLinks()).staking;
        if (stakingAddress === null) throw new Error('no Staking is linked: a slash order has nowhere to go');
        // A slash the WorkerStake would refuse comes back (the proposal is
        // queued again and the value returned, less fees): say so up front.
        const staking = withTupleFix(provider).open(ExtendedStaking.fromAddress(stakingAddress));
        const workerAddress = await staking.getWorkerAddress(decoded.slash.owner, decoded.slash.workerKey);
        if (!(await provider.isContractDeployed(workerAddress))) throw new Error(`no WorkerStake is deployed at ${workerAddress.toString()}`);
        const worker = withTupleFix(provider).open(ExtendedWorkerStake.fromAddress(workerAddress));
        const state = await worker.getState();
        const status = Number(state.status);
        if (status === WorkerStatus.Withdrawn || status === WorkerStatus.Jailed || status === WorkerStatus.New || state.stake === 0n) {
            throw new Error(`the worker is ${STATUS_NAMES[status]} with stake ${state.stake}: the slash would be refused`);
        }
        await registry.sendExecute(provider.sender(), id, 0n, ExtendedRegistry.SLASH_EXECUTE_VALUE);
        await waitUntil(provider, 'the slash', async () => (await worker.getState()).slashes > state.slashes);
        provider.ui().write(`Slashed ${workerAddress.toString()} (reason ${decoded.slash.reasonHash.toString(16)})`);
        return;
    }
    const versionBefore = await registry.getConfigVersion();
    await registry.sendExecute(provider.sender(), id, 0n, await registry.getPushingValue());
    await waitUntil(provider, 'the proposal to execute', async () => (await registry.getConfigVersion()) > versionBefore);
    provider.ui().write(`Executed; config version is now ${await registry.getConfigVersion()}`);
}
