import type { Address } from '@ton/core';
import { PriceSchedule, Prices, lowerTerms, termsAt } from '../../wrappers/receipt';
import type { ChainView, PriceScheduleRead } from './chain';

/**
 * What the daemon charges, chosen so that no receipt it signs can ever be
 * proven an overcharge (WorkerStake `ProveOvercharge`, which judges a receipt
 * dated t at u = min(t, block time of the proof), by the highest terms in
 * force during [u - grace, u]: wrappers/receipt.ts `chargeableTerms`).
 *
 * A price read shows the history as of the block it ran on, whose time the
 * WorkerStake itself reports (`chainTime`): the terms in force at every
 * time up to it are exact (a later announcement changes only later terms).
 * The daemon charges the terms in force at s = min(chain time of the read,
 * host time the read started). For a receipt stamped at host time t >= that
 * start: s <= t, and s <= the block time of any later proof, so s <= u; and
 * s >= u - grace whenever t - s <= grace. Then the charge never exceeds what
 * the chain allows, whatever the host clock's error or the endpoint's lag:
 * a clock running ahead or an endpoint stuck behind only ages the read,
 * and a read older than the grace prices nothing (the daemon charges
 * nothing rather than risk its stake).
 */
export interface PricingOptions {
    chain: ChainView;
    workerStake: Address;
}

/** A price read and the terms it makes safe to charge. */
export interface PriceQuote {
    read: PriceScheduleRead;
    /** Safe for a receipt stamped at `at` (host seconds). */
    at: number;
    prices: Prices;
}

export class PriceStaleError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'PriceStaleError';
    }
}

export class WorkerPricing {
    private last?: PriceScheduleRead;
    private timer?: NodeJS.Timeout;

    constructor(private readonly o: PricingOptions) {}

    /** Reads the schedule (cached, or the last good read during an outage) and the terms safe to charge at host time `at`. */
    async quote(at: number): Promise<PriceQuote> {
        const read = await this.o.chain.priceSchedule(this.o.workerStake);
        if (!read) throw new Error('the WorkerStake is not deployed (run cocoon-worker register)');
        this.remember(read);
        const prices = this.safeTerms(read, at);
        if (!prices)
            throw new PriceStaleError(
                `the newest price read shows the chain at ${readTime(read)}, ${at - readTime(read)} s before now; past ${read.schedule.grace} s (the price-cut grace) a cut could be in force unseen`,
            );
        return { read, at, prices };
    }

    /**
     * The terms to charge for a receipt stamped now at host time `at`, with
     * no await (settlement): the lower of what the admission quoted and
     * what the freshest read held makes safe. Undefined when no read is
     * fresh enough: the request is then not charged.
     */
    settlementTerms(admitted: PriceQuote, at: number): Prices | undefined {
        const candidates = [admitted.read, this.last].filter((r): r is PriceScheduleRead => r !== undefined);
        let safe: Prices | undefined;
        for (const r of candidates) {
            const p = this.safeTerms(r, at);
            if (p) safe = safe ? lowerTerms(safe, p) : p;
        }
        return safe ? lowerTerms(safe, admitted.prices) : undefined;
    }

    /** The terms safe to charge at host time `at` by this read, or undefined when it is too old (or started after `at`). */
    safeTerms(read: PriceScheduleRead, at: number): Prices | undefined {
        const s = readTime(read);
        if (read.readAt > at || at - s > read.schedule.grace) return undefined;
        return termsAt(read.schedule, s);
    }

    /** Reads the schedule from the chain now; a failure (endpoint down) leaves the last read in place. */
    async refresh(): Promise<void> {
        const read = await this.o.chain.priceSchedule(this.o.workerStake, true).catch(() => null);
        if (read) this.remember(read);
    }

    /**
     * Keeps the newest read fresh while the daemon runs, so a long request
     * settles on a recent read even when no other request brought one.
     */
    start(everyMs: number): void {
        this.stop();
        this.timer = setInterval(() => void this.refresh(), everyMs);
        this.timer.unref?.();
    }

    stop(): void {
        if (this.timer) clearInterval(this.timer);
        this.timer = undefined;
    }

    private remember(read: PriceScheduleRead) {
        if (!this.last || readTime(read) >= readTime(this.last)) this.last = read;
    }
}

/** The time up to which a read's price history is known exact: the earlier of the block it ran on and the host time it started. */
export function readTime(read: PriceScheduleRead): number {
    return Math.min(read.readAt, read.schedule.chainTime ?? read.readAt);
}

export type { PriceSchedule };
