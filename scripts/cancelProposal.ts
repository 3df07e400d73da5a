import { NetworkProvider } from '@ton/blueprint';
import { argOrAsk, openRegistry, parseUint, requireOwner, waitUntil } from './lib/cli';

/**
 * Cancels a queued proposal before anyone executes it.
 *   npx blueprint run cancelProposal <registry> <proposalId>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const registry = await openRegistry(provider, args);
    const id = parseUint(await argOrAsk(provider, args, 1, 'Proposal id'), 32, 'proposal id');
    await requireOwner(provider, registry);
    if (!(await registry.getProposal(id))) throw new Error(`proposal ${id} is not queued`);
    await registry.sendCancel(provider.sender(), id);
    await waitUntil(provider, 'the cancellation', async () => (await registry.getProposal(id)) === null);
    provider.ui().write(`Cancelled proposal ${id}`);
}
