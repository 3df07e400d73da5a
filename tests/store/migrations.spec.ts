import { SqliteDatabase, openSqlite } from '../../helpers/sqlite';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientStore, CLIENT_STORE_VERSION } from '../../client/src/store';
import { LedgerError, LedgerSpec, openLedger } from '../../helpers/ledger';
import { ReceiptRecord, StoreError, WORKER_STORE_VERSION, WorkerStore } from '../../worker/src/store/store';

/**
 * A worker or gateway upgraded in place must keep every receipt, voucher and
 * channel it had. Each fixture below builds a database the way a released
 * version's code created it (its CREATE statements copied from that commit,
 * run with that code's pragmas), fills it with rows, and today's store must
 * open it, show the rows through its API and keep working on it.
 */

let dir: string;
beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-migrations-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sig = (b: number) => Buffer.alloc(64, b);
const hash = (s: string) => createHash('sha256').update(s).digest('hex');

function userVersion(path: string): number {
    const db = openSqlite(path, { readonly: true });
    try {
        return Number(db.pragma('user_version', { simple: true }));
    } finally {
        db.close();
    }
}

/** The schema as SQLite holds it (names and SQL of every table and index), for comparing before and after. */
function schemaOf(path: string): Array<{ name: string; sql: string | null }> {
    const db = openSqlite(path, { readonly: true });
    try {
        return db.prepare(`SELECT name, sql FROM sqlite_master ORDER BY name`).all() as Array<{ name: string; sql: string | null }>;
    } finally {
        db.close();
    }
}

/** The database file's bytes once its WAL is folded in (a reopen that wrote nothing leaves them unchanged). */
function fileDigest(path: string): string {
    const db = openSqlite(path);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    return createHash('sha256').update(readFileSync(path)).digest('hex');
}

// ---------------------------------------------------------------------------
// Worker store
// ---------------------------------------------------------------------------

/**
 * The worker store's only schema before versioning: created in 7302f07 and
 * unchanged through 517c452 (SCHEMA in worker/src/store/store.ts, run by the
 * constructor with these pragmas, then the meta 'schema' marker).
 */
const WORKER_V1_SQL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS channels (
    address        TEXT PRIMARY KEY,
    state          TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closing', 'closed')),
    close_deadline INTEGER,
    claimed_total  INTEGER NOT NULL DEFAULT 0,
    last_claim_tx  TEXT,
    updated_at     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS receipts (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    channel           TEXT NOT NULL REFERENCES channels(address),
    request_id        TEXT NOT NULL UNIQUE,
    boc               BLOB NOT NULL,
    model_id          TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    cached_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    reasoning_tokens  INTEGER NOT NULL,
    cost              INTEGER NOT NULL,
    cumulative        INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    request_hash      TEXT NOT NULL,
    response_hash     TEXT NOT NULL,
    UNIQUE (channel, cumulative)
);
CREATE INDEX IF NOT EXISTS receipts_by_channel ON receipts (channel, seq);
CREATE TABLE IF NOT EXISTS vouchers (
    channel     TEXT NOT NULL REFERENCES channels(address),
    total       INTEGER NOT NULL,
    signature   BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (channel, total)
);
`;

/** From 833089b, probeWritable created this table on its first probe. */
const WORKER_SCRATCH_SQL = `CREATE TABLE IF NOT EXISTS scratch (id INTEGER PRIMARY KEY, data BLOB)`;

function openAsOldWorker(path: string): SqliteDatabase {
    const db = openSqlite(path);
    db.defaultSafeIntegers(true);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.exec(WORKER_V1_SQL);
    db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '1')`).run();
    return db;
}

/**
 * Rows as the old worker wrote them: channel A open with three receipts and
 * a voucher for the first two, part of it claimed; channel B closing with
 * one receipt fully vouched and claimed.
 */
