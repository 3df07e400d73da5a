import { randomInt } from 'node:crypto';
import { ChannelStatus, ExtendedPaymentChannel } from '../../../wrappers/PaymentChannel';
import { ExtendedEscrow } from '../../../wrappers/Escrow';
import { ExtendedStaking } from '../../../wrappers/Staking';
import { ExtendedWorkerStake } from '../../../wrappers/WorkerStake';
import { keyToInt } from '../../../wrappers/voucher';
import { CocoonError } from '../cocoonError';
import type { WorkerInfo } from '../discovery';
import type { ClientContext } from '../options';
import type { ChannelRow } from '../store';
import type { ChannelLease } from './lease';
import { ChannelChecks, channelContract, waitForChain } from './onChain';

/**
 * Opens a new channel to `w` through the network's Escrow with the
 * configured deposit and waits until it is open. With a lease, the new
 * channel is held by it before anyone else can see it, and its opening
 * slot is given back once the ledger lists it.
 */
export async function openChannel(ctx: ClientContext, checks: ChannelChecks, w: WorkerInfo, lease?: ChannelLease): Promise<ChannelRow> {
    const { o } = ctx;
    const staking = o.opener.open(ExtendedStaking.fromAddress(o.staking));
    const escrowAddr = (await staking.getLinks()).escrow;
    if (!escrowAddr) throw new CocoonError(503, 'no_escrow', 'the network has no Escrow configured');
    const escrow = o.opener.open(ExtendedEscrow.fromAddress(escrowAddr));
    // The Escrow derives the worker's WorkerStake from its owner and key: they must name the one discovered, or the
    // channel would open elsewhere than the address computed below.
    const workerKey = keyToInt(w.workerKey);
    const derived = (await ExtendedWorkerStake.fromInit(o.staking, w.owner, workerKey)).address;
    if (!derived.equals(w.workerStake)) throw new CocoonError(502, 'worker_mismatch', `worker ${w.workerStake} is not the WorkerStake of its owner and key`);
    // A fresh nonce gives every channel a new address (no voucher crosses channels).
    const nonce = BigInt(Date.now()) * 1000n + BigInt(randomInt(1000));
    const address = (await ExtendedPaymentChannel.fromInit(escrowAddr, o.wallet.address, w.workerStake, nonce)).address;
    // Held before it enters the ledger, so no other call takes it.
    lease?.take(address.toString());
    ctx.log('opening channel', { worker: w.workerStake.toString(), channel: address.toString(), deposit: o.deposit.toString() });
    // In the ledger before it is sent: a send that fails after the wallet broadcast it (a confirmation timeout)
    // still leaves the channel and its nonce on record, and one that never lands is found New and retired on next use.
    o.store.addChannel({ address: address.toString(), workerStake: w.workerStake.toString(), nonce, deposit: 0n });
    // Only now does the ledger count it: until here the opening slot does, so no other call opens one more meanwhile.
    lease?.opened();
    await escrow.sendOpenChannel(o.wallet, {
        workerOwner: w.owner,
        workerKey,
        nonce,
        clientKey: keyToInt(o.channelKey.publicKey),
        deposit: o.deposit,
    });
    const ch = channelContract(ctx, address.toString());
    await waitForChain(
        'the channel to open',
        async () => Number(await ch.getStatus()),
        (s) => s === ChannelStatus.Open,
    );
    const deposit = await ch.getDeposit();
    o.store.setDeposit(address.toString(), deposit);
    checks.set(address.toString(), Date.now());
    return o.store.channel(address.toString())!;
}
