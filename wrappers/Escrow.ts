import { Address, ContractProvider, Sender, toNano } from '@ton/core';
import { Escrow } from '../build/Escrow/Escrow_Escrow';

export { Escrow, type OpenChannel, type ChannelOpenBounced, loadChannelOpenBounced, storeConfigUpdate, type StrandedReturned, loadStrandedReturned } from '../build/Escrow/Escrow_Escrow';

export interface OpenChannelArgs {
    /** The owner of the worker's WorkerStake (read from its state): the channel pays this address. */
    workerOwner: Address;
    /** The worker's Ed25519 key, read from its WorkerStake: with the owner it fixes the WorkerStake's address. */
    workerKey: bigint;
    nonce: bigint;
    /** The client's channel key (Ed25519 public key as uint256). */
    clientKey: bigint;
    deposit: bigint;
}

/** The generated Escrow wrapper with typed senders. */
export class ExtendedEscrow extends Escrow {
    /**
     * Value on top of the deposit when opening: the channel's storage
     * reserve (kept by the channel), the deploy message with its code and
     * both transactions' gas; the unspent part comes back to the client.
     */
    static readonly OPEN_OVERHEAD = toNano('0.1');
    /** Value that deploys the Escrow and seeds its storage reserve. */
    static readonly DEPLOY_VALUE = toNano('0.1');

    static async fromInit(registry: Address): Promise<ExtendedEscrow> {
        const base = await Escrow.fromInit(registry);
        return new ExtendedEscrow(base.address, base.init);
    }

    static fromAddress(address: Address): ExtendedEscrow {
        return new ExtendedEscrow(address);
    }

    async sendDeploy(provider: ContractProvider, via: Sender, value = ExtendedEscrow.DEPLOY_VALUE) {
        return this.send(provider, via, { value }, null);
    }

    /** Value for ReclaimStrandedOpen: its gas and the reply; the rest returns with the reclaimed value. */
    static readonly RECLAIM_VALUE = toNano('0.05');

    /**
     * Takes back the value kept from a bounced ChannelOpen of the sender's
     * channel (escrow, sender, workerStake, nonce).
     */
    async sendReclaimStrandedOpen(provider: ContractProvider, via: Sender, workerStake: Address, nonce: bigint, queryId = 0n, value = ExtendedEscrow.RECLAIM_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'ReclaimStrandedOpen', queryId, workerStake, nonce });
    }

    /** The WorkerStake of (owner, workerKey), as the Escrow derives it when opening a channel. */
    async getWorkerStakeOf(provider: ContractProvider, owner: Address, workerKey: bigint): Promise<Address> {
        const address = await super.getWorkerStakeOf(provider, owner, workerKey);
        if (!address) throw new Error('the Escrow has no Staking linked yet');
        return address;
    }

    async sendOpenChannel(provider: ContractProvider, via: Sender, args: OpenChannelArgs, queryId = 0n, value = args.deposit + ExtendedEscrow.OPEN_OVERHEAD) {
        return this.send(provider, via, { value }, { $$type: 'OpenChannel', queryId, ...args });
    }
}
