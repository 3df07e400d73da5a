import { NetworkProvider } from '@ton/blueprint';
import { openRegistry, requireOwner, waitUntil } from './lib/cli';

/**
 * Pauses the network at once: linked contracts stop taking new stakes and
 * channels. Unpausing goes through the timelock (proposeUnpause).
 *   npx blueprint run pause <registry>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const registry = await openRegistry(provider, args);
    await requireOwner(provider, registry);
    if (await registry.getPaused()) throw new Error('the network is already paused');
    await registry.sendPause(provider.sender(), 0n, await registry.getPushingValue());
    await waitUntil(provider, 'the pause', () => registry.getPaused());
    provider.ui().write(`Paused; config version ${await registry.getConfigVersion()}`);
}
