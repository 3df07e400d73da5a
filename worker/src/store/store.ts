import { randomBytes } from 'crypto';
import type { SqliteDatabase } from '../../../helpers/sqlite';
import { LedgerError, LedgerSpec, Migration, latestVersion, openLedger } from '../../../helpers/ledger';
import { INT64_MAX } from '../../../helpers/bytes';
import { GroupCommit } from '../../../helpers/groupCommit';

/**
 * The worker's crash-safe ledger: signed receipts it issued, the newest
 * vouchers clients gave it, and each channel's claim state. Money the worker
 * earned exists only as these vouchers until they are redeemed on chain, so a
 * write must be on disk before the response that depends on it completes.
 *
 * SQLite in WAL mode with `synchronous = FULL`: every committed transaction is
 * fsync'd to the WAL before `commit` returns, and a crash (process kill or
 * power loss) leaves either the whole transaction or none of it. A receipt and
 * the voucher that came with its request are written in one transaction; on
 * the request path that transaction is `deferred` and made durable by a
 * group commit shared with the requests that finish at the same moment.
 *
 * Amounts are nanoTON as SQLite 64-bit integers read back as BigInt; anything
 * at or above 2^63 is refused (9.2 billion TON, far beyond any channel).
 */

export type ChannelState = 'open' | 'closing' | 'closed';

export interface ReceiptRecord {
    channel: string; // channel contract address (friendly or raw form, used as given)
    requestId: string; // assigned by the worker, unique
    /** The signed receipt cell, serialised as a BOC. */
    boc: Buffer;
    modelId: string;
    promptTokens: number;
    cachedTokens: number;
    completionTokens: number;
    reasoningTokens: number;
    cost: bigint;
    /** Cumulative cost on the channel including this receipt. */
    cumulative: bigint;
    createdAt: number; // unix seconds
    requestHash: string; // hex SHA-256
    responseHash: string; // hex SHA-256
}

export interface VoucherRecord {
    channel: string;
    total: bigint;
    signature: Buffer; // 64-byte Ed25519
    receivedAt: number; // unix seconds
}

export interface ChannelSummary {
    address: string;
    state: ChannelState;
    closeDeadline: number | null;
    /** Total the channel has paid out on chain (as far as the worker has confirmed). */
    claimedTotal: bigint;
    /** Newest voucher's total, 0 if none. */
    voucherTotal: bigint;
    /** Cumulative cost of the receipts issued. */
    receiptTotal: bigint;
    /** Claimable now: voucherTotal - claimedTotal. */
    unclaimed: bigint;
    /** Served but not yet covered by a voucher: receiptTotal - voucherTotal (>= 0). */
    unpaid: bigint;
    receipts: number;
}

/** The money of several channels together (what the worker's metrics and dashboard show). */
export function channelTotals(channels: readonly ChannelSummary[]): { earned: bigint; vouched: bigint; claimed: bigint; unclaimed: bigint; unpaid: bigint } {
    const sum = (f: (c: ChannelSummary) => bigint) => channels.reduce((s, c) => s + f(c), 0n);
    return { earned: sum((c) => c.receiptTotal), vouched: sum((c) => c.voucherTotal), claimed: sum((c) => c.claimedTotal), unclaimed: sum((c) => c.unclaimed), unpaid: sum((c) => c.unpaid) };
}

export class StoreError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'StoreError';
    }
}

function amount(v: bigint, what: string): bigint {
    if (typeof v !== 'bigint' || v < 0n || v > INT64_MAX) throw new StoreError(`${what} out of range: ${v}`);
    return v;
}

function count(v: number, what: string): number {
    if (!Number.isSafeInteger(v) || v < 0) throw new StoreError(`${what} must be a non-negative integer`);
    return v;
}

/**
 * The store's schema, one migration per version (helpers/ledger.ts applies
 * them at open, each once, and refuses a store from a newer release).
 *
 * Version 1 is the schema the worker shipped with before stores carried a
 * version (unchanged from the first release until versioning). Its SQL keeps
 * `IF NOT EXISTS`, as it was run then, so it also completes a first open that
 * crashed between statements. Its meta 'schema' row is that era's marker;
 * the version itself is now PRAGMA user_version. The meta 'request_seq'
 * counter that releases before random request ids kept is left in place:
 * an older release reopening the store would otherwise count from 1 again
 * and repeat request ids, which is slashable.
 */
