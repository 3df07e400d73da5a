import { NetworkProvider } from '@ton/blueprint';
import { Address } from '@ton/core';
import { argOrAsk, parseHash256, parseUint, waitUntil } from './lib/cli';
import { openStaking } from './lib/worker';
import { ExtendedEscrow } from '../wrappers/Escrow';

/**
 * Takes back value a contract kept from a bounce that could not name its
 * owner. Checks that something is kept for the sender first.
 *   npx blueprint run reclaimStranded staking <staking> <worker key hex>   # a deposit your WorkerStake bounced
 *   npx blueprint run reclaimStranded staking <staking> sync               # your SyncWorkerConfig requests that found no WorkerStake
 *   npx blueprint run reclaimStranded escrow <escrow> <workerStake> <nonce> # an open of your channel that bounced
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const sender = provider.sender().address;
    if (!sender) throw new Error('connect a wallet: only the owner of the value can reclaim it');
    const where = await argOrAsk(provider, args, 0, 'Kept by: staking or escrow');
    if (where === 'staking') {
        const staking = await openStaking(provider, args, 1);
        const which = await argOrAsk(provider, args, 2, 'Worker key (64 hex digits), or "sync"');
        const workerKey = which === 'sync' ? 0n : parseHash256(which, 'worker key');
        const kept = async () => (workerKey === 0n ? staking.getStrandedRefund(sender) : staking.getStrandedDeposit(await staking.getWorkerAddress(sender, workerKey)));
        const amount = await kept();
        if (amount === 0n) throw new Error('Staking keeps nothing for you there');
        await staking.sendReclaimStranded(provider.sender(), workerKey);
        await waitUntil(provider, 'the reclaim', async () => (await kept()) === 0n);
        provider.ui().write(`Reclaimed ${amount} nanoTON from Staking`);
        return amount;
    }
    if (where === 'escrow') {
        const escrow = provider.open(ExtendedEscrow.fromAddress(Address.parse(await argOrAsk(provider, args, 1, 'Escrow address'))));
        const workerStake = Address.parse(await argOrAsk(provider, args, 2, 'WorkerStake address of the channel'));
        const nonce = parseUint(await argOrAsk(provider, args, 3, 'Channel nonce'), 64, 'nonce');
        const channel = await escrow.getChannelAddress(sender, workerStake, nonce);
        const amount = await escrow.getStrandedFor(channel);
        if (amount === 0n) throw new Error(`the Escrow keeps nothing for channel ${channel.toString()}`);
        await escrow.sendReclaimStrandedOpen(provider.sender(), workerStake, nonce);
        await waitUntil(provider, 'the reclaim', async () => (await escrow.getStrandedFor(channel)) === 0n);
        provider.ui().write(`Reclaimed ${amount} nanoTON from the Escrow`);
        return amount;
    }
    throw new Error(`unknown holder "${where}": use staking or escrow`);
}
