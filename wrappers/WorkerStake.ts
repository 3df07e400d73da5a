import { Constants } from './constants';
import { Address, Cell, ContractProvider, Sender, toNano } from '@ton/core';
import { WorkerStake } from '../build/WorkerStake/WorkerStake_WorkerStake';
import { ListingInput, toListing } from './Staking';
import type { PriceSchedule } from './receipt';

export * from '../build/WorkerStake/WorkerStake_WorkerStake';

/** Status codes reported by the getters (WS_STATUS_* of the build). */
export enum WorkerStatus {
    New = Number(Constants.WS_STATUS_NEW),
    Pending = Number(Constants.WS_STATUS_PENDING),
    Active = Number(Constants.WS_STATUS_ACTIVE),
    Unbonding = Number(Constants.WS_STATUS_UNBONDING),
    Withdrawn = Number(Constants.WS_STATUS_WITHDRAWN),
    Jailed = Number(Constants.WS_STATUS_JAILED),
}

export const STATUS_NAMES: Record<number, string> = {
    [WorkerStatus.New]: 'new',
    [WorkerStatus.Pending]: 'pending',
    [WorkerStatus.Active]: 'active',
    [WorkerStatus.Unbonding]: 'unbonding',
    [WorkerStatus.Withdrawn]: 'withdrawn',
    [WorkerStatus.Jailed]: 'jailed',
};

/** The generated WorkerStake wrapper with typed senders for owners and reporters. */
export class ExtendedWorkerStake extends WorkerStake {
    /** Owner actions; the unspent value returns to the owner. */
    static readonly ACTION_VALUE = toNano('0.1');
    /** Fraud proofs; the reporter gets its share plus the unspent value. */
    static readonly PROOF_VALUE = toNano('0.2');

    static async fromInit(staking: Address, owner: Address, workerKey: bigint): Promise<ExtendedWorkerStake> {
        const base = await WorkerStake.fromInit(staking, owner, workerKey);
        return new ExtendedWorkerStake(base.address, base.init);
    }

    static fromAddress(address: Address): ExtendedWorkerStake {
        return new ExtendedWorkerStake(address);
    }

    /** The price terms over time, what receipts are judged by (wrappers/receipt.ts `chargeableTerms`). */
    async getPriceSchedule(provider: ContractProvider): Promise<PriceSchedule> {
        // First: the history read after it is at least as new, so it is exact up to this time.
        const chainTime = Number(await this.getChainTime(provider));
        const history = await this.getPriceHistory(provider);
        const entries = history
            .keys()
            .sort((a, b) => a - b)
            .map((from) => {
                const p = history.get(from)!;
                return { from, prices: { prompt: p.prompt, cached: p.cached, completion: p.completion, reasoning: p.reasoning } };
            });
        return {
            entries,
            grace: Number(await this.getPriceCutGrace(provider)),
            historySince: Number(await this.getHistorySince(provider)),
            chainTime,
        };
    }

    async sendUpdateListing(provider: ContractProvider, via: Sender, listing: ListingInput, queryId = 0n, value = ExtendedWorkerStake.ACTION_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'UpdateListing', queryId, listing: toListing(listing) });
    }

    async sendStartUnbonding(provider: ContractProvider, via: Sender, queryId = 0n, value = ExtendedWorkerStake.ACTION_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'StartUnbonding', queryId });
    }

    async sendWithdraw(provider: ContractProvider, via: Sender, queryId = 0n, value = ExtendedWorkerStake.ACTION_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'WithdrawStake', queryId });
    }

    async sendProveEquivocation(provider: ContractProvider, via: Sender, first: Cell, second: Cell, queryId = 0n, value = ExtendedWorkerStake.PROOF_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'ProveEquivocation', queryId, first, second });
    }

    async sendProveWrongModel(provider: ContractProvider, via: Sender, evidence: Cell, queryId = 0n, value = ExtendedWorkerStake.PROOF_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'ProveWrongModel', queryId, evidence });
    }

    async sendProveOvercharge(provider: ContractProvider, via: Sender, evidence: Cell, queryId = 0n, value = ExtendedWorkerStake.PROOF_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'ProveOvercharge', queryId, evidence });
    }
}