const MIGRATIONS: readonly Migration[] = [
    {
        version: 1,
        description: 'meta, channels, receipts, vouchers',
        up: `
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
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '1');
`,
    },
    {
        // probeWritable's scratch table, which unversioned releases created on
        // the first probe (so such a store may already have it): made at open,
        // a probe on a full disk tests only the write it means to test.
        version: 2,
        description: 'scratch table for probeWritable',
        up: `CREATE TABLE IF NOT EXISTS scratch (id INTEGER PRIMARY KEY, data BLOB);`,
    },
    {
        // Every confirmed rise of a channel's paid-out total, for the operator's
        // dashboard (the channels table keeps only the newest).
        version: 3,
        description: 'claims log',
        up: `CREATE TABLE claims (id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, total INTEGER NOT NULL, gained INTEGER NOT NULL, at INTEGER NOT NULL);`,
    },
];

const LEDGER: LedgerSpec = {
    what: 'worker store',
    migrations: MIGRATIONS,
    unversioned: {
        objects: { 1: ['meta', 'channels', 'receipts', 'receipts_by_channel', 'vouchers'] },
        alsoKnown: ['scratch'],
    },
    safeIntegers: true, // INTEGER columns come back as BigInt
    pragmas: ['foreign_keys = ON', 'busy_timeout = 5000'],
    dirMode: 0o700,
};

/** The schema version this code writes (a store at a higher one is refused). */
export const WORKER_STORE_VERSION = latestVersion(LEDGER);

export class WorkerStore {
    private readonly db: SqliteDatabase;
    private readonly stmts;
    private readonly commits: GroupCommit;
    private deferring = false;
    /**
     * Receipts written by `deferred` whose fsync is still to come, by request
     * id. They are left out of what the store hands out (recovery): a power
     * cut could still take them, and the worker must never have given out a
     * receipt it may go on to sign differently.
     */
    private readonly notDurable = new Set<string>();

