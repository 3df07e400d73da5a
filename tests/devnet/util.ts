import { Address } from '@ton/core';
import { mnemonicToPrivateKey } from '@ton/crypto';
import { TonClient, WalletContractV4, WalletContractV5R1 } from '@ton/ton';
import { DEVNET_MNEMONIC } from '../../wrappers/devnet';

/** POSTs a JSON-RPC call and returns the HTTP status and the parsed body, whatever they are. */
export async function rpc(endpoint: string, method: string, params: unknown, rawBody?: string) {
    const res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: rawBody ?? JSON.stringify({ id: 7, jsonrpc: '2.0', method, params }),
    });
    return { status: res.status, body: (await res.json()) as { ok: boolean; result?: any; error?: string; code?: number; id?: unknown } };
}

export async function post(url: string, body: unknown) {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { ok: boolean; result?: any; error?: string; code?: number } };
}

/** The dev wallets #0 (Blueprint's defaults for the mnemonic), opened on `client`. */
export async function devWallets(client: TonClient) {
    const keyPair = await mnemonicToPrivateKey(DEVNET_MNEMONIC.split(' '));
    const v4 = client.open(WalletContractV4.create({ workchain: 0, publicKey: keyPair.publicKey }));
    const v5 = client.open(WalletContractV5R1.create({ publicKey: keyPair.publicKey }));
    return { keyPair, v4, v5 };
}

export function randomAddress(seed: number): Address {
    return new Address(0, Buffer.alloc(32, seed));
}
