import { Refusal } from './refusal';
import type { WorkerStore } from './store/store';

/** A store write that failed because of the disk (full, I/O error), not because of the data. */
export function isStorageFault(e: unknown): boolean {
    const code = String((e as { code?: unknown })?.code ?? '');
    if (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY') return true;
    // What a group commit's fsync of the WAL reports.
    return code === 'EIO' || code === 'ENOSPC' || code === 'EDQUOT' || code === 'EROFS';
}

/**
 * Keeps the worker from serving what it could not be paid for when its
 * disk fails: a write that hits a disk fault marks the store unavailable,
 * and requests are refused until a probe write succeeds again.
 */
export class StorageGuard {
    private fault?: string;

    constructor(private readonly store: WorkerStore) {}

    /** Why the store cannot take writes now, if it cannot. */
    get problem(): string | undefined {
        return this.fault;
    }

    /**
     * Runs a store write; a disk fault marks the store unavailable and
     * becomes a clean 503 (the transaction was rolled back, nothing half
     * written, nothing charged).
     */
    write<T>(what: string, fn: () => T): T {
        try {
            return fn();
        } catch (e) {
            throw this.refusal(what, e);
        }
    }

    /** Waits for `what`, written with `deferred`, to be on disk; a failed fsync is a disk fault like a failed write. */
    async durable(what: string, sync: () => Promise<void>): Promise<void> {
        try {
            await sync();
        } catch (e) {
            throw this.refusal(what, e);
        }
    }

    private refusal(what: string, e: unknown): unknown {
        if (!isStorageFault(e)) return e;
        this.fault = `${what}: ${(e as Error).message}`;
        return new Refusal('storage_unavailable', `the worker cannot store ${what} (${(e as Error).message}); nothing was charged, try another worker`);
    }

    /** Refuses while the store is known to be unwritable; a successful probe write ends the fault. */
    check(): void {
        if (!this.fault) return;
        try {
            this.store.probeWritable();
            this.fault = undefined;
        } catch (e) {
            if (!isStorageFault(e)) throw e;
            throw new Refusal('storage_unavailable', `the worker's store is out of space or failing (${(e as Error).message}); nothing was charged, try another worker`);
        }
    }
}
