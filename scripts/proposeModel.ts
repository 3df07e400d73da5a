import { NetworkProvider } from '@ton/blueprint';
import { argOrAsk, openRegistry, parseHash256, requireOwner } from './lib/cli';
import { hex256 } from '../helpers/bytes';
import { submitProposal } from './lib/governance';

/**
 * Queues the allow-listing of a model (id = SHA-256 of its weights file).
 *   npx blueprint run proposeModel <registry> <modelId hex> <name>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const registry = await openRegistry(provider, args);
    const modelId = parseHash256(await argOrAsk(provider, args, 1, 'Model id (64 hex digits)'), 'model id');
    const name = await argOrAsk(provider, args, 2, 'Model name');
    const bytes = Buffer.byteLength(name, 'utf8');
    if (bytes === 0 || bytes > 64) throw new Error('model name must be 1 to 64 bytes of UTF-8');
    await requireOwner(provider, registry);
    const existing = await registry.getModel(modelId);
    if (existing?.enabled) throw new Error(`model ${hex256(modelId)} is already allowed as "${existing.name}"`);
    return submitProposal(provider, registry, () => registry.sendProposeModel(provider.sender(), modelId, name));
}
