import type { ClientContext } from '../options';
import type { ChannelRow } from '../store';
import { channelContract, waitForChain } from './onChain';

/** Adds `amount` to the channel's deposit and waits until the chain shows it; returns the row with the new deposit. */
export async function topUp(ctx: ClientContext, row: ChannelRow, amount: bigint): Promise<ChannelRow> {
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
    return { ...row, deposit };
}
