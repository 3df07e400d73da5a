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
    /** Stands in for the worker's WorkerStake: a wallet that accepts payouts. */
    workerStake: SandboxContract<TreasuryContract>;
    clientKeys: KeyPair;
    workerKeys: KeyPair;
}

/** Registry on devnet parameters, an Escrow linked to it and configured. */
export async function deployEscrow(overrides: Partial<NetworkParams> = {}): Promise<EscrowFixture> {
    const f = await deployRegistry(overrides);
    const escrow = f.blockchain.openContract(await ExtendedEscrow.fromInit(f.registry.address));
    const deployed = await escrow.sendDeploy(f.owner.getSender());
    expect(deployed.transactions).toHaveTransaction({ to: escrow.address, deploy: true, success: true });
    await linkContracts(f, { escrow: escrow.address });
    expect(await escrow.getIsConfigured()).toBe(true);
    const client = await f.blockchain.treasury('client', { balance: toNano('1000') });
    const workerStake = await f.blockchain.treasury('workerStake');
    return { ...f, escrow, client, workerStake, clientKeys: testKeys('client'), workerKeys: testKeys('worker') };
}

/** Opens a channel from `f.client` to `workerStake` and returns it. */
export async function openChannel(
    f: Pick<EscrowFixture, 'blockchain' | 'escrow' | 'client' | 'clientKeys' | 'workerKeys'> & { workerStake: { address: Address } },
    opts: { nonce?: bigint; deposit?: bigint; workerStake?: Address; client?: SandboxContract<TreasuryContract> } = {},
) {
    const client = opts.client ?? f.client;
    const workerStake = opts.workerStake ?? f.workerStake.address;
    const nonce = opts.nonce ?? 1n;
    const deposit = opts.deposit ?? toNano('10');
    const result = await f.escrow.sendOpenChannel(client.getSender(), {
        workerStake,
        nonce,
        deposit,
        clientKey: keyToInt(f.clientKeys.publicKey),
        workerKey: keyToInt(f.workerKeys.publicKey),
    });
    const channel = f.blockchain.openContract(await ExtendedPaymentChannel.fromInit(f.escrow.address, client.address, workerStake, nonce));
    return { channel, result };
}
