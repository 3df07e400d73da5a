import { NetworkProvider } from '@ton/blueprint';
import { argOrAsk, openRegistry, parseHash256, requireOwner, waitUntil } from './lib/cli';
import { hex256 } from '../helpers/bytes';

/**
 * Revokes an allowed model at once (no timelock: withdrawing trust must be
 * fast) and pushes the change to the linked contracts.
 *   npx blueprint run revokeModel <registry> <model id hex>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const registry = await openRegistry(provider, args);
    const id = parseHash256(await argOrAsk(provider, args, 1, 'Model id (64 hex digits)'), 'model id');
    await requireOwner(provider, registry);
    if (!(await registry.getModelAllowed(id))) throw new Error(`model ${hex256(id)} is not currently allowed`);
    await registry.sendRevokeModel(provider.sender(), id, 0n, await registry.getPushingValue());
    await waitUntil(provider, 'the revocation', async () => !(await registry.getModelAllowed(id)));
    provider.ui().write(`Revoked model ${hex256(id)}; config version ${await registry.getConfigVersion()}`);
}
