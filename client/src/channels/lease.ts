import type { ChannelRow } from '../store';

/** What calls hold of one channel. */
export interface ChannelHold {
    /** Calls using the channel now. */
    calls: number;
    /** The most those calls can cost together, nanoTON (kept out of the unspent deposit for others). */
    reserved: bigint;
    /** Held by one operation alone (a close): no call may join. */
    exclusive: boolean;
}

/** The pool's book of what is held: channels in use, and channel opens in flight per worker. */
export interface LeaseBook {
    readonly held: Map<string, ChannelHold>;
    /** Channel opens in flight, per worker (they count against channelsPerWorker). */
    readonly opening: Map<string, number>;
}

/**
 * The channel one call holds, with the most the call can cost reserved on
 * it: calls share a channel while its unspent deposit covers all of them
 * (the worker orders their receipts; ./sequencer.ts pays them in that
 * order). A call that found no channel with room may instead hold one of
 * the worker's opening slots, so that parallel calls never open more than
 * channelsPerWorker channels between them.
 */
export class ChannelLease {
    readonly addresses = new Set<string>();
    /** The channel it found; none: it may open one. */
    preferred?: ChannelRow;
    /** It holds one of the worker's opening slots. */
    opening = false;

    constructor(
        readonly worker: string,
        private readonly book: LeaseBook,
        /** The most the call can cost, nanoTON. */
        readonly need = 0n,
        /** Alone on the channel (a close). */
        readonly exclusive = false,
    ) {}

    /** Holds the channel at `address` for this call. */
    take(address: string) {
        if (this.addresses.has(address)) return;
        const h = this.book.held.get(address) ?? { calls: 0, reserved: 0n, exclusive: false };
        h.calls++;
        h.reserved += this.need;
        h.exclusive ||= this.exclusive;
        this.book.held.set(address, h);
        this.addresses.add(address);
    }

    /** Gives back every channel it holds. */
    release() {
        for (const a of this.addresses) {
            const h = this.book.held.get(a);
            if (!h) continue;
            h.calls--;
            h.reserved -= this.need;
            if (this.exclusive) h.exclusive = false;
            if (h.calls <= 0) this.book.held.delete(a);
        }
        this.addresses.clear();
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