    private constructor(readonly path: string) {
        try {
            this.db = openLedger(path, LEDGER);
        } catch (e) {
            // Callers know one error type for a store they cannot use.
            if (e instanceof LedgerError) throw new StoreError(e.message);
            throw e;
        }
        this.commits = new GroupCommit(this.db, path);
        this.stmts = {
            ensureChannel: this.db.prepare(`INSERT OR IGNORE INTO channels (address, updated_at) VALUES (?, ?)`),
            channel: this.db.prepare(`SELECT * FROM channels WHERE address = ?`),
            lastReceipt: this.db.prepare(`SELECT cumulative FROM receipts WHERE channel = ? ORDER BY seq DESC LIMIT 1`),
            insertReceipt: this.db.prepare(
                `INSERT INTO receipts (channel, request_id, boc, model_id, prompt_tokens, cached_tokens, completion_tokens,
                   reasoning_tokens, cost, cumulative, created_at, request_hash, response_hash)
                 VALUES (@channel, @requestId, @boc, @modelId, @promptTokens, @cachedTokens, @completionTokens,
                   @reasoningTokens, @cost, @cumulative, @createdAt, @requestHash, @responseHash)`,
            ),
            latestVoucher: this.db.prepare(`SELECT * FROM vouchers WHERE channel = ? ORDER BY total DESC LIMIT 1`),
            insertVoucher: this.db.prepare(`INSERT OR IGNORE INTO vouchers (channel, total, signature, received_at) VALUES (?, ?, ?, ?)`),
            pruneVouchers: this.db.prepare(`DELETE FROM vouchers WHERE channel = ? AND total < ?`),
            markClaimed: this.db.prepare(`UPDATE channels SET claimed_total = ?, last_claim_tx = ?, updated_at = ? WHERE address = ? AND claimed_total < ?`),
            setState: this.db.prepare(`UPDATE channels SET state = ?, close_deadline = ?, updated_at = ? WHERE address = ?`),
            logClaim: this.db.prepare(`INSERT INTO claims (channel, total, gained, at) VALUES (?, ?, ?, ?)`),
            summaries: this.db.prepare(
                `SELECT c.*,
                    (SELECT MAX(total) FROM vouchers v WHERE v.channel = c.address) AS voucher_total,
                    (SELECT MAX(cumulative) FROM receipts r WHERE r.channel = c.address) AS receipt_total,
                    (SELECT COUNT(*) FROM receipts r WHERE r.channel = c.address) AS receipt_count
                 FROM channels c ORDER BY c.address`,
            ),
            receipts: this.db.prepare(`SELECT * FROM receipts WHERE channel = ? ORDER BY seq`),
            receiptById: this.db.prepare(`SELECT * FROM receipts WHERE request_id = ?`),
            countAbove: this.db.prepare(`SELECT COUNT(*) AS n FROM receipts WHERE channel = ? AND cumulative > ?`),
            getMeta: this.db.prepare(`SELECT value FROM meta WHERE key = ?`),
            setMeta: this.db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`),
        };
    }

    static open(path: string): WorkerStore {
        return new WorkerStore(path);
    }

    /**
     * Runs `fn`'s writes without an fsync of their own: visible at once and
     * safe against this process being killed. `durable()` then puts them on
     * disk, sharing one fsync with every other request's writes of the same
     * moment (group commit). Nothing that depends on them may leave the
     * process before it resolves.
     */
    deferred<T>(fn: () => T): T {
        this.deferring = true;
        try {
            return this.commits.deferred(fn);
        } finally {
            this.deferring = false;
        }
    }

    /** Resolves when every write committed so far is on disk. */
    async durable(): Promise<void> {
        const covered = [...this.notDurable];
        await this.commits.durable();
        for (const id of covered) this.notDurable.delete(id);
    }

    /** fsyncs made by `durable()` so far (each covers every write before it). */
    get groupSyncs(): number {
        return this.commits.syncs;
    }

    /** Registers a channel the worker serves (no-op if known). */
    ensureChannel(address: string): void {
        this.stmts.ensureChannel.run(address, now());
    }

    /**
     * Appends a receipt and, if given, the voucher that arrived with the
     * request, in one durable transaction. The receipt must continue the
     * channel's cumulative total exactly (previous + cost): a gap or overlap
     * means the worker's accounting is broken and is refused rather than
     * stored. Returns whether the voucher was newer than the one held.
     */
    appendReceipt(receipt: ReceiptRecord, voucher?: VoucherRecord): { voucherAccepted: boolean } {
        amount(receipt.cost, 'cost');
        amount(receipt.cumulative, 'cumulative');
        for (const k of ['promptTokens', 'cachedTokens', 'completionTokens', 'reasoningTokens', 'createdAt'] as const) count(receipt[k], k);
        if (voucher && voucher.channel !== receipt.channel) throw new StoreError('voucher and receipt name different channels');
        const tx = this.db.transaction((): { voucherAccepted: boolean } => {
            this.ensureChannel(receipt.channel);
            const prev = (this.stmts.lastReceipt.get(receipt.channel) as { cumulative: bigint } | undefined)?.cumulative ?? 0n;
            if (receipt.cumulative !== prev + receipt.cost) throw new StoreError(`receipt cumulative ${receipt.cumulative} does not continue ${prev} + ${receipt.cost}`);
            this.stmts.insertReceipt.run({ ...receipt });
            if (this.deferring) this.notDurable.add(receipt.requestId);
            return { voucherAccepted: voucher ? this.insertVoucher(voucher) : false };
        });
        try {
            return tx.immediate();
        } catch (e) {
            if (e instanceof StoreError) throw e;
            if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new StoreError(`duplicate receipt: ${(e as Error).message}`);
            throw e;
        }
    }

    /** Stores a voucher on its own (e.g. a final voucher sent with a close request). */
    /**
     * Stores a voucher. `fsync` (default): durable against a power cut when
     * this returns. `process`: durable against this process being killed (in
     * WAL mode the OS holds the write at once) and made durable by the next
     * fsync'd commit, normally the receipt of the request it arrived with;
     * for the voucher stored before serving, which the client would send
     * again anyway with its next request.
     */
    recordVoucher(voucher: VoucherRecord, durability: 'fsync' | 'process' = 'fsync'): { voucherAccepted: boolean } {
        const write = () =>
            this.db
                .transaction(() => {
                    this.ensureChannel(voucher.channel);
                    return { voucherAccepted: this.insertVoucher(voucher) };
                })
                .immediate();
        return durability === 'fsync' ? write() : this.commits.deferred(write);
    }

    private insertVoucher(v: VoucherRecord): boolean {
        amount(v.total, 'voucher total');
        count(v.receivedAt, 'receivedAt');
        if (v.signature.length !== 64) throw new StoreError('a voucher signature is 64 bytes');
        const latest = this.latestVoucher(v.channel);
        // An older or equal voucher is a harmless replay: keep the newest only.
        if (latest && latest.total >= v.total) return false;
        this.stmts.insertVoucher.run(v.channel, v.total, v.signature, v.receivedAt);
        // Older vouchers are superseded (the channel pays total - alreadyPaid).
        this.stmts.pruneVouchers.run(v.channel, v.total);
        return true;
    }

    latestVoucher(channel: string): VoucherRecord | undefined {
        const row = this.stmts.latestVoucher.get(channel) as { channel: string; total: bigint; signature: Buffer; received_at: bigint } | undefined;
        if (!row) return undefined;
        return { channel: row.channel, total: row.total, signature: row.signature, receivedAt: Number(row.received_at) };
    }

    /** Claimable value on a channel: newest voucher minus what was already claimed. */
    unclaimed(channel: string): bigint {
        return this.channel(channel)?.unclaimed ?? 0n;
    }

    /**
     * Records that the channel has paid out up to `total` (after the claim
     * transaction is confirmed). Idempotent by cumulative total: repeating it,
     * or confirming an older total after a newer one, changes nothing.
     */
    markClaimed(channel: string, total: bigint, txHash?: string): { changed: boolean } {
        amount(total, 'claimed total');
        return this.db
            .transaction(() => {
                this.ensureChannel(channel);
                const before = (this.stmts.channel.get(channel) as { claimed_total: bigint }).claimed_total;
                const info = this.stmts.markClaimed.run(total, txHash ?? null, now(), channel, total);
                if (info.changes > 0) this.stmts.logClaim.run(channel, total, total - before, now());
                return { changed: info.changes > 0 };
            })
            .immediate();
    }

    setChannelState(channel: string, state: ChannelState, closeDeadline?: number): void {
        this.db
            .transaction(() => {
                this.ensureChannel(channel);
                this.stmts.setState.run(state, closeDeadline ?? null, now(), channel);
            })
            .immediate();
    }

    /** The channel's local state (open, closing, closed), or undefined if the store has never seen it. */
    channelState(address: string): ChannelState | undefined {
        return (this.stmts.channel.get(address) as { state: ChannelState } | undefined)?.state;
    }

    channel(address: string): ChannelSummary | undefined {
        return this.listChannels().find((c) => c.address === address);
    }

    listChannels(): ChannelSummary[] {
        return (this.stmts.summaries.all() as Array<Record<string, unknown>>).map((r) => {
            const claimedTotal = r.claimed_total as bigint;
            const voucherTotal = (r.voucher_total as bigint | null) ?? 0n;
            const receiptTotal = (r.receipt_total as bigint | null) ?? 0n;
            return {
                address: r.address as string,
                state: r.state as ChannelState,
                closeDeadline: r.close_deadline === null ? null : Number(r.close_deadline),
                claimedTotal,
                voucherTotal,
                receiptTotal,
                unclaimed: voucherTotal > claimedTotal ? voucherTotal - claimedTotal : 0n,
                unpaid: receiptTotal > voucherTotal ? receiptTotal - voucherTotal : 0n,
                receipts: Number(r.receipt_count),
            };
        });
    }

    /** Iterates channels (for the claimer and `cocoon-worker status`). */
    *channels(): IterableIterator<ChannelSummary> {
        yield* this.listChannels();
    }

    /** Confirmed claims, newest first: each rise of a channel's paid-out total. */
    claims(limit: number): Array<{ channel: string; total: bigint; gained: bigint; at: number }> {
        return (this.db.prepare(`SELECT channel, total, gained, at FROM claims ORDER BY id DESC LIMIT ?`).all(limit) as Array<Record<string, unknown>>).map((r) => ({
            channel: r.channel as string,
            total: r.total as bigint,
            gained: r.gained as bigint,
            at: Number(r.at),
        }));
    }

    /** Time and cost of every receipt issued since `since` (unix s), oldest first: what earnings charts add up. */
    receiptsSince(since: number): Array<{ at: number; cost: bigint }> {
        return (this.db.prepare(`SELECT created_at, cost FROM receipts WHERE created_at >= ? ORDER BY seq`).all(since) as Array<Record<string, unknown>>).map((r) => ({
            at: Number(r.created_at),
            cost: r.cost as bigint,
        }));
    }

    receiptsOf(channel: string): ReceiptRecord[] {
        return (this.stmts.receipts.all(channel) as Array<Record<string, unknown>>).map(rowToReceipt);
    }

    receipt(requestId: string): ReceiptRecord | undefined {
        const r = this.stmts.receiptById.get(requestId) as Record<string, unknown> | undefined;
        return r ? rowToReceipt(r) : undefined;
    }

    /**
     * A request id (uint64) for a new receipt: 64 random bits. Two receipts
     * with one id on one channel are slashable (ProveEquivocation), so ids
     * must never repeat, whatever happens to this store: recreated, restored
     * from a backup, or a standby instance serving with the same key from a
     * store of its own. A counter would repeat in each of those; random ids
     * repeat with odds of about n^2 / 2^65 for n receipts on a channel.
     */
    nextRequestId(): bigint {
        return randomBytes(8).readBigUInt64BE();
    }

    /**
     * Binds the store to the worker key that signs its receipts: a store of
     * another key (a mixed-up path) is refused, so its vouchers are never
     * claimed and its receipts never served as this worker's.
     */
    bindWorkerKey(publicKeyHex: string): void {
        const row = this.stmts.getMeta.get('worker_key') as { value: string } | undefined;
        if (row && row.value !== publicKeyHex) throw new StoreError(`this store belongs to worker key ${row.value}, not ${publicKeyHex}: point store.path at this worker's own store`);
        if (!row) this.stmts.setMeta.run('worker_key', publicKeyHex);
    }

    /** Receipts on a channel whose cumulative total is above `total` (not covered by a voucher of that total). */
    receiptsAbove(channel: string, total: bigint): number {
        return Number((this.stmts.countAbove.get(channel, total) as { n: bigint }).n);
    }

    /** Up to `limit` receipts on a channel with cumulative above `after`, in cumulative order (receipt recovery). */
    receiptsAfter(channel: string, after: bigint, limit: number): ReceiptRecord[] {
        amount(after, 'after');
        const rows = (this.db.prepare(`SELECT * FROM receipts WHERE channel = ? AND cumulative > ? ORDER BY cumulative LIMIT ?`).all(channel, after, limit) as Array<Record<string, unknown>>).map(
            rowToReceipt,
        );
        // Those still waiting for their fsync come last (the WAL is in commit order): the durable ones before them stand.
        const firstPending = rows.findIndex((r) => this.notDurable.has(r.requestId));
        return firstPending < 0 ? rows : rows.slice(0, firstPending);
    }

    /**
     * Whether the store can take a committed write of about `bytes` now:
     * writes and deletes a scratch row in one transaction (so nothing stays
     * behind), which fails with SQLITE_FULL (or an I/O error) when the disk
     * or the page limit leaves no room. Used to tell when space has returned.
     */
    probeWritable(bytes = 64 * 1024): void {
        this.db
            .transaction(() => {
                this.db.prepare(`INSERT INTO scratch (id, data) VALUES (1, zeroblob(?))`).run(bytes);
                this.db.prepare(`DELETE FROM scratch WHERE id = 1`).run();
            })
            .immediate();
    }

    /** Cumulative cost of the receipts issued on a channel (0 if none). */
    receiptTotal(channel: string): bigint {
        return (this.stmts.lastReceipt.get(channel) as { cumulative: bigint } | undefined)?.cumulative ?? 0n;
    }

    /** SQLite's own consistency check ("ok" when healthy). */
    integrityCheck(): string {
        return String(this.db.pragma('integrity_check', { simple: true }));
    }

    pragma(name: string): unknown {
        return this.db.pragma(name, { simple: true });
    }

    close(): void {
        this.commits.close();
        if (this.db.open) this.db.close();
    }
}

function rowToReceipt(r: Record<string, unknown>): ReceiptRecord {
    return {
        channel: r.channel as string,
        requestId: r.request_id as string,
        boc: r.boc as Buffer,
        modelId: r.model_id as string,
        promptTokens: Number(r.prompt_tokens),
        cachedTokens: Number(r.cached_tokens),
        completionTokens: Number(r.completion_tokens),
        reasoningTokens: Number(r.reasoning_tokens),
        cost: r.cost as bigint,
        cumulative: r.cumulative as bigint,
        createdAt: Number(r.created_at),
        requestHash: r.request_hash as string,
        responseHash: r.response_hash as string,
    };
}

function now(): number {
    return Math.floor(Date.now() / 1000);
}
