import { NetworkProvider } from '@ton/blueprint';
import { ChannelStatus } from '../wrappers/PaymentChannel';
import { verifyVoucher } from '../wrappers/voucher';
import { argOrAsk, parseUint, waitUntil } from './lib/cli';
import { describe, keyBuffer, openChannelAt, parseSignature, ton } from './lib/channel';

/**
 * Redeems a client-signed voucher (anyone may send it; the payout goes to
 * the channel's WorkerStake). The voucher is checked off chain first.
 *   npx blueprint run claimVoucher <channel> <totalNanoTON> <clientSignatureHex>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const channel = await openChannelAt(provider, args);
    const total = parseUint(await argOrAsk(provider, args, 1, 'Voucher total (nanoTON)'), 120, 'voucher total');
    const signature = parseSignature(await argOrAsk(provider, args, 2, 'Client signature (hex)'), 'signature');

    const state = await channel.getState();
    if (state.status !== ChannelStatus.Open && state.status !== ChannelStatus.Closing) {
        throw new Error(`the channel is ${describe(state.status)}: nothing can be claimed`);
    }
    if (state.status === ChannelStatus.Closing && (await channel.getFinalizable())) {
        throw new Error('the close window has ended: the channel only awaits finalisation');
    }
    if (!verifyVoucher(channel.address, total, signature, keyBuffer(state.clientKey))) {
        throw new Error("the signature is not the channel client key's signature of this voucher");
    }
    if (total <= state.paid) throw new Error(`the voucher (${ton(total)}) is not above what is already paid (${ton(state.paid)})`);
    if (state.claimable === 0n) throw new Error('the deposit is spent: nothing left to claim');

    await channel.sendClaim(provider.sender(), { channel: channel.address, total, signature });
    await waitUntil(provider, 'the claim', async () => (await channel.getPaid()) > state.paid);
    const paid = await channel.getPaid();
    provider.ui().write(`Claimed ${ton(paid - state.paid)}; paid in all ${ton(paid)}`);
}
