import { Address } from '@ton/core';
import { ChannelState, ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { ExtendedWorkerStake, WorkerAttestation, WorkerState, isActive, priceSchedule, pricesInForce } from '../../wrappers/WorkerStake';
import type { PriceSchedule, Prices } from '../../wrappers/receipt';
import type { ContractOpener } from '../../wrappers/toncenter';

export interface WorkerStakeView {
    state: WorkerState;
    /** The Escrow whose channels may pay this worker (null until configured). */
    payoutEscrow: Address | null;
    attestation: WorkerAttestation | null;
    prices: Prices;
    isActive: boolean;
}

/** A WorkerStake's price schedule and the host time (unix seconds) its read started. */
export interface PriceScheduleRead {
    schedule: PriceSchedule;
    readAt: number;
}

interface StakeRead {
    prices: PriceScheduleRead;
    view: WorkerStakeView;
}

interface Cached<T> {
    at: number;
    value: Promise<T>;
}

/**
 * Read access to the contracts the worker depends on, with a short cache so
 * a burst of requests on one channel costs one round of get-method calls.
 * Anything that opens contracts (a `TonClient` against toncenter or the
 * devnet, or a sandbox in tests) can sit underneath.
 */
export class ChainView {
    private readonly cache = new Map<string, Cached<unknown>>();
    /** The last successful read of each key, for serving through a chain outage. */
    private readonly lastGood = new Map<string, { at: number; value: unknown }>();
    /** Keys with a refresh-ahead read in flight. */
    private readonly refreshing = new Set<string>();

    /**
     * @param maxStaleMs how long a read the chain cannot refresh (endpoint
     *   down) may still be answered from the last successful one. Serving
     *   on a stale channel state is the worker's own risk, and bounded: a
     *   channel can only close after its close period (hours), and the
     *   deposit only grows while open. Fresh reads (the claimer) never fall back.
     */
    constructor(
        readonly opener: ContractOpener,
        private readonly ttlMs = 3000,
        private readonly maxStaleMs = 10 * 60_000,
        /** The host clock, unix seconds: stamps when a price read started. */
        private readonly hostNow: () => number = () => Math.floor(Date.now() / 1000),
    ) {}

    private cached<T>(key: string, fresh: boolean, load: () => Promise<T>): Promise<T> {
        const hit = this.cache.get(key) as Cached<T> | undefined;
        let value: Promise<T>;
        const age = hit ? Date.now() - hit.at : Infinity;
        if (!fresh && hit && age < this.ttlMs) {
            value = hit.value;
            // Past half its life, an entry in use is re-read in the background, so under steady load no request
            // waits for the chain; what is served is never older than ttlMs all the same.
            if (age >= this.ttlMs / 2 && !this.refreshing.has(key)) this.refreshAhead(key, hit, load);
        } else {
            const loaded = load();
            value = loaded;
            this.cache.set(key, { at: Date.now(), value: loaded });
            loaded.then(
                (v) => this.lastGood.set(key, { at: Date.now(), value: v }),
                // A failed read is not remembered: the next caller tries again.
                () => {
                    if (this.cache.get(key)?.value === loaded) this.cache.delete(key);
                },
            );
        }
        if (fresh) return value;
        // The chain cannot be read now (a fresh read's failure included): the last good answer, while recent enough.
        return value.catch((e) => {
            const good = this.lastGood.get(key);
            if (!good || Date.now() - good.at > this.maxStaleMs) throw e;
            return good.value as T;
        });
    }

    /**
     * Reads `key` again while `hit` is still served; the answer replaces
     * `hit` only if nothing else did meanwhile (an invalidation or a fresh
     * read wins). A failed refresh changes nothing: the entry expires as usual.
     */
    private refreshAhead<T>(key: string, hit: Cached<T>, load: () => Promise<T>): void {
        this.refreshing.add(key);
        const at = Date.now();
        load()
            .then(
                (v) => {
                    this.lastGood.set(key, { at: Date.now(), value: v });
                    if (this.cache.get(key) === hit) this.cache.set(key, { at, value: Promise.resolve(v) });
                },
                () => undefined,
            )
            .finally(() => this.refreshing.delete(key));
    }

    invalidate(address: Address): void {
        for (const k of [...this.cache.keys()]) if (k.endsWith(address.toRawString())) this.cache.delete(k);
    }

    /** A PaymentChannel's state, or null when nothing (or something else) is deployed there. */
    channel(address: Address, fresh = false): Promise<ChannelState | null> {
        return this.cached(`channel:${address.toRawString()}`, fresh, async () => {
            if (!(await this.opener.isDeployed(address))) return null;
            const ch = this.opener.open(ExtendedPaymentChannel.fromAddress(address));
            try {
                return await ch.getState();
            } catch (e) {
                // A contract without the channel getters is not a channel;
                // a transport failure must not read as "unknown channel".
                if (isGetterFailure(e)) return null;
                throw e;
            }
        });
    }

    /**
     * The WorkerStake's price schedule with the host time its read started
     * (a read answered from cache or, through an outage, from the last good
     * read keeps its own time: pricing judges its age).
     */
    async priceSchedule(address: Address, fresh = false): Promise<PriceScheduleRead | null> {
        return (await this.stake(address, fresh))?.prices ?? null;
    }

    async workerStake(address: Address, fresh = false): Promise<WorkerStakeView | null> {
        return (await this.stake(address, fresh))?.view ?? null;
    }

    /**
     * One read of a WorkerStake's state (one `record` get-method) serves both
     * its price schedule and its view, so they always come from the same block.
     */
    private stake(address: Address, fresh: boolean): Promise<StakeRead | null> {
        return this.cached(`ws:${address.toRawString()}`, fresh, async () => {
            const readAt = this.hostNow();
            if (!(await this.opener.isDeployed(address))) return null;
            const state = await this.opener.open(ExtendedWorkerStake.fromAddress(address)).getState();
            const p = pricesInForce(state);
            return {
                prices: { schedule: priceSchedule(state), readAt },
                view: {
                    state,
                    attestation: state.attestation,
                    isActive: isActive(state),
                    payoutEscrow: state.payoutEscrow,
                    prices: { prompt: p.prompt, cached: p.cached, completion: p.completion, reasoning: p.reasoning },
                },
            };
        });
    }
}

function isGetterFailure(e: unknown): boolean {
    const m = String((e as Error)?.message ?? e);
    // sandbox: "Unable to execute get method. Got exit_code: 11"; toncenter: exit code in the result.
    return /exit_code|exit code|get method|method not found/i.test(m);
}
