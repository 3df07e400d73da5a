import { Constants } from './constants';
import { Address, Builder, Cell, ContractProvider, Dictionary, DictionaryValue, Sender, Slice, beginCell, toNano } from '@ton/core';
import {
    Listing,
    PriceTerms,
    WorkerAttestation,
    WorkerRecord,
    WorkerStake,
    loadNetworkConfig,
    loadPriceTerms,
    loadSlashRecord,
    loadWorkerAttestation,
    loadWorkerTerms,
    storePriceTerms,
} from '../build/WorkerStake/WorkerStake_WorkerStake';
import { ListingInput, toListing } from './Staking';
import { termsAt, type PriceSchedule, type Prices } from './receipt';

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

/** Price-history values: PriceTerms, each in a cell of its own (as the contract stores them). */
const priceTermsValue: DictionaryValue<PriceTerms> = {
    serialize: (src: PriceTerms, builder: Builder) => {
        builder.storeRef(beginCell().store(storePriceTerms(src)).endCell());
    },
    parse: (src: Slice) => loadPriceTerms(src.loadRef().beginParse()),
};

/**
 * A WorkerStake's state, read in one get-method (`record`) and parsed here:
 * the contract keeps its config, listing and price history, attestation and
 * slash record in cells it does not parse for readers, so that its code (which
 * every first stake forwards) stays small.
 */
export interface WorkerState {
    owner: Address;
    workerKey: bigint;
    /** WS_STATUS_* (see WorkerStatus), computed on chain from time and config. */
    status: bigint;
    stake: bigint;
    unbondingDeadline: bigint;
    /** 0n before the first stake. */
    modelId: bigint;
    /** Set by the first attestation: from then on the model never changes. */
    modelFixed: boolean;
    slashes: bigint;
    slashedTotal: bigint;
    listed: boolean;
    /** The reason hash of the latest governance slash (0n: none). */
    lastSlashReason: bigint;
    /** Null before the first stake. Its prices are the newest announced, which may not be in force yet. */
    listing: Listing | null;
    attestation: WorkerAttestation | null;
    /** Price terms by the time they take effect. */
    priceHistory: Dictionary<number, PriceTerms>;
    /** The history answers for every time from here on (0n: nothing pruned yet). */
    historySince: bigint;
    configVersion: bigint;
    /** The Escrow whose channels pay this worker's owner: a daemon serves only channels derived from it. */
    payoutEscrow: Address | null;
    /** The block time the state was read at: price reads are dated by it, not by a host clock. */
    chainTime: bigint;
}

/** Parses what the `record` get-method returns. */
export function workerState(r: WorkerRecord): WorkerState {
    const terms = r.terms ? loadWorkerTerms(r.terms.beginParse()) : null;
    const attestation = r.attestation ? loadWorkerAttestation(r.attestation.beginParse()) : null;
    const slashes = r.slashes ? loadSlashRecord(r.slashes.beginParse()) : null;
    const config = r.config ? loadNetworkConfig(r.config.beginParse()) : null;
    const priceHistory = Dictionary.empty(Dictionary.Keys.Uint(32), priceTermsValue);
    if (terms) for (const [from, cell] of terms.history) priceHistory.set(from, loadPriceTerms(cell.beginParse()));
    return {
        owner: r.owner,
        workerKey: r.workerKey,
        status: r.status,
        stake: r.stake,
        unbondingDeadline: r.unbondingDeadline,
        modelId: terms?.listing.modelId ?? 0n,
        modelFixed: attestation !== null,
        slashes: slashes?.count ?? 0n,
        slashedTotal: slashes?.total ?? 0n,
        listed: r.listed,
        lastSlashReason: slashes?.lastReason ?? 0n,
        listing: terms?.listing ?? null,
        attestation,
        priceHistory,
        historySince: terms?.since ?? 0n,
        configVersion: r.configVersion,
        payoutEscrow: config?.links.escrow ?? null,
        chainTime: r.chainTime,
    };
}

