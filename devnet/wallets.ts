import { Address, Cell } from '@ton/core';
import { KeyPair, mnemonicToPrivateKey } from '@ton/crypto';
import { WalletContractV3R2, WalletContractV4, WalletContractV5R1 } from '@ton/ton';

/** Default wallet id of V4R2 wallets (what @ton/ton and Blueprint use). */
export const V4_DEFAULT_WALLET_ID = 698983191;
/**
 * Network global id baked into V5R1 wallet ids. Blueprint uses the mainnet
 * id (-239) for `--custom` networks, and the sandbox config is mainnet's.
 */
export const V5_NETWORK_GLOBAL_ID = -239;

export type DevWalletVersion = 'v4r2' | 'v5r1';

export interface DevWallet {
    /** Account index: 0 is what `blueprint run --mnemonic` uses by default. */
    index: number;
    version: DevWalletVersion;
    address: Address;
    code: Cell;
    data: Cell;
    /** Environment a Blueprint run needs to use this wallet. */
    env: Record<string, string>;
}

/**
 * Derives the development accounts: for each index i, a V4R2 wallet with
 * wallet id 698983191 + i and a V5R1 wallet with subwallet number i, both
 * from the same key pair. Index 0 matches Blueprint's defaults, so
 * WALLET_MNEMONIC + WALLET_VERSION alone select it.
 */
export async function deriveDevWallets(mnemonic: string, count: number): Promise<{ keyPair: KeyPair; wallets: DevWallet[] }> {
    const keyPair = await mnemonicToPrivateKey(mnemonic.trim().split(/\s+/));
    const wallets: DevWallet[] = [];
    for (let index = 0; index < count; index++) {
        const v4 = WalletContractV4.create({ workchain: 0, publicKey: keyPair.publicKey, walletId: V4_DEFAULT_WALLET_ID + index });
        wallets.push({
            index,
            version: 'v4r2',
            address: v4.address,
            code: v4.init.code,
            data: v4.init.data,
            env: index === 0 ? { WALLET_VERSION: 'v4r2' } : { WALLET_VERSION: 'v4r2', WALLET_ID: String(V4_DEFAULT_WALLET_ID + index) },
        });
        const v5 = WalletContractV5R1.create({
            publicKey: keyPair.publicKey,
            walletId: { networkGlobalId: V5_NETWORK_GLOBAL_ID, context: { workchain: 0, subwalletNumber: index, walletVersion: 'v5r1' } },
        });
        wallets.push({
            index,
            version: 'v5r1',
            address: v5.address,
            code: v5.init.code,
            data: v5.init.data,
            env: index === 0 ? { WALLET_VERSION: 'v5r1' } : { WALLET_VERSION: 'v5r1', SUBWALLET_NUMBER: String(index) },
        });
    }
    return { keyPair, wallets };
}

/** Code hashes of the standard wallets, to answer getWalletInformation. */
export function knownWalletCodes(): Map<string, { type: string; hasWalletId: boolean }> {
    const dummy = Buffer.alloc(32);
    const v4 = WalletContractV4.create({ workchain: 0, publicKey: dummy });
    const v5 = WalletContractV5R1.create({ publicKey: dummy });
    const v3 = WalletContractV3R2.create({ workchain: 0, publicKey: dummy });
    return new Map([
        [v3.init.code.hash().toString('hex'), { type: 'wallet v3 r2', hasWalletId: true }],
        [v4.init.code.hash().toString('hex'), { type: 'wallet v4 r2', hasWalletId: true }],
        [v5.init.code.hash().toString('hex'), { type: 'wallet v5 r1', hasWalletId: true }],
    ]);
}
