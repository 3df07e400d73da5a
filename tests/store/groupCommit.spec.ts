import { SqliteDatabase, openSqlite } from '../../helpers/sqlite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientStore } from '../../client/src/store';
import { GroupCommit } from '../../helpers/groupCommit';
import { openLedger } from '../../helpers/ledger';
import { StorageGuard } from '../../worker/src/storageGuard';
import { WorkerStore } from '../../worker/src/store/store';

/**
 * Group commit: writes made without their own fsync become durable together,
 * one fsync for every writer that asked in the same turn of the event loop.
 */
describe('group commit', () => {
    let dir: string;
    let db: SqliteDatabase;
    let commits: GroupCommit;
    const file = () => join(dir, 'ledger.db');

    beforeEach(() => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-group-'));
        db = openLedger(file(), { what: 'test ledger', migrations: [{ version: 1, description: 'rows', up: 'CREATE TABLE rows (n INTEGER)' }] });
        commits = new GroupCommit(db, file());
    });
    afterEach(() => {
        commits.close();
        db.close();
        rmSync(dir, { recursive: true, force: true });
    });

    const insert = (n: number) => commits.deferred(() => db.prepare('INSERT INTO rows (n) VALUES (?)').run(n));
    const count = () => (db.prepare('SELECT COUNT(*) AS c FROM rows').get() as { c: number }).c;

    it('makes the writes of one moment durable with one fsync, and visible before it', async () => {
        const waits = [1, 2, 3, 4, 5].map((n) => {
            insert(n);
            return commits.durable();
        });
        expect(count()).toBe(5);
        expect(commits.syncs).toBe(0);
        await Promise.all(waits);
        expect(commits.syncs).toBe(1);
        // Written in another process's view too: the commit is in the WAL, not only in this connection.
        const other = openSqlite(file(), { readonly: true });
        try {
            expect((other.prepare('SELECT COUNT(*) AS c FROM rows').get() as { c: number }).c).toBe(5);
        } finally {
            other.close();
        }
    });

    it('syncs again for writes of a later moment, and restores fsync on every ordinary commit', async () => {
        insert(1);
        await commits.durable();
        insert(2);
        await commits.durable();
        expect(commits.syncs).toBe(2);
        expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    });

    it('has nothing to sync in memory', async () => {
        const mem = openSqlite(':memory:');
        const g = new GroupCommit(mem, ':memory:');
        g.deferred(() => mem.exec('CREATE TABLE t (x)'));
        await g.durable();
        expect(g.syncs).toBe(0);
        mem.close();
    });

    it("pays a client's receipts of one moment with one fsync, the newest voucher found by its key", async () => {
        const store = ClientStore.open(join(dir, 'client.db'));
        try {
            store.addChannel({ address: 'C', workerStake: 'W', nonce: 1n, deposit: 1_000_000n });
            const sig = (n: number) => Buffer.alloc(64, n);
            const syncs = store.groupSyncs;
            const waits = [1, 2, 3].map((i) => {
                store.deferred(() =>
                    store.recordPayment(
                        { channel: 'C', requestId: String(i), boc: `b${i}`, cost: 100n, cumulative: 100n * BigInt(i), model: 'm', receivedAt: 1 },
                        { total: 100n * BigInt(i), signature: sig(i) },
                    ),
                );
                return store.durable();
            });
            await Promise.all(waits);
            expect(store.groupSyncs - syncs).toBe(1);
            expect(store.latestVoucher('C')).toEqual({ total: 300n, signature: sig(3) });
            expect(store.latestVoucher('unknown')).toBeUndefined();
        } finally {
            store.close();
        }
    });

    it('turns a failed fsync into storage_unavailable on the worker, refusing until the disk works again', async () => {
        const store = WorkerStore.open(join(dir, 'worker.db'));
        const guard = new StorageGuard(store);
        try {
            const eio = Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
            await expect(guard.durable('the receipt', () => Promise.reject(eio))).rejects.toMatchObject({ code: 'storage_unavailable' });
            expect(guard.problem).toMatch(/the receipt: EIO/);
            // The disk answers again: a probe write ends the fault.
            guard.check();
            expect(guard.problem).toBeUndefined();
            // Anything else is not the disk's fault and passes through unchanged.
            const bug = new TypeError('not a disk error');
            await expect(guard.durable('the receipt', () => Promise.reject(bug))).rejects.toBe(bug);
        } finally {
            store.close();
        }
    });
});
