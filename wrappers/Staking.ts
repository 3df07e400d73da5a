import { Address, ContractProvider, Dictionary, Sender, toNano } from '@ton/core';
import { IndexEntry, Listing, Staking } from '../build/Staking/Staking_Staking';

export * from '../build/Staking/Staking_Staking';

/** Listing fields without the generated `$$type` tags. */
export interface ListingInput {
    modelId: bigint;
    endpoint: string;
    encryptionKey: bigint;
    prices: { prompt: bigint; cached: bigint; completion: bigint; reasoning: bigint };
}

export function toListing(l: ListingInput): Listing {
    return {
        $$type: 'Listing',
        modelId: l.modelId,
        endpoint: l.endpoint,
        encryptionKey: l.encryptionKey,
        prices: { $$type: 'PriceTerms', ...l.prices },
    };
}

/**
 * The generated Staking wrapper with typed senders. A stake's value is the
 * stake plus `stakeOverhead()` (read it from the contract: it follows the
 * network's gas prices); what the overhead does not spend comes back. More
 * stake goes straight to the WorkerStake (ExtendedWorkerStake.sendTopUpStake).
 */
export class ExtendedStaking extends Staking {
    /** Value for SyncWorkerConfig and other small actions; the rest returns. */
    static readonly ACTION_VALUE = toNano('0.1');
    static readonly DEPLOY_VALUE = toNano('0.1');

    static async fromInit(registry: Address): Promise<ExtendedStaking> {
        const base = await Staking.fromInit(registry);
        return new ExtendedStaking(base.address, base.init);
    }

    static fromAddress(address: Address): ExtendedStaking {
        return new ExtendedStaking(address);
    }

    async sendDeploy(provider: ContractProvider, via: Sender, value = ExtendedStaking.DEPLOY_VALUE) {
        return this.send(provider, via, { value }, null);
    }

    /** Stakes `value` minus the overhead (deploying the WorkerStake the first time); use getStakeValue() to hit an exact stake. */
    async sendStake(provider: ContractProvider, via: Sender, value: bigint, workerKey: bigint, listing: ListingInput, queryId = 0n) {
        return this.send(provider, via, { value }, { $$type: 'Stake', queryId, workerKey, listing: toListing(listing) });
    }

    async sendSyncWorkerConfig(provider: ContractProvider, via: Sender, owner: Address, workerKey: bigint, queryId = 0n) {
        return this.send(provider, via, { value: ExtendedStaking.ACTION_VALUE }, { $$type: 'SyncWorkerConfig', queryId, owner, workerKey });
    }

    /** Frees an index slot whose worker is no longer live (anyone; the rest of the value returns). */
    async sendEvictWorker(provider: ContractProvider, via: Sender, modelId: bigint, slot: bigint, queryId = 0n, value = ExtendedStaking.ACTION_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'EvictWorker', queryId, modelId, slot });
    }

    /**
     * Takes back value Staking kept from a bounce: with `workerKey` 0n, of the
     * sender's SyncWorkerConfig requests that found no WorkerStake; otherwise
     * the deposit the sender's WorkerStake of that key bounced.
     */
    async sendReclaimStranded(provider: ContractProvider, via: Sender, workerKey: bigint, queryId = 0n, value = ExtendedStaking.ACTION_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'ReclaimStranded', queryId, workerKey });
    }

    /** Every index entry of a model whose worker is no longer live, by slot (candidates for EvictWorker). */
    async getAllStaleWorkers(provider: ContractProvider, modelId: bigint, pageSize = 50n): Promise<Map<number, IndexEntry>> {
        const count = await this.getWorkerCount(provider, modelId);
        const out = new Map<number, IndexEntry>();
        for (let from = 0n; from < count; from += pageSize) {
            const page: Dictionary<number, IndexEntry> = await this.getStaleWorkers(provider, modelId, from, pageSize);
            for (const [slot, e] of page) out.set(slot, e);
        }
        return out;
    }

    /** The value that makes exactly `stake` the deposit. */
    async getStakeValue(provider: ContractProvider, stake: bigint): Promise<bigint> {
        return stake + (await this.getStakeOverhead(provider));
    }

    /** Every live index entry of a model, reading `pageSize` slots per call. */
    async getAllActiveWorkers(provider: ContractProvider, modelId: bigint, pageSize = 50n): Promise<IndexEntry[]> {
        const count = await this.getWorkerCount(provider, modelId);
        const out: IndexEntry[] = [];
        for (let from = 0n; from < count; from += pageSize) {
            const page: Dictionary<number, IndexEntry> = await this.getActiveWorkers(provider, modelId, from, pageSize);
            for (const [, e] of page) out.push(e);
        }
        return out;
    }
}
