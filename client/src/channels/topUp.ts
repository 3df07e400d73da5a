import { ChannelStatus } from '../../../wrappers/PaymentChannel';
import { CocoonError } from '../cocoonError';
import type { ClientContext } from '../options';
import type { ChannelPool } from './pool';
import type { ChannelRow } from '../store';
import { channelContract, waitForChain } from './onChain';

/** Top-ups on their way, by channel: every call that finds the shortage waits for the same one. */
const inFlight = new WeakMap<ClientContext, Map<string, Promise<ChannelRow>>>();

/**
 * Adds `amount` to the channel's deposit and waits until the chain shows it;
 * returns the row with the new deposit. A top-up of the channel already on
 * its way is joined, not repeated: one shortage, one top-up.
 */
export function topUp(ctx: ClientContext, row: ChannelRow, amount: bigint): Promise<ChannelRow> {
    let byChannel = inFlight.get(ctx);
    if (!byChannel) inFlight.set(ctx, (byChannel = new Map()));
    const running = byChannel.get(row.address);
    if (running) return running;
    const done = send(ctx, row, amount).finally(() => byChannel.delete(row.address));
    byChannel.set(row.address, done);
    return done;
}

async function send(ctx: ClientContext, row: ChannelRow, amount: bigint): Promise<ChannelRow> {
    const ch = channelContract(ctx, row.address);
    ctx.log('topping up channel', { channel: row.address, amount: amount.toString() });
    // Counted from the chain's deposit, not the row's: the row may predate a top-up that has landed since, which
    // would make this one look done before it is.
    const before = await ch.getDeposit();
    await ch.sendTopUp(ctx.o.wallet, amount);
    const deposit = await waitForChain(
        'the top-up',
        () => ch.getDeposit(),
        (d) => d >= before + amount,
    );
    ctx.o.store.setDeposit(row.address, deposit);
    return { ...row, ...(ctx.o.store.channel(row.address) ?? {}), deposit };
}

/**
 * A top-up someone asked for by hand (the console), of exactly `amount`:
 * with the channel held (no request in flight on it, no close under way),
 * refused while another top-up of it is on its way (it would be joined, and
 * report that top-up's amount as this one's) and when the chain shows the
 * channel not open (the contract would refuse it and keep the gas).
 */
export async function topUpExactly(ctx: ClientContext, pool: ChannelPool, row: ChannelRow, amount: bigint): Promise<ChannelRow> {
    return pool.withChannelAt(row.address, row.workerStake, async () => {
        if (inFlight.get(ctx)?.has(row.address)) throw new CocoonError(409, 'top_up_in_progress', 'address: a top-up of this channel is on its way; try again when it has landed');
        const status = Number(await channelContract(ctx, row.address).getStatus());
        if (status !== ChannelStatus.Open) throw new CocoonError(409, 'channel_not_open', 'address: the chain shows the channel not open; only an open channel takes a top-up');
        return topUp(ctx, { ...row, ...(ctx.o.store.channel(row.address) ?? {}) }, amount);
    });
}
