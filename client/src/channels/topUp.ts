import type { ClientContext } from '../options';
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
