import { NetworkProvider } from '@ton/blueprint';
import { openRegistry, requireOwner } from './lib/cli';
import { submitProposal } from './lib/governance';

/**
 * Queues the end of a pause (a loosening, so it waits for the timelock).
 *   npx blueprint run proposeUnpause <registry>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const registry = await openRegistry(provider, args);
    await requireOwner(provider, registry);
    if (!(await registry.getPaused())) throw new Error('the network is not paused');
    return submitProposal(provider, registry, () => registry.sendProposeUnpause(provider.sender()));
}