function fillOldWorker(db: SqliteDatabase): void {
    const receipt = db.prepare(
        `INSERT INTO receipts (channel, request_id, boc, model_id, prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens,
           cost, cumulative, created_at, request_hash, response_hash) VALUES (?, ?, ?, 'model', ?, 1, ?, 0, ?, ?, ?, ?, ?)`,
    );
    db.transaction(() => {
        db.prepare(`INSERT INTO channels (address, updated_at) VALUES ('A', 1700000000)`).run();
        db.prepare(`INSERT INTO channels (address, state, close_deadline, claimed_total, last_claim_tx, updated_at) VALUES ('B', 'closing', 1700009999, 40, 'tx-b', 1700000100)`).run();
        receipt.run('A', '1', Buffer.from('boc-a1'), 10, 20, 100n, 100n, 1700000001, hash('q1'), hash('r1'));
        receipt.run('A', '2', Buffer.from('boc-a2'), 11, 21, 50n, 150n, 1700000002, hash('q2'), hash('r2'));
        receipt.run('B', '3', Buffer.from('boc-b3'), 12, 22, 40n, 40n, 1700000003, hash('q3'), hash('r3'));
        receipt.run('A', '4', Buffer.from('boc-a4'), 13, 23, 25n, 175n, 1700000004, hash('q4'), hash('r4'));
        db.prepare(`INSERT INTO vouchers (channel, total, signature, received_at) VALUES ('A', 150, ?, 1700000002)`).run(sig(0xa1));
        db.prepare(`INSERT INTO vouchers (channel, total, signature, received_at) VALUES ('B', 40, ?, 1700000003)`).run(sig(0xb1));
        db.prepare(`UPDATE channels SET claimed_total = 100, last_claim_tx = 'tx-a' WHERE address = 'A'`).run();
        // The request id counter those releases kept (random ids replaced it in 517c452).
        db.prepare(`INSERT INTO meta (key, value) VALUES ('request_seq', '4')`).run();
    })();
}

function nextReceipt(channel: string, id: string, cost: bigint, cumulative: bigint): ReceiptRecord {
    return {
        channel,
        requestId: id,
        boc: Buffer.from(`boc-${id}`),
        modelId: 'model',
        promptTokens: 5,
        cachedTokens: 0,
        completionTokens: 6,
        reasoningTokens: 0,
        cost,
        cumulative,
        createdAt: 1_700_001_000,
        requestHash: hash(`q${id}`),
        responseHash: hash(`r${id}`),
    };
}

/** What fillOldWorker wrote, read through today's store, and the store still working on it. */
function expectOldWorkerData(path: string): void {
    const s = WorkerStore.open(path);
    try {
        expect(s.pragma('user_version')).toBe(BigInt(WORKER_STORE_VERSION));
        expect(s.integrityCheck()).toBe('ok');
        expect(s.listChannels()).toEqual([
            { address: 'A', state: 'open', closeDeadline: null, claimedTotal: 100n, voucherTotal: 150n, receiptTotal: 175n, unclaimed: 50n, unpaid: 25n, receipts: 3 },
            { address: 'B', state: 'closing', closeDeadline: 1700009999, claimedTotal: 40n, voucherTotal: 40n, receiptTotal: 40n, unclaimed: 0n, unpaid: 0n, receipts: 1 },
        ]);
        expect(s.receiptsOf('A').map((r) => [r.requestId, r.cost, r.cumulative])).toEqual([
            ['1', 100n, 100n],
            ['2', 50n, 150n],
            ['4', 25n, 175n],
        ]);
        expect(s.receipt('3')).toEqual({
            channel: 'B',
            requestId: '3',
            boc: Buffer.from('boc-b3'),
            modelId: 'model',
            promptTokens: 12,
            cachedTokens: 1,
            completionTokens: 22,
            reasoningTokens: 0,
            cost: 40n,
            cumulative: 40n,
            createdAt: 1700000003,
            requestHash: hash('q3'),
            responseHash: hash('r3'),
        });
        expect(s.latestVoucher('A')).toEqual({ channel: 'A', total: 150n, signature: sig(0xa1), receivedAt: 1700000002 });
        expect(s.unclaimed('A')).toBe(50n);
        expect(s.channelState('B')).toBe('closing');
        expect(s.receiptsAbove('A', 150n)).toBe(1);
        expect(s.receiptsAfter('A', 100n, 10).map((r) => r.requestId)).toEqual(['2', '4']);
        expect(s.receiptTotal('A')).toBe(175n);

        // Keeps working: the receipt chain continues from the old rows, a newer voucher replaces the old one, claims move on.
        expect(() => s.appendReceipt(nextReceipt('A', '5', 10n, 180n))).toThrow(StoreError);
        expect(s.appendReceipt(nextReceipt('A', '5', 10n, 185n), { channel: 'A', total: 175n, signature: sig(0xa2), receivedAt: 1_700_001_000 })).toEqual({
            voucherAccepted: true,
        });
        expect(() => s.appendReceipt(nextReceipt('A', '2', 1n, 186n))).toThrow(/duplicate/);
        expect(s.recordVoucher({ channel: 'A', total: 185n, signature: sig(0xa3), receivedAt: 1_700_001_001 }, 'process')).toEqual({ voucherAccepted: true });
        expect(s.markClaimed('A', 185n, 'tx-a2')).toEqual({ changed: true });
        s.setChannelState('B', 'closed');
        s.probeWritable();
        expect(s.channel('A')).toMatchObject({ receiptTotal: 185n, voucherTotal: 185n, claimedTotal: 185n, unclaimed: 0n, unpaid: 0n, receipts: 4 });
        expect(s.channelState('B')).toBe('closed');
    } finally {
        s.close();
    }
    // The obsolete counter stays: an older release reopening the store must not count from 1 again.
    const db = openSqlite(path, { readonly: true });
    expect(db.prepare(`SELECT value FROM meta WHERE key = 'request_seq'`).get()).toEqual({ value: '4' });
    db.close();
}

