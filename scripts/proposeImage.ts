import { NetworkProvider } from '@ton/blueprint';
import { argOrAsk, openRegistry, parseHash256, requireOwner } from './lib/cli';
import { hex256 } from '../helpers/bytes';
import { submitProposal } from './lib/governance';

/**
 * Queues the allow-listing of a TEE image hash (SHA-256 of MRTD and RTMR0-3).
 *   npx blueprint run proposeImage <registry> <imageHash hex>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const registry = await openRegistry(provider, args);
    const imageHash = parseHash256(await argOrAsk(provider, args, 1, 'Image hash (64 hex digits)'), 'image hash');
    await requireOwner(provider, registry);
    if (await registry.getImageAllowed(imageHash)) {
        throw new Error(`image ${hex256(imageHash)} is already allowed`);
    }
    return submitProposal(provider, registry, () => registry.sendProposeImage(provider.sender(), imageHash));
}
