import type { Address } from '@ton/core';
import { PriceSchedule, Prices, lowerTerms, termsAt } from '../../wrappers/receipt';
import type { ChainView, PriceScheduleRead } from './chain';

/**
 * What the daemon charges, chosen so that no receipt it signs can ever be
 * proven an overcharge (WorkerStake `ProveOvercharge`, which judges a receipt
 * dated t by the highest terms in force during [t - grace, t], see
 * wrappers/receipt.ts `chargeableTerms`).
 *
 * The daemon knows the price history only as of its last chain read, which
 * may be minutes old (cache, endpoint outage), and stamps receipts with a
 * host clock that may be off from block time by `clockToleranceSec`. A read
 * started at host time r shows exactly the terms in force at every block
 * time up to r - tolerance (a later announcement changes only later terms).
 * So the daemon charges the terms in force at s = r - tolerance. The chain
 * judges a receipt stamped at host time t at some time u in
 * [t - tolerance, t] (the receipt's time, or block time if that is
 * earlier), by the highest terms in force during [u - grace, u]. That
 * window holds s whenever s <= t - tolerance (true once t >= r) and
 * s >= t - grace, that is while the read is at most `grace - tolerance`
 * old: then the charge never exceeds what the chain allows. An older read
 * gives no safe terms, and the daemon charges nothing rather than risk its
 * stake.
 *
 * Raises reach receipts only once the chain has had them in force for
 * `clockToleranceSec`; cuts as soon as a read shows them.
 */
export interface PricingOptions {
    chain: ChainView;
    workerStake: Address;
    /** Largest difference between the host clock (plus chain read lag) and block time (default 90 s). */
    clockToleranceSec?: number;
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

export const DEFAULT_CLOCK_TOLERANCE_SEC = 90;

export class WorkerPricing {
    readonly clockToleranceSec: number;
    private last?: PriceScheduleRead;

    constructor(private readonly o: PricingOptions) {
        this.clockToleranceSec = o.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC;
    }

    /** Reads the schedule (cached, or the last good read during an outage) and the terms safe to charge at host time `at`. */
    async quote(at: number): Promise<PriceQuote> {
        const read = await this.o.chain.priceSchedule(this.o.workerStake);
        if (!read) throw new Error('the WorkerStake is not deployed (run cocoon-worker register)');
        this.remember(read);
        const prices = this.safeTerms(read, at);
        if (!prices)
            throw new PriceStaleError(
                `the newest price read is ${at - read.readAt} s old; past ${this.maxReadAgeSec(read.schedule)} s a price cut could be in force unseen`,
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

    /** The terms safe to charge at host time `at` by this read, or undefined when the read is too old (or from the future). */
    safeTerms(read: PriceScheduleRead, at: number): Prices | undefined {
        const s = read.readAt - this.clockToleranceSec;
        if (read.readAt > at || at - read.readAt > this.maxReadAgeSec(read.schedule)) return undefined;
        return termsAt(read.schedule, s);
    }

    maxReadAgeSec(schedule: PriceSchedule): number {
        return schedule.grace - this.clockToleranceSec;
    }

    private remember(read: PriceScheduleRead) {
        if (!this.last || read.readAt >= this.last.readAt) this.last = read;
    }
}
