import '@ton/test-utils';
import { Address, toNano } from '@ton/core';
import { KeyPair, keyPairFromSeed } from '@ton/crypto';
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { ExtendedEscrow } from '../../wrappers/Escrow';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { NetworkParams } from '../../wrappers/Registry';
import { keyToInt } from '../../wrappers/voucher';
import { RegistryFixture, deployRegistry, linkContracts } from './registry';

/** A deterministic Ed25519 key pair for tests. */
export function testKeys(name: string): KeyPair {
    return keyPairFromSeed(Buffer.from(name.padEnd(32, '.').slice(0, 32)));
}

export interface EscrowFixture extends RegistryFixture {
    escrow: SandboxContract<ExtendedEscrow>;
    client: SandboxContract<TreasuryContract>;
    /** The WorkerStake's owner: a wallet, the payee of the worker's channels. */
    workerOwner: SandboxContract<TreasuryContract>;
    /** The worker's WorkerStake address, derived by the Escrow from the linked Staking, the owner and the worker key (no WorkerStake is deployed there). */
    workerStake: { address: Address };
    /** The address linked as Staking (a wallet standing in for it: the Escrow only derives addresses from it). */
    staking: SandboxContract<TreasuryContract>;
    clientKeys: KeyPair;
    workerKeys: KeyPair;
}

/** Registry on devnet parameters, an Escrow linked to it and configured. */
export async function deployEscrow(overrides: Partial<NetworkParams> = {}): Promise<EscrowFixture> {
    const f = await deployRegistry(overrides);
    const escrow = f.blockchain.openContract(await ExtendedEscrow.fromInit(f.registry.address));
    const deployed = await escrow.sendDeploy(f.owner.getSender());
    expect(deployed.transactions).toHaveTransaction({ to: escrow.address, deploy: true, success: true });
    const staking = await f.blockchain.treasury('staking');
    await linkContracts(f, { escrow: escrow.address, staking: staking.address });
    expect(await escrow.getIsConfigured()).toBe(true);
    const client = await f.blockchain.treasury('client', { balance: toNano('1000') });
    const workerOwner = await f.blockchain.treasury('workerOwner');
    const workerKeys = testKeys('worker');
    const workerStake = { address: await escrow.getWorkerStakeOf(workerOwner.address, keyToInt(workerKeys.publicKey)) };
    return { ...f, escrow, client, workerOwner, workerStake, staking, clientKeys: testKeys('client'), workerKeys };
}

/** Opens a channel from `f.client` to the worker of `workerOwner` and the fixture's worker key, and returns it. */
export async function openChannel(
    f: Pick<EscrowFixture, 'blockchain' | 'escrow' | 'client' | 'clientKeys' | 'workerKeys'> & { workerOwner: { address: Address } },
    opts: { nonce?: bigint; deposit?: bigint; workerOwner?: Address; client?: SandboxContract<TreasuryContract> } = {},
) {
    const client = opts.client ?? f.client;
    const workerOwner = opts.workerOwner ?? f.workerOwner.address;
    const workerKey = keyToInt(f.workerKeys.publicKey);
    const nonce = opts.nonce ?? 1n;
    const deposit = opts.deposit ?? toNano('10');
    const result = await f.escrow.sendOpenChannel(client.getSender(), {
        workerOwner,
        workerKey,
        nonce,
        deposit,
        clientKey: keyToInt(f.clientKeys.publicKey),
    });
    const workerStake = await f.escrow.getWorkerStakeOf(workerOwner, workerKey);
    const channel = f.blockchain.openContract(await ExtendedPaymentChannel.fromInit(f.escrow.address, client.address, workerStake, nonce));
    return { channel, result };
}
