import type { ChannelRow } from '../store';

/** The pool's book of what is held: channels in use, and channel opens in flight per worker. */
export interface LeaseBook {
    /** Channels a call is using now: one request at a time per channel. */
    readonly busy: Set<string>;
    /** Channel opens in flight, per worker (they count against channelsPerWorker). */
    readonly opening: Map<string, number>;
}

/**
 * The channels one call holds. A channel's cumulative total is sequential,
 * so no other call may use a channel until this call has paid for its
 * answer (or given up); a call that found no free channel may instead hold
 * one of the worker's opening slots, so that parallel calls never open more
 * than channelsPerWorker channels between them.
 */
export class ChannelLease {
    readonly addresses = new Set<string>();
    /** The free channel it found; none: it may open one. */
    preferred?: ChannelRow;
    /** It holds one of the worker's opening slots. */
    opening = false;

    constructor(
        readonly worker: string,
        private readonly book: LeaseBook,
    ) {}

    /** Holds the channel at `address` for this call. */
    take(address: string) {
        this.book.busy.add(address);
        this.addresses.add(address);
    }

    /** Holds one of the worker's opening slots. */
    reserveOpening() {
        this.opening = true;
        this.book.opening.set(this.worker, (this.book.opening.get(this.worker) ?? 0) + 1);
    }

    /** The reserved open is over (the channel exists, or the open failed). */
    opened() {
        if (!this.opening) return;
        this.opening = false;
        const n = (this.book.opening.get(this.worker) ?? 1) - 1;
        if (n > 0) this.book.opening.set(this.worker, n);
        else this.book.opening.delete(this.worker);
    }
}
