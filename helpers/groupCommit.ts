import type { SqliteDatabase, SqliteStatement } from './sqlite';
import { closeSync, fsync, openSync } from 'node:fs';

/**
 * Group commit for a SQLite ledger in WAL mode. A write made through
 * `deferred` commits without its own fsync (`synchronous = NORMAL`): it is
 * in the WAL at once, so visible to every later read and safe against this
 * process being killed, but a power cut could still take it. `durable()`
 * resolves once one fsync of the WAL has covered it; every write asked to be
 * made durable in the same turn of the event loop shares that fsync.
 *
 * The WAL is appended in commit order and one fsync covers the whole file,
 * so a power cut can only lose a suffix of the deferred writes, never an
 * earlier one while keeping a later one. Callers keep the ledger's rule by
 * letting nothing that depends on a write leave the process (a signed
 * receipt, a voucher) before `durable()` has resolved.
 */
export class GroupCommit {
    private waiting: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
    private scheduled = false;
    private syncing = false;
    private closed = false;
    private walFd?: number;
    private syncModes?: { normal: SqliteStatement; full: SqliteStatement };
    /** fsyncs made so far; each covered every deferred write before it. */
    syncs = 0;

    /** `file`: the ledger's path (':memory:' or '': nothing to sync). */
    constructor(
        private readonly db: SqliteDatabase,
        private readonly file: string,
    ) {}

    /** Runs `fn` (any number of transactions) with its commits not fsync'd; follow it with `durable()`. */
    deferred<T>(fn: () => T): T {
        // Prepared once: `pragma()` compiles its statement at every call, and this runs on every request.
        this.syncModes ??= { normal: this.db.prepare('PRAGMA synchronous = NORMAL'), full: this.db.prepare('PRAGMA synchronous = FULL') };
        this.syncModes.normal.run();
        try {
            return fn();
        } finally {
            this.syncModes.full.run();
        }
    }

    /** Resolves when every write committed before this call is on disk. */
    durable(): Promise<void> {
        return new Promise((resolve, reject) => {
            this.waiting.push({ resolve, reject });
            this.schedule();
        });
    }

    /**
     * After the I/O callbacks of this turn, so that the writers that finish
     * together share one fsync; and never while one runs: those who ask
     * meanwhile share the next.
     */
    private schedule(): void {
        if (this.scheduled || this.syncing || this.waiting.length === 0) return;
        this.scheduled = true;
        setImmediate(() => this.flush());
    }

    private flush(): void {
        this.scheduled = false;
        const batch = this.waiting;
        this.waiting = [];
        const done = (e: unknown) => {
            this.syncing = false;
            for (const w of batch) {
                if (e) w.reject(e);
                else w.resolve();
            }
            this.schedule();
        };
        if (this.closed) return done(new Error('the ledger was closed before its writes were synced'));
        if (this.file === ':memory:' || this.file === '') return done(null);
        try {
            // Opened once the WAL exists (WAL mode creates it with the connection; it lasts until the last one closes).
            this.walFd ??= openSync(`${this.file}-wal`, 'r');
        } catch (e) {
            return done(e);
        }
        this.syncing = true;
        // On libuv's thread pool: the event loop keeps serving (and writing) while the disk works.
        fsync(this.walFd, (e) => {
            if (!e) this.syncs++;
            if (this.closed) this.releaseWal();
            done(e);
        });
    }

    /** Releases the WAL's descriptor (with the database's own close); an fsync under way releases it when it ends. */
    close(): void {
        this.closed = true;
        if (!this.syncing) this.releaseWal();
    }

    private releaseWal(): void {
        if (this.walFd !== undefined) closeSync(this.walFd);
        this.walFd = undefined;
    }
}
