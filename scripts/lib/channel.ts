import { NetworkProvider } from '@ton/blueprint';
import { Address, OpenedContract, fromNano, toNano } from '@ton/core';
import { ChannelStatus, ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { argOrAsk } from './cli';
import { uint256ToBytes } from '../../helpers/bytes';

/** Opens the PaymentChannel named by args[index] and checks it is deployed. */
export async function openChannelAt(provider: NetworkProvider, args: string[], index = 0): Promise<OpenedContract<ExtendedPaymentChannel>> {
    const address = Address.parse(await argOrAsk(provider, args, index, 'Channel address', 'COCOON_CHANNEL'));
    if (!(await provider.isContractDeployed(address))) {
        throw new Error(`no channel is deployed at ${address.toString()}`);
    }
    const channel = provider.open(ExtendedPaymentChannel.fromAddress(address));
    try {
        await channel.getStatus();
    } catch {
        throw new Error(`${address.toString()} is not a Cocoon PaymentChannel`);
    }
    return channel;
}

/** An amount in TON ("1.5"), as nanoTON; must be positive. */
export function parseTon(text: string, what: string): bigint {
    const trimmed = text.trim();
    if (!/^[0-9]+(\.[0-9]{1,9})?$/.test(trimmed)) throw new Error(`${what} must be an amount in TON such as 1.5, got "${text}"`);
    const value = toNano(trimmed);
    if (value <= 0n) throw new Error(`${what} must be positive`);
    return value;
}

/** A 64-byte Ed25519 signature given as 128 hex digits. */
export function parseSignature(text: string, what: string): Buffer {
    const hex = text.trim().replace(/^0x/i, '');
    if (!/^[0-9a-fA-F]{128}$/.test(hex)) throw new Error(`${what} must be 128 hex digits (64 bytes)`);
    return Buffer.from(hex, 'hex');
}

/** A 32-byte Ed25519 public key given as 64 hex digits. */
export function parsePublicKey(text: string, what: string): Buffer {
    const hex = text.trim().replace(/^0x/i, '');
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`${what} must be 64 hex digits (32 bytes)`);
    return Buffer.from(hex, 'hex');
}

export function keyBuffer(key: bigint): Buffer {
    return uint256ToBytes(key);
}

export function describe(status: ChannelStatus): string {
    return ChannelStatus[status] ?? `unknown (${status})`;
}

export function ton(n: bigint): string {
    return `${fromNano(n)} TON`;
}