describe('worker store migrations', () => {
    it('a store from 7302f07 (the first schema, no version) keeps its channels, receipts and vouchers', () => {
        const path = join(dir, 'w.db');
        const old = openAsOldWorker(path);
        fillOldWorker(old);
        old.close();
        expect(userVersion(path)).toBe(0);

        expectOldWorkerData(path);
        expect(userVersion(path)).toBe(WORKER_STORE_VERSION);
        expect(schemaOf(path).map((o) => o.name)).toContain('scratch');
    });

    it('a store from 833089b-517c452 (same schema, scratch table from a disk probe, bound to its key) keeps everything and its key binding', () => {
        const path = join(dir, 'w.db');
        const old = openAsOldWorker(path);
        fillOldWorker(old);
        old.exec(WORKER_SCRATCH_SQL);
        old.prepare(`INSERT INTO meta (key, value) VALUES ('worker_key', ?)`).run('ab'.repeat(32));
        // Left open like a killed worker: the rows are in the WAL only.
        expectOldWorkerData(path);

        const s = WorkerStore.open(path);
        expect(() => s.bindWorkerKey('cd'.repeat(32))).toThrow(/belongs to worker key/);
        expect(() => s.bindWorkerKey('ab'.repeat(32))).not.toThrow();
        s.close();
        old.close();
    });

    it('a first open that crashed between its CREATE statements is completed, not refused', () => {
        const path = join(dir, 'w.db');
        const old = openSqlite(path);
        old.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`);
        old.close();
        const s = WorkerStore.open(path);
        s.appendReceipt(nextReceipt('A', '1', 7n, 7n), { channel: 'A', total: 7n, signature: sig(1), receivedAt: 1 });
        expect(s.channel('A')).toMatchObject({ receiptTotal: 7n, voucherTotal: 7n });
        s.close();
        expect(userVersion(path)).toBe(WORKER_STORE_VERSION);
    });

    it('a new store starts at the latest version; reopening it changes nothing', () => {
        const path = join(dir, 'sub', 'w.db');
        let s = WorkerStore.open(path);
        expect(s.pragma('journal_mode')).toBe('wal');
        expect(Number(s.pragma('synchronous'))).toBe(2); // FULL
        expect(Number(s.pragma('foreign_keys'))).toBe(1);
        s.appendReceipt(nextReceipt('A', '1', 7n, 7n));
        s.close();
        expect(userVersion(path)).toBe(WORKER_STORE_VERSION);
        const schema = schemaOf(path);
        const digest = fileDigest(path);

        s = WorkerStore.open(path);
        expect(s.receiptTotal('A')).toBe(7n);
        s.close();
        expect(schemaOf(path)).toEqual(schema);
        expect(fileDigest(path)).toBe(digest);
    });

    it('refuses a store from a newer release, and leaves it as it was', () => {
        const path = join(dir, 'w.db');
        WorkerStore.open(path).close();
        const db = openSqlite(path);
        db.pragma('journal_mode = DELETE');
        db.pragma(`user_version = ${WORKER_STORE_VERSION + 1}`);
        db.close();
        const digest = fileDigest(path);

        expect(() => WorkerStore.open(path)).toThrow(StoreError);
        expect(() => WorkerStore.open(path)).toThrow(new RegExp(`schema version ${WORKER_STORE_VERSION + 1}, newer than this program knows \\(${WORKER_STORE_VERSION}\\)`));
        expect(fileDigest(path)).toBe(digest);
        const after = openSqlite(path, { readonly: true });
        expect(after.pragma('journal_mode', { simple: true })).toBe('delete');
        after.close();
    });

    it('refuses a client ledger given as its path', () => {
        const path = join(dir, 'store.db');
        ClientStore.open(path).close();
        const db = openSqlite(path);
        db.pragma('user_version = 0'); // as a client ledger from before versioning
        db.close();
        expect(() => WorkerStore.open(path)).toThrow(/is not a worker store/);
    });
});

// ---------------------------------------------------------------------------
// Client store
// ---------------------------------------------------------------------------

/** The client ledger's first schema, 4357d55 (ClientStore.open). */
const CLIENT_V1_SQL = `
    CREATE TABLE IF NOT EXISTS channels (
        address TEXT PRIMARY KEY, worker_stake TEXT NOT NULL, nonce TEXT NOT NULL, deposit TEXT NOT NULL,
        verified TEXT NOT NULL DEFAULT '0', vouched TEXT NOT NULL DEFAULT '0', state TEXT NOT NULL, opened_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS channels_by_worker ON channels(worker_stake, state);
    CREATE TABLE IF NOT EXISTS receipts (
        channel TEXT NOT NULL, request_id TEXT NOT NULL, boc TEXT NOT NULL, cost TEXT NOT NULL, cumulative TEXT NOT NULL,
        model TEXT NOT NULL, received_at INTEGER NOT NULL, PRIMARY KEY (channel, request_id));
    CREATE TABLE IF NOT EXISTS vouchers (
        channel TEXT NOT NULL, total TEXT NOT NULL, signature TEXT NOT NULL, signed_at INTEGER NOT NULL, PRIMARY KEY (channel, total));
    CREATE TABLE IF NOT EXISTS bad_receipts (
        channel TEXT NOT NULL, worker_stake TEXT NOT NULL, boc TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL);
`;

/** 833089b added the attempts table (unchanged through 517c452). */
const CLIENT_V2_SQL = `
    ${CLIENT_V1_SQL}
    CREATE TABLE IF NOT EXISTS attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, request_hash TEXT NOT NULL,
        max_tokens INTEGER, prompt_bound INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'pending', at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS attempts_by_channel ON attempts(channel, state);
`;

function createOldClient(path: string, sql: string): SqliteDatabase {
    const db = openSqlite(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(sql);
    return db;
}

/**
 * Rows as the old gateway wrote them: two channels to worker W1 (the older
 * one closed), one to W2; receipts and the vouchers paying them; a refused
 * receipt.
 */
function fillOldClient(db: SqliteDatabase): void {
    const channel = db.prepare(`INSERT INTO channels (address, worker_stake, nonce, deposit, verified, vouched, state, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    const receipt = db.prepare(`INSERT INTO receipts (channel, request_id, boc, cost, cumulative, model, received_at) VALUES (?, ?, ?, ?, ?, 'model', ?)`);
    const voucher = db.prepare(`INSERT OR IGNORE INTO vouchers (channel, total, signature, signed_at) VALUES (?, ?, ?, ?)`);
    db.transaction(() => {
        channel.run('C0', 'W1', '1', '1000000000', '300', '300', 'closed', 1700000000);
        channel.run('C1', 'W1', '2', '2000000000', '0', '0', 'open', 1700000100);
        channel.run('C2', 'W2', '3', '3000000000', '0', '0', 'open', 1700000200);
        receipt.run('C0', '11', 'te6-c0-11', '300', '300', 1700000010);
        voucher.run('C0', '300', sig(0xc0).toString('hex'), 1700000010);
        // Cumulative totals past 2^53 and ordered numerically, not as text.
        receipt.run('C1', '21', 'te6-c1-21', '900', '900', 1700000110);
        receipt.run('C1', '22', 'te6-c1-22', '9007199254740993', '9007199254741893', 1700000111);
        voucher.run('C1', '900', sig(0xc1).toString('hex'), 1700000110);
        voucher.run('C1', '9007199254741893', sig(0xc2).toString('hex'), 1700000111);
        db.prepare(`UPDATE channels SET verified = '9007199254741893', vouched = '9007199254741893' WHERE address = 'C1'`).run();
        db.prepare(`INSERT INTO bad_receipts (channel, worker_stake, boc, reason, at) VALUES ('C2', 'W2', 'te6-bad', 'overcharge', 1700000300)`).run();
    })();
}

function expectOldClientData(s: ClientStore): void {
    expect(s.channels().map((c) => [c.address, c.state])).toEqual([
        ['C0', 'closed'],
        ['C1', 'open'],
        ['C2', 'open'],
    ]);
    expect(s.channel('C1')).toEqual({
        address: 'C1',
        workerStake: 'W1',
        nonce: '2',
        deposit: 2000000000n,
        verified: 9007199254741893n,
        vouched: 9007199254741893n,
        state: 'open',
        openedAt: 1700000100,
    });
    expect(s.openChannelFor('W1')?.address).toBe('C1');
    expect(s.openChannelsFor('W2').map((c) => c.address)).toEqual(['C2']);
    expect(s.receipts('C1')).toEqual([
        { channel: 'C1', requestId: '21', boc: 'te6-c1-21', cost: 900n, cumulative: 900n, model: 'model', receivedAt: 1700000110 },
        { channel: 'C1', requestId: '22', boc: 'te6-c1-22', cost: 9007199254740993n, cumulative: 9007199254741893n, model: 'model', receivedAt: 1700000111 },
    ]);
    expect(s.latestVoucher('C1')).toEqual({ total: 9007199254741893n, signature: sig(0xc2) });
    expect(s.latestVoucher('C0')).toEqual({ total: 300n, signature: sig(0xc0) });
    expect(s.badReceipts()).toEqual([{ channel: 'C2', workerStake: 'W2', boc: 'te6-bad', reason: 'overcharge', at: 1700000300 }]);
}

/** The ledger keeps working: a request recorded, paid, the channel topped up and closed. */
function expectClientUsable(s: ClientStore): void {
    const id = s.addAttempt({ channel: 'C2', requestHash: hash('new'), maxTokens: 64, promptBound: 100, at: 1_700_002_000 });
    expect(s.pendingAttempts('C2').map((a) => a.id)).toContain(id);
    s.recordPayment({ channel: 'C2', requestId: '31', boc: 'te6-c2-31', cost: 70n, cumulative: 70n, model: 'model', receivedAt: 1_700_002_001 }, { total: 70n, signature: sig(0xd2) }, id);
    expect(s.pendingAttempts('C2').map((a) => a.id)).not.toContain(id);
    expect(s.channel('C2')).toMatchObject({ verified: 70n, vouched: 70n });
    expect(s.latestVoucher('C2')).toEqual({ total: 70n, signature: sig(0xd2) });
    s.setDeposit('C2', 5_000_000_000n);
    s.setState('C2', 'closing');
    expect(s.channel('C2')).toMatchObject({ deposit: 5_000_000_000n, state: 'closing' });
    s.recordBadReceipt('C1', 'W1', 'te6-bad2', 'bad signature');
    expect(s.badReceipts()).toHaveLength(2);
}

describe('client ledger migrations', () => {
    it('a ledger from 4357d55 (version 1: no attempts table) keeps its channels, receipts and vouchers', () => {
        const path = join(dir, 'store.db');
        const old = createOldClient(path, CLIENT_V1_SQL);
        fillOldClient(old);
        old.close();
        expect(userVersion(path)).toBe(0);

        const s = ClientStore.open(path);
        expectOldClientData(s);
        expect(s.pendingAttempts('C1')).toEqual([]);
        expectClientUsable(s);
        s.close();
        expect(userVersion(path)).toBe(CLIENT_STORE_VERSION);
        expect(schemaOf(path).map((o) => o.name)).toEqual(expect.arrayContaining(['attempts', 'attempts_by_channel']));
    });

    it('a ledger from 833089b-517c452 (version 2: attempts) keeps its rows and pending attempts', () => {
        const path = join(dir, 'store.db');
        const old = createOldClient(path, CLIENT_V2_SQL);
        fillOldClient(old);
        const attempt = old.prepare(`INSERT INTO attempts (channel, request_hash, max_tokens, prompt_bound, state, at) VALUES (?, ?, ?, ?, ?, ?)`);
        attempt.run('C1', hash('a1'), 32, 90, 'receipted', 1700000105);
        attempt.run('C1', hash('a2'), null, 120, 'pending', 1700000106);
        attempt.run('C1', hash('a3'), 16, 50, 'refused', 1700000107);
        const schemaBefore = schemaOf(path);
        // Left open like a killed gateway: the rows are in the WAL only.

        const s = ClientStore.open(path);
        expectOldClientData(s);
        expect(s.pendingAttempts('C1')).toEqual([{ id: 2, channel: 'C1', requestHash: hash('a2'), maxTokens: null, promptBound: 120, state: 'pending', at: 1700000106 }]);
        expectClientUsable(s);
        // New attempts continue the old ids.
        expect(s.addAttempt({ channel: 'C1', requestHash: hash('a4'), maxTokens: null, promptBound: 10 })).toBeGreaterThan(3);
        s.close();
        old.close();
        expect(userVersion(path)).toBe(CLIENT_STORE_VERSION);
        // Version 2 was complete: only the version number changed.
        expect(schemaOf(path)).toEqual(schemaBefore);
    });

    it('a first open that crashed between its CREATE statements is completed, not refused', () => {
        const path = join(dir, 'store.db');
        const old = createOldClient(
            path,
            `CREATE TABLE IF NOT EXISTS channels (
                address TEXT PRIMARY KEY, worker_stake TEXT NOT NULL, nonce TEXT NOT NULL, deposit TEXT NOT NULL,
                verified TEXT NOT NULL DEFAULT '0', vouched TEXT NOT NULL DEFAULT '0', state TEXT NOT NULL, opened_at INTEGER NOT NULL);`,
        );
        old.close();
        const s = ClientStore.open(path);
        s.addChannel({ address: 'C9', workerStake: 'W9', nonce: 9n, deposit: 1n });
        s.recordPayment({ channel: 'C9', requestId: '1', boc: 'b', cost: 1n, cumulative: 1n, model: 'm', receivedAt: 1 }, { total: 1n, signature: sig(9) });
        expect(s.channel('C9')).toMatchObject({ verified: 1n, vouched: 1n });
        s.close();
        expect(userVersion(path)).toBe(CLIENT_STORE_VERSION);
    });

    it('a new ledger starts at the latest version; reopening it changes nothing', () => {
        const path = join(dir, 'sub', 'store.db');
        let s = ClientStore.open(path);
        s.addChannel({ address: 'C1', workerStake: 'W1', nonce: 1n, deposit: 10n });
        s.close();
        expect(userVersion(path)).toBe(CLIENT_STORE_VERSION);
        const db = openSqlite(path, { readonly: true });
        expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
        db.close();
        const schema = schemaOf(path);
        const digest = fileDigest(path);

        s = ClientStore.open(path);
        expect(s.channel('C1')?.deposit).toBe(10n);
        s.close();
        expect(schemaOf(path)).toEqual(schema);
        expect(fileDigest(path)).toBe(digest);
    });

    it('refuses a ledger from a newer release, and leaves it as it was', () => {
        const path = join(dir, 'store.db');
        ClientStore.open(path).close();
        const db = openSqlite(path);
        db.pragma('journal_mode = DELETE');
        db.pragma(`user_version = ${CLIENT_STORE_VERSION + 5}`);
        db.close();
        const digest = fileDigest(path);

        expect(() => ClientStore.open(path)).toThrow(LedgerError);
        expect(() => ClientStore.open(path)).toThrow(/newer than this program knows/);
        expect(fileDigest(path)).toBe(digest);
    });

    it('refuses a worker store given as its path', () => {
        const path = join(dir, 'w.db');
        openAsOldWorker(path).close();
        expect(() => ClientStore.open(path)).toThrow(/is not a client ledger/);
        expect(userVersion(path)).toBe(0);
    });
});

// ---------------------------------------------------------------------------
// The migration runner itself
// ---------------------------------------------------------------------------

describe('openLedger', () => {
    function spec(log: string[], fail?: number): LedgerSpec {
        return {
            what: 'test ledger',
            migrations: [1, 2, 3].map((version) => ({
                version,
                description: `step ${version}`,
                up: (db: SqliteDatabase) => {
                    log.push(`up ${version}`);
                    // Not idempotent on purpose: a second run would fail on the duplicate key.
                    db.exec(`CREATE TABLE IF NOT EXISTS steps (version INTEGER PRIMARY KEY); INSERT INTO steps VALUES (${version})`);
                    if (version === fail) throw new Error('boom');
                },
            })),
        };
    }

    it('runs each migration once, in order, and records the version with it', () => {
        const path = join(dir, 'l.db');
        const log: string[] = [];
        openLedger(path, spec(log)).close();
        openLedger(path, spec(log)).close();
        expect(log).toEqual(['up 1', 'up 2', 'up 3']);
        expect(userVersion(path)).toBe(3);
    });

    it('runs only the migrations a database lacks', () => {
        const path = join(dir, 'l.db');
        const log: string[] = [];
        openLedger(path, { ...spec(log), migrations: spec(log).migrations.slice(0, 1) }).close();
        openLedger(path, spec(log)).close();
        expect(log).toEqual(['up 1', 'up 2', 'up 3']);
    });

    it('a failed migration leaves the database at the version before it, and the next open retries it', () => {
        const path = join(dir, 'l.db');
        const log: string[] = [];
        expect(() => openLedger(path, spec(log, 2))).toThrow(/migration to version 2 \(step 2\) failed: boom/);
        expect(userVersion(path)).toBe(1);
        const db = openSqlite(path, { readonly: true });
        expect(db.prepare(`SELECT version FROM steps`).all()).toEqual([{ version: 1 }]);
        db.close();
        openLedger(path, spec(log)).close();
        expect(log).toEqual(['up 1', 'up 2', 'up 2', 'up 3']);
        expect(userVersion(path)).toBe(3);
    });

    it('refuses migrations numbered out of order', () => {
        const bad: LedgerSpec = { what: 'test ledger', migrations: [{ version: 2, description: 'x', up: '' }] };
        expect(() => openLedger(':memory:', bad)).toThrow(/numbered 1, 2, 3/);
    });

    it('refuses a database of another kind without writing to it', () => {
        const path = join(dir, 'other.db');
        const other = openSqlite(path);
        other.exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)`);
        other.close();
        const digest = fileDigest(path);
        expect(() => openLedger(path, { ...spec([]), unversioned: { objects: { 1: ['steps'] } } })).toThrow(/is not a test ledger: .*"notes"/);
        expect(fileDigest(path)).toBe(digest);
        const db = openSqlite(path, { readonly: true });
        expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
        db.close();
    });

    it('opens :memory: ledgers migrated', () => {
        const log: string[] = [];
        const db = openLedger(':memory:', spec(log));
        expect(Number(db.pragma('user_version', { simple: true }))).toBe(3);
        db.close();
    });
});
