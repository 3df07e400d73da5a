import { NetworkProvider } from '@ton/blueprint';
import { OpenedContract } from '@ton/core';
import { ExtendedRegistry, decodeProposal } from '../../wrappers/Registry';
import { blueprintCommand, waitUntil } from './cli';

/**
 * Sends a proposal and waits for the Registry to queue it. Returns its id.
 * The id is the Registry's next id at sending time; if another proposal of
 * the owner lands first the script reports the newest one it finds.
 */
export async function submitProposal(provider: NetworkProvider, registry: OpenedContract<ExtendedRegistry>, send: () => Promise<unknown>): Promise<bigint> {
    const before = await registry.getNextProposalId();
    await send();
    await waitUntil(provider, 'the proposal to be queued', async () => (await registry.getNextProposalId()) > before);
    const id = before;
    const proposal = await registry.getProposal(id);
    if (!proposal) throw new Error(`proposal ${id} was not found after queueing`);
    const decoded = decodeProposal(proposal);
    const when = new Date(decoded.executeAfter * 1000).toISOString();
    provider.ui().write(`Queued proposal ${id}; anyone can execute it after ${when}:`);
    provider.ui().write(`  ${blueprintCommand(provider, 'executeProposal', [registry.address.toString(), id])}`);
    return id;
}
