import { NetworkProvider } from '@ton/blueprint';
import { ExtendedRegistry, ProposalKind, decodeProposal } from '../wrappers/Registry';
import { argOrAsk, openRegistry, parseUint, waitUntil } from './lib/cli';

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
        throw new Error(`proposal ${id} is still timelocked until ${new Date(decoded.executeAfter * 1000).toISOString()}`);
    }
    provider.ui().write(`Executing proposal ${id} (${ProposalKind[decoded.kind]})`);
    if (decoded.kind === ProposalKind.GovernanceSlash) {
        if ((await registry.getLinks()).staking === null) throw new Error('no Staking is linked: a slash order has nowhere to go');
        await registry.sendExecute(provider.sender(), id, 0n, ExtendedRegistry.SLASH_EXECUTE_VALUE);
        await waitUntil(provider, 'the slash order', async () => (await registry.getSlashes()).has(Number(id)));
        provider.ui().write(`Slash order sent to Staking (reason ${decoded.slash.reasonHash.toString(16)})`);
        return;
    }
    const versionBefore = await registry.getConfigVersion();
    await registry.sendExecute(provider.sender(), id);
    await waitUntil(provider, 'the proposal to execute', async () => (await registry.getConfigVersion()) > versionBefore);
    provider.ui().write(`Executed; config version is now ${await registry.getConfigVersion()}`);
}

