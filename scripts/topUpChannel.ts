import { NetworkProvider } from '@ton/blueprint';
import { ChannelStatus } from '../wrappers/PaymentChannel';
import { argOrAsk, waitUntil } from './lib/cli';
import { describe, openChannelAt, parseTon, ton } from './lib/channel';

/**
 * Adds to an open channel's deposit (anyone may).
 *   npx blueprint run topUpChannel <channel> <amountTON>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const channel = await openChannelAt(provider, args);
    const amount = parseTon(await argOrAsk(provider, args, 1, 'Amount (TON)'), 'amount');
    const status = Number(await channel.getStatus()) as ChannelStatus;
    if (status !== ChannelStatus.Open) throw new Error(`the channel is ${describe(status)}: only an open channel takes top-ups`);
    const before = await channel.getDeposit();
    await channel.sendTopUp(provider.sender(), amount);
    await waitUntil(provider, 'the top-up', async () => (await channel.getDeposit()) > before);
    provider.ui().write(`Deposit is now ${ton(await channel.getDeposit())}`);
}