/** The price schedule of a state (what receipts are judged by: wrappers/receipt.ts `chargeableTerms`). */
export function priceSchedule(s: WorkerState): PriceSchedule {
    const entries = s.priceHistory
        .keys()
        .sort((a, b) => a - b)
        .map((from) => {
            const p = s.priceHistory.get(from)!;
            return { from, prices: { prompt: p.prompt, cached: p.cached, completion: p.completion, reasoning: p.reasoning } };
        });
    return { entries, grace: Number(Constants.PRICE_CUT_GRACE), historySince: Number(s.historySince), chainTime: Number(s.chainTime) };
}

/** The terms in force at the block the state was read at. */
export function pricesInForce(s: WorkerState): Prices {
    return termsAt(priceSchedule(s), Number(s.chainTime));
}

/** Whether the state (or the bare record) shows the worker active (staked, bonded, not jailed). */
export function isActive(s: Pick<WorkerState, 'status'>): boolean {
    return Number(s.status) === WorkerStatus.Active;
}

/**
 * The generated WorkerStake wrapper with typed senders for owners and
 * reporters, and the readers callers use, each over the one `record`
 * get-method (`getPricesAt`, `getChargeableAt` and `getCostLimit` run the
 * contract's own rules).
 */
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

    async getState(provider: ContractProvider): Promise<WorkerState> {
        return workerState(await this.getRecord(provider));
    }

    async getStatus(provider: ContractProvider): Promise<bigint> {
        return (await this.getRecord(provider)).status;
    }

    async getIsActive(provider: ContractProvider): Promise<boolean> {
        return isActive(await this.getRecord(provider));
    }

    async getStake(provider: ContractProvider): Promise<bigint> {
        return (await this.getRecord(provider)).stake;
    }

    /** The listing; throws before the first stake. */
    async getListing(provider: ContractProvider): Promise<Listing> {
        const listing = (await this.getState(provider)).listing;
        if (!listing) throw new Error('the WorkerStake has no listing: it was never staked');
        return listing;
    }

    async getAttestation(provider: ContractProvider): Promise<WorkerAttestation | null> {
        return (await this.getState(provider)).attestation;
    }

    /** The terms in force at the block the state is read at. */
    async getPricesInForce(provider: ContractProvider): Promise<Prices> {
        return pricesInForce(await this.getState(provider));
    }

    async getPriceHistory(provider: ContractProvider): Promise<Dictionary<number, PriceTerms>> {
        return (await this.getState(provider)).priceHistory;
    }

    async getHistorySince(provider: ContractProvider): Promise<bigint> {
        return (await this.getState(provider)).historySince;
    }

    async getChainTime(provider: ContractProvider): Promise<bigint> {
        return (await this.getRecord(provider)).chainTime;
    }

    async getPayoutEscrow(provider: ContractProvider): Promise<Address | null> {
        return (await this.getState(provider)).payoutEscrow;
    }

    async getConfigVersion(provider: ContractProvider): Promise<bigint> {
        return (await this.getRecord(provider)).configVersion;
    }

    /** PRICE_CUT_GRACE, a constant of the code: a cut binds receipts only this long after it takes effect. */
    async getPriceCutGrace(_provider: ContractProvider): Promise<bigint> {
        return Constants.PRICE_CUT_GRACE;
    }

    /** The price terms over time, what receipts are judged by (wrappers/receipt.ts `chargeableTerms`), from one read. */
    async getPriceSchedule(provider: ContractProvider): Promise<PriceSchedule> {
        return priceSchedule(await this.getState(provider));
    }

    /**
     * Adds `amount` to the stake, straight from the owner (the WorkerStake
     * takes it from its owner only, while bonded); the value pays the gas and
     * what it does not spend comes back. A refusal bounces the value back.
     */
    async sendTopUpStake(provider: ContractProvider, via: Sender, amount: bigint, queryId = 0n, value = amount + ExtendedWorkerStake.ACTION_VALUE) {
        return this.send(provider, via, { value, bounce: true }, { $$type: 'TopUpStake', queryId, amount });
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
