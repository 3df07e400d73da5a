import type { WorkerInfo } from '../discovery';
import type { ClientOptions } from '../options';
import type { ChannelRow } from '../store';
import { ChannelLease, LeaseBook } from './lease';

/**
 * The client's channels to each worker, shared by concurrent calls. A call
 * joins a channel whose unspent deposit, less what the calls already on it
 * may cost, covers its own most possible cost; else it takes a channel no
 * call is using (to top it up: ./ensure.ts, once per shortage), else the
 * right to open one more channel while fewer than channelsPerWorker
 * (default 1) exist; otherwise it waits for a call to end. So one channel
 * carries a worker's whole load until its deposit cannot, and a second is
 * opened only for a shortage no top-up of an idle channel can fix.
 */
export class ChannelPool {
    private readonly book: LeaseBook = { held: new Map(), opening: new Map() };
    /** Calls waiting for room on one of a worker's channels. */
    private readonly waiting = new Map<string, Array<() => void>>();

    constructor(private readonly o: ClientOptions) {}

    /** Runs `fn` holding a channel to `w` with room for `need` nanoTON (see ChannelLease). */
    async withChannel<T>(w: WorkerInfo, fn: (lease: ChannelLease) => Promise<T>, need = 0n): Promise<T> {
        const ws = w.workerStake.toString();
        const max = Math.max(1, this.o.channelsPerWorker ?? 1);
        const lease = new ChannelLease(ws, this.book, need);
        for (;;) {
            const rows = this.o.store.openChannelsFor(ws);
            // A channel whose open has not landed yet (no deposit in the ledger) has no room and is not idle: its opener holds it.
            const room = rows.find((r) => r.deposit > 0n && this.roomOn(r) >= need);
            const idle = rows.find((r) => !this.book.held.has(r.address));
            const take = room ?? idle;
            if (take) {
                lease.preferred = take;
                lease.take(take.address);
                break;
            }
            if (rows.length + (this.book.opening.get(ws) ?? 0) < max) {
                lease.reserveOpening();
                break;
            }
            await this.waitFor(ws);
        }
        try {
            return await fn(lease);
        } finally {
            lease.opened();
            lease.release();
            this.wake(ws);
        }
    }

    /** Runs `fn` with the channel at `address` held alone (waiting while calls use it). */
    async withChannelAt<T>(address: string, worker: string, fn: () => Promise<T>): Promise<T> {
        while (this.book.held.has(address)) await this.waitFor(worker);
        const lease = new ChannelLease(worker, this.book, 0n, true);
        lease.take(address);
        try {
            return await fn();
        } finally {
            lease.release();
            this.wake(worker);
        }
    }

    /** Calls on the channel at `address` now. */
    callsOn(address: string): number {
        return this.book.held.get(address)?.calls ?? 0;
    }

    /** What a new call may still count on: the unspent deposit less what the calls on it may cost (none when held alone). */
    private roomOn(r: ChannelRow): bigint {
        const h = this.book.held.get(r.address);
        if (h?.exclusive) return -1n;
        return r.deposit - r.verified - (h?.reserved ?? 0n);
    }

    /** Resolves when one of the worker's channels may have room. */
    private waitFor(worker: string): Promise<void> {
        return new Promise<void>((resolve) => this.waiting.set(worker, [...(this.waiting.get(worker) ?? []), resolve]));
    }

    private wake(worker: string) {
        const waiters = this.waiting.get(worker) ?? [];
        this.waiting.delete(worker);
        waiters.forEach((wake) => wake());
    }
}
