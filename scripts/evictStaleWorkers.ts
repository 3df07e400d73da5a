import { NetworkProvider } from '@ton/blueprint';
import { argOrAsk, parseHash256, waitUntil } from './lib/cli';
import { openStaking } from './lib/worker';

/**
 * Frees the index slots of a model whose workers are no longer live
 * (attestation expired, image or model revoked), so a full index takes new
 * workers again. Anyone may run it; each eviction's unspent value returns.
 *   npx blueprint run evictStaleWorkers <staking> <model id hex>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const staking = await openStaking(provider, args, 0);
    const modelId = parseHash256(await argOrAsk(provider, args, 1, 'Model id (64 hex digits)'), 'model id');
    const stale = await staking.getAllStaleWorkers(modelId);
    if (stale.size === 0) {
        provider.ui().write('No stale entry: every listed worker is live.');
        return 0;
    }
    // Highest slot first: an eviction moves the last entry into the freed slot, which is then already checked.
    const slots = [...stale.keys()].sort((a, b) => b - a);
    for (const slot of slots) {
        const count = await staking.getWorkerCount(modelId);
        await staking.sendEvictWorker(provider.sender(), modelId, BigInt(slot));
        await waitUntil(provider, `the eviction of slot ${slot}`, async () => (await staking.getWorkerCount(modelId)) < count);
        provider.ui().write(`Evicted slot ${slot} (${stale.get(slot)!.worker.toString()})`);
    }
    return slots.length;
}
