import type { WorkerInfo } from '../discovery';
import type { ClientOptions } from '../options';
import { ChannelLease, LeaseBook } from './lease';

/**
 * The client's channels to each worker, shared by concurrent calls: a call
 * gets a free open channel, or (when all are busy and fewer than
 * channelsPerWorker exist) the right to open one; otherwise it waits for one
 * to come free.
 */
export class ChannelPool {
    private readonly book: LeaseBook = { busy: new Set(), opening: new Map() };
    /** Calls waiting for one of a worker's channels to come free. */
    private readonly waiting = new Map<string, Array<() => void>>();

    constructor(private readonly o: ClientOptions) {}

    /** Runs `fn` holding a channel to `w` that no other call uses (see ChannelLease). */
    async withChannel<T>(w: WorkerInfo, fn: (lease: ChannelLease) => Promise<T>): Promise<T> {
        const ws = w.workerStake.toString();
        const max = Math.max(1, this.o.channelsPerWorker ?? 1);
        const lease = new ChannelLease(ws, this.book);
        for (;;) {
            const rows = this.o.store.openChannelsFor(ws);
            const free = rows.find((r) => !this.book.busy.has(r.address));
            if (free) {
                lease.preferred = free;
                lease.take(free.address);
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
            for (const a of lease.addresses) this.book.busy.delete(a);
            this.wake(ws);
        }
    }

    /** Runs `fn` with the channel at `address` held (waiting while a request uses it). */
    async withChannelAt<T>(address: string, worker: string, fn: () => Promise<T>): Promise<T> {
        while (this.book.busy.has(address)) await this.waitFor(worker);
        const lease = new ChannelLease(worker, this.book);
        lease.take(address);
        try {
            return await fn();
        } finally {
            this.book.busy.delete(address);
            this.wake(worker);
        }
    }

    /** Resolves when one of the worker's channels may have come free. */
    private waitFor(worker: string): Promise<void> {
        return new Promise<void>((resolve) => this.waiting.set(worker, [...(this.waiting.get(worker) ?? []), resolve]));
    }

    private wake(worker: string) {
        const waiters = this.waiting.get(worker) ?? [];
        this.waiting.delete(worker);
        waiters.forEach((wake) => wake());
    }
}
