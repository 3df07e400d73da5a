import { NetworkProvider } from '@ton/blueprint';
import { ChannelStatus } from '../wrappers/PaymentChannel';
import { waitUntil } from './lib/cli';
import { describe, openChannelAt, ton } from './lib/channel';

/**
 * Finalises a channel whose close window has ended; the unspent deposit
 * goes back to the client. Anyone may run it.
 *   npx blueprint run finalizeChannel <channel>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const channel = await openChannelAt(provider, args);
    const status = Number(await channel.getStatus()) as ChannelStatus;
    if (status !== ChannelStatus.Closing) throw new Error(`the channel is ${describe(status)}: only a closing channel can be finalised`);
    if (!(await channel.getFinalizable())) {
        const deadline = Number(await channel.getCloseDeadline());
        throw new Error(`the close window is still open until ${new Date(deadline * 1000).toISOString()}`);
    }
    await channel.sendFinalize(provider.sender());
    await waitUntil(provider, 'the finalisation', async () => Number(await channel.getStatus()) === ChannelStatus.Closed);
    provider.ui().write(`Finalised: client refunded ${ton(await channel.getRefunded())}, worker paid ${ton(await channel.getPaid())}`);
}
