import { NetworkProvider } from '@ton/blueprint';
import { ChannelStatus } from '../wrappers/PaymentChannel';
import { verifyCloseApproval, verifyVoucher } from '../wrappers/voucher';
import { blueprintCommand, parseUint, waitUntil } from './lib/cli';
import { describe, keyBuffer, openChannelAt, parseSignature, ton } from './lib/channel';

/**
 * Closes a channel.
 *   npx blueprint run closeChannel <channel>
 *     the client starts the close window; the worker may still claim inside
 *     it, then anyone runs finalizeChannel.
 *   npx blueprint run closeChannel <channel> <finalTotalNanoTON> <clientSigHex> <workerSigHex>
 *     cooperative close: the final voucher co-signed by the worker closes at
 *     once (anyone may send it).
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const channel = await openChannelAt(provider, args);
    const state = await channel.getState();
    if (args.length > 1) {
        const total = parseUint(args[1], 120, 'final total');
        const clientSig = parseSignature(args[2] ?? '', 'client signature');
        const workerSig = parseSignature(args[3] ?? '', 'worker signature');
        if (state.status !== ChannelStatus.Open && state.status !== ChannelStatus.Closing) {
            throw new Error(`the channel is ${describe(state.status)}`);
        }
        if (!verifyVoucher(channel.address, total, clientSig, keyBuffer(state.clientKey))) {
            throw new Error('the client signature does not match this final voucher');
        }
        if (!verifyCloseApproval(channel.address, total, workerSig, keyBuffer(state.workerKey))) {
            throw new Error('the worker signature does not approve this final total');
        }
        if (total < state.paid) throw new Error(`the final total is below what is already paid (${ton(state.paid)})`);
        await channel.sendCooperativeClose(provider.sender(), { channel: channel.address, total, signature: clientSig }, workerSig);
        await waitUntil(provider, 'the close', async () => Number(await channel.getStatus()) === ChannelStatus.Closed);
        provider.ui().write(`Closed: worker paid ${ton(await channel.getPaid())}, client refunded ${ton(await channel.getRefunded())}`);
        return;
    }
    const me = provider.sender().address;
    if (!me || !me.equals(state.client)) throw new Error(`only the channel's client (${state.client.toString()}) can ask to close`);
    if (state.status !== ChannelStatus.Open) throw new Error(`the channel is ${describe(state.status)}, not open`);
    await channel.sendRequestClose(provider.sender());
    await waitUntil(provider, 'the close request', async () => Number(await channel.getStatus()) === ChannelStatus.Closing);
    const deadline = Number(await channel.getCloseDeadline());
    provider.ui().write(`Closing; anyone can finalise after ${new Date(deadline * 1000).toISOString()}:`);
    provider.ui().write(`  ${blueprintCommand(provider, 'finalizeChannel', [channel.address.toString()])}`);
}
