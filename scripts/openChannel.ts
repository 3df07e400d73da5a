import { NetworkProvider } from '@ton/blueprint';
import { Address } from '@ton/core';
import { ExtendedEscrow } from '../wrappers/Escrow';
import { ChannelStatus, ExtendedPaymentChannel } from '../wrappers/PaymentChannel';
import { keyToInt } from '../wrappers/voucher';
import { ExtendedWorkerStake } from '../wrappers/WorkerStake';
import { argOrAsk, parseUint, waitUntil } from './lib/cli';
import { parsePublicKey, parseTon, ton } from './lib/channel';

/**
 * Opens a payment channel from this wallet (the client) to a worker.
 *   npx blueprint run openChannel <escrow> <workerStake> <workerKeyHex> <clientKeyHex> <depositTON> [nonce]
 * workerKeyHex is the worker's attested Ed25519 key (from its WorkerStake);
 * clientKeyHex is the public half of the key that will sign vouchers. The
 * nonce defaults to the current time in milliseconds: every channel gets a
 * fresh address, so no voucher of an earlier channel is valid in it.
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const escrowAddress = Address.parse(await argOrAsk(provider, args, 0, 'Escrow address', 'COCOON_ESCROW'));
    const workerStake = Address.parse(await argOrAsk(provider, args, 1, 'WorkerStake address'));
    const workerKey = parsePublicKey(await argOrAsk(provider, args, 2, 'Worker Ed25519 key (hex)'), 'worker key');
    const clientKey = parsePublicKey(await argOrAsk(provider, args, 3, 'Client voucher key (hex)', 'COCOON_CLIENT_KEY'), 'client key');
    const deposit = parseTon(await argOrAsk(provider, args, 4, 'Deposit (TON)'), 'deposit');
    const nonce = args[5] !== undefined ? parseUint(args[5], 64, 'nonce') : BigInt(Date.now());

    const client = provider.sender().address;
    if (!client) throw new Error('the wallet address is unknown');
    if (!(await provider.isContractDeployed(escrowAddress))) throw new Error(`no Escrow is deployed at ${escrowAddress.toString()}`);
    const escrow = provider.open(ExtendedEscrow.fromAddress(escrowAddress));
    if (!(await escrow.getIsConfigured())) throw new Error('the Escrow has no network config yet (link it in the Registry first)');
    if (await escrow.getPaused()) throw new Error('the network is paused: no new channels');
    if (!(await provider.isContractDeployed(workerStake))) throw new Error(`no WorkerStake is deployed at ${workerStake.toString()}`);
    // The Escrow names the worker by its owner and key (the channel pays the owner): both must give this WorkerStake.
    const workerOwner = (await provider.open(ExtendedWorkerStake.fromAddress(workerStake)).getState()).owner;
    if (!(await escrow.getWorkerStakeOf(workerOwner, keyToInt(workerKey))).equals(workerStake)) {
        throw new Error(`the worker key is not the key of WorkerStake ${workerStake.toString()}`);
    }

    const channelAddress = await escrow.getChannelAddress(client, workerStake, nonce);
    if (await provider.isContractDeployed(channelAddress)) {
        throw new Error(`a channel with nonce ${nonce} already exists at ${channelAddress.toString()}; choose another nonce`);
    }
    const terms = (await escrow.getCurrentTerms())!;
    provider.ui().write(`Opening channel ${channelAddress.toString()} (nonce ${nonce}) with ${ton(deposit)}; ` + `fee ${terms.feeBps} bps, close delay ${terms.closeDelay} s`);
    await escrow.sendOpenChannel(provider.sender(), {
        workerOwner,
        workerKey: keyToInt(workerKey),
        nonce,
        deposit,
        clientKey: keyToInt(clientKey),
    });
    const channel = provider.open(ExtendedPaymentChannel.fromAddress(channelAddress));
    await waitUntil(provider, 'the channel to open', async () => (await provider.isContractDeployed(channelAddress)) && Number(await channel.getStatus()) === ChannelStatus.Open);
    provider.ui().write(`Channel open: ${channelAddress.toString()}`);
    return channel;
}
