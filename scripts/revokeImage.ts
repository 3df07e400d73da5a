import { NetworkProvider } from '@ton/blueprint';
import { argOrAsk, openRegistry, parseHash256, requireOwner, waitUntil } from './lib/cli';
import { hex256 } from '../helpers/bytes';

/**
 * Revokes an allowed image at once (no timelock: withdrawing trust must be
 * fast) and pushes the change to the linked contracts.
 *   npx blueprint run revokeImage <registry> <image hash hex>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const registry = await openRegistry(provider, args);
    const id = parseHash256(await argOrAsk(provider, args, 1, 'Image hash (64 hex digits)'), 'image hash');
    await requireOwner(provider, registry);
    if (!(await registry.getImageAllowed(id))) throw new Error(`image ${hex256(id)} is not currently allowed`);
    await registry.sendRevokeImage(provider.sender(), id, 0n, await registry.getPushingValue());
    await waitUntil(provider, 'the revocation', async () => !(await registry.getImageAllowed(id)));
    provider.ui().write(`Revoked image ${hex256(id)}; config version ${await registry.getConfigVersion()}`);
}
