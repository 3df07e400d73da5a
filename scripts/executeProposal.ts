import { NetworkProvider } from '@ton/blueprint';
import { ProposalKind, decodeProposal } from '../wrappers/Registry';
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
    const versionBefore = await registry.getConfigVersion();
    provider.ui().write(`Executing proposal ${id} (${ProposalKind[decoded.kind]})`);
    await registry.sendExecute(provider.sender(), id);
    await waitUntil(provider, 'the proposal to execute', async () => (await registry.getConfigVersion()) > versionBefore);
    provider.ui().write(`Executed; config version is now ${await registry.getConfigVersion()}`);
}

