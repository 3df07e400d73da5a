import type { SqliteDatabase, SqliteStatement } from '../../helpers/sqlite';
import { GroupCommit } from '../../helpers/groupCommit';
import { LedgerSpec, Migration, latestVersion, openLedger } from '../../helpers/ledger';

/**
 * The client's local ledger (SQLite, WAL, synchronous=FULL): the channels it
 * opened, every receipt it verified and every voucher it signed. A restarted
 * gateway reads its open channels from here and continues them: the next
 * voucher covers exactly the verified cumulative cost, never more (no double
 * payment) and never less (the worker would refuse).
 */

/**
 * The ledger's schema, one migration per version (helpers/ledger.ts applies
 * them at open, each once, and refuses a ledger from a newer release).
 * Versions 1 and 2 shipped before ledgers carried a version; their SQL keeps
 * `IF NOT EXISTS`, as it was run then, so it also completes a first open that
 * crashed between statements.
 */
const MIGRATIONS: readonly Migration[] = [
    {
        version: 1,
        description: 'channels, receipts, vouchers, bad_receipts',
        up: `
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
        `,
    },
    {
        version: 2,
        description: 'attempts',
        up: `
            -- Every request sent, before it is sent: a receipt whose final frame was lost is
            -- paid later only if it names one of these, once (state 'pending' -> 'receipted';
            -- 'refused' when the worker answered with a refusal, so it served nothing).
            CREATE TABLE IF NOT EXISTS attempts (
                id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, request_hash TEXT NOT NULL,
                max_tokens INTEGER, prompt_bound INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'pending', at INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS attempts_by_channel ON attempts(channel, state);
        `,
    },
];

const V1_OBJECTS = ['channels', 'channels_by_worker', 'receipts', 'vouchers', 'bad_receipts'];

const LEDGER: LedgerSpec = {
    what: 'client ledger',
    migrations: MIGRATIONS,
    unversioned: { objects: { 1: V1_OBJECTS, 2: [...V1_OBJECTS, 'attempts', 'attempts_by_channel'] } },
    dirMode: 0o700,
};

/** The schema version this code writes (a ledger at a higher one is refused). */
export const CLIENT_STORE_VERSION = latestVersion(LEDGER);

export interface ChannelRow {
    address: string;
    workerStake: string;
    nonce: string;
    deposit: bigint;
    /** Cumulative cost of the newest verified receipt. */
    verified: bigint;
    /** Total of the newest signed voucher. */
    vouched: bigint;
    state: 'open' | 'closing' | 'closed';
    openedAt: number;
}

export interface ReceiptRow {
    channel: string;
    requestId: string;
    boc: string;
    cost: bigint;
    cumulative: bigint;
    model: string;
    receivedAt: number;
}

export interface AttemptRow {
    id: number;
    channel: string;
    /** hex requestDigest of the sealed plaintext. */
    requestHash: string;
    /** The request's max_tokens (null: none was set). */
    maxTokens: number | null;
    /** Most prompt tokens the request can count (the worker's own bound: bytes + 16 per message + 16). */
    promptBound: number;
    state: 'pending' | 'receipted' | 'refused';
    at: number;
}

export class ClientStore {
    private readonly statements = new Map<string, SqliteStatement>();

    private readonly commits: GroupCommit;

    private constructor(
        private readonly db: SqliteDatabase,
        path: string,
    ) {
        this.commits = new GroupCommit(db, path);
    }

    /** A prepared statement, prepared once per store (the request path runs several per request). */
    private q(sql: string): SqliteStatement {
        let st = this.statements.get(sql);
        if (!st) this.statements.set(sql, (st = this.db.prepare(sql)));
        return st;
    }

    /**
     * Writes that must survive this process being killed but may skip their
     * own fsync: in WAL mode the OS holds them at once, and `durable()` (or
     * the next fsync'd commit) puts them on disk. For a request's attempt
     * (losing it to a power cut loses no money: see addAttempt) and, followed
     * by `durable()`, for a payment.
     */
    deferred<T>(fn: () => T): T {
        return this.commits.deferred(fn);
    }

    /**
     * Resolves when every write so far is on disk: one fsync shared by the
     * calls that finish at the same moment (group commit). A payment's
     * voucher leaves the process only after it.
     */
    durable(): Promise<void> {
        return this.commits.durable();
    }

    /** fsyncs made by `durable()` so far. */
    get groupSyncs(): number {
        return this.commits.syncs;
    }

    /** Opens (creating or migrating as needed) the ledger; a ledger from a newer release is refused (LedgerError). */
    static open(path: string): ClientStore {
        return new ClientStore(openLedger(path, LEDGER), path);
    }

    private row(r: any): ChannelRow {
        return {
            address: r.address,
            workerStake: r.worker_stake,
            nonce: r.nonce,
            deposit: BigInt(r.deposit),
            verified: BigInt(r.verified),
            vouched: BigInt(r.vouched),
            state: r.state,
            openedAt: r.opened_at,
        };
    }

    addChannel(c: { address: string; workerStake: string; nonce: bigint; deposit: bigint }): void {
        this.q(`INSERT INTO channels (address, worker_stake, nonce, deposit, state, opened_at) VALUES (?, ?, ?, ?, 'open', ?)`).run(
            c.address,
            c.workerStake,
            c.nonce.toString(),
            c.deposit.toString(),
            Math.floor(Date.now() / 1000),
        );
    }

    channel(address: string): ChannelRow | undefined {
        const r = this.q(`SELECT * FROM channels WHERE address = ?`).get(address);
        return r ? this.row(r) : undefined;
    }

    /** The newest open channel to a worker, if any. */
    openChannelFor(workerStake: string): ChannelRow | undefined {
        const r = this.q(`SELECT * FROM channels WHERE worker_stake = ? AND state = 'open' ORDER BY opened_at DESC, rowid DESC LIMIT 1`).get(workerStake);
        return r ? this.row(r) : undefined;
    }

    /** Every open channel to a worker, oldest first. */
    openChannelsFor(workerStake: string): ChannelRow[] {
        return this.q(`SELECT * FROM channels WHERE worker_stake = ? AND state = 'open' ORDER BY opened_at, rowid`)
            .all(workerStake)
            .map((r) => this.row(r));
    }

    channels(): ChannelRow[] {
        return this.q(`SELECT * FROM channels ORDER BY opened_at`)
            .all()
            .map((r) => this.row(r));
    }

    setDeposit(address: string, deposit: bigint): void {
        this.q(`UPDATE channels SET deposit = ? WHERE address = ?`).run(deposit.toString(), address);
    }

    setState(address: string, state: ChannelRow['state']): void {
        this.q(`UPDATE channels SET state = ? WHERE address = ?`).run(state, address);
    }

    /**
     * Records a verified receipt and the voucher that pays for it in one
     * transaction: either both are on disk or neither is. Within `deferred`,
     * on disk once `durable()` resolves.
     */
    recordPayment(r: ReceiptRow, voucher: { total: bigint; signature: Buffer }, attemptId?: number): void {
        this.db.transaction(() => {
            if (attemptId !== undefined) this.q(`UPDATE attempts SET state = 'receipted' WHERE id = ?`).run(attemptId);
            this.q(`INSERT INTO receipts (channel, request_id, boc, cost, cumulative, model, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(
                r.channel,
                r.requestId,
                r.boc,
                r.cost.toString(),
                r.cumulative.toString(),
                r.model,
                r.receivedAt,
            );
            this.q(`INSERT OR IGNORE INTO vouchers (channel, total, signature, signed_at) VALUES (?, ?, ?, ?)`).run(
                r.channel,
                voucher.total.toString(),
                voucher.signature.toString('hex'),
                r.receivedAt,
            );
            this.q(`UPDATE channels SET verified = ?, vouched = ? WHERE address = ?`).run(r.cumulative.toString(), voucher.total.toString(), r.channel);
        })();
    }

    /**
     * Records a request before it is sent (a receipt for it may come only later). Process-crash durable only (see
     * `deferred`): an attempt lost to a power cut can only make a recovered
     * receipt for it unmatched, so refused and reported; it never pays.
     */
    addAttempt(a: { channel: string; requestHash: string; maxTokens: number | null; promptBound: number; /** unix s, the client's clock (default: the system clock) */ at?: number }): number {
        const info = this.deferred(() =>
            this.q(`INSERT INTO attempts (channel, request_hash, max_tokens, prompt_bound, at) VALUES (?, ?, ?, ?, ?)`).run(
                a.channel,
                a.requestHash,
                a.maxTokens,
                a.promptBound,
                a.at ?? Math.floor(Date.now() / 1000),
            ),
        );
        return Number(info.lastInsertRowid);
    }

    setAttemptState(id: number, state: AttemptRow['state']): void {
        this.q(`UPDATE attempts SET state = ? WHERE id = ?`).run(state, id);
    }

    /** Requests on a channel still waiting for their receipt, oldest first. */
    pendingAttempts(channel: string): AttemptRow[] {
        return (this.q(`SELECT * FROM attempts WHERE channel = ? AND state = 'pending' ORDER BY id`).all(channel) as any[]).map((r) => ({
            id: r.id,
            channel: r.channel,
            requestHash: r.request_hash,
            maxTokens: r.max_tokens,
            promptBound: r.prompt_bound,
            state: r.state,
            at: r.at,
        }));
    }

    recordBadReceipt(channel: string, workerStake: string, boc: string, reason: string): void {
        this.q(`INSERT INTO bad_receipts (channel, worker_stake, boc, reason, at) VALUES (?, ?, ?, ?, ?)`).run(channel, workerStake, boc, reason, Math.floor(Date.now() / 1000));
    }

    badReceipts(): Array<{ channel: string; workerStake: string; boc: string; reason: string; at: number }> {
        return this.q(`SELECT channel, worker_stake AS workerStake, boc, reason, at FROM bad_receipts`).all() as any;
    }

    /** The newest receipts refused, newest first. */
    recentBadReceipts(limit: number): Array<{ channel: string; workerStake: string; boc: string; reason: string; at: number }> {
        return this.q(`SELECT channel, worker_stake AS workerStake, boc, reason, at FROM bad_receipts ORDER BY at DESC, rowid DESC LIMIT ?`).all(limit) as any;
    }

    receipts(channel: string): ReceiptRow[] {
        return (this.q(`SELECT * FROM receipts WHERE channel = ? ORDER BY CAST(cumulative AS INTEGER)`).all(channel) as any[]).map((r) => this.receiptRow(r));
    }

    private receiptRow(r: any): ReceiptRow {
        return {
            channel: r.channel,
            requestId: r.request_id,
            boc: r.boc,
            cost: BigInt(r.cost),
            cumulative: BigInt(r.cumulative),
            model: r.model,
            receivedAt: r.received_at,
        };
    }

    /** The newest verified receipts of every channel, newest first, with the worker each channel pays. */
    recentReceipts(limit: number): Array<ReceiptRow & { workerStake: string }> {
        return (this.q(`SELECT r.*, c.worker_stake FROM receipts r JOIN channels c ON c.address = r.channel ORDER BY r.received_at DESC, r.rowid DESC LIMIT ?`).all(limit) as any[]).map((r) => ({
            ...this.receiptRow(r),
            workerStake: r.worker_stake,
        }));
    }

    /** Cost and time of every verified receipt since `since` (unix s), oldest first: what spend charts add up. */
    spendSince(since: number): Array<{ at: number; cost: bigint }> {
        return (this.q(`SELECT received_at, cost FROM receipts WHERE received_at >= ? ORDER BY received_at`).all(since) as any[]).map((r) => ({ at: r.received_at, cost: BigInt(r.cost) }));
    }

    /** Receipts kept for each channel (verified ones; refused ones are in badReceipts). */
    receiptCounts(): Map<string, number> {
        return new Map((this.q(`SELECT channel, COUNT(*) AS n FROM receipts GROUP BY channel`).all() as any[]).map((r) => [r.channel, Number(r.n)]));
    }

    /**
     * The channel's newest voucher: the one of the total its row names as
     * vouched (both are written by one transaction, and receipts are paid in
     * cumulative order), found by the vouchers' key rather than a scan of
     * every voucher the channel ever had (this runs on every request).
     */
    latestVoucher(channel: string): { total: bigint; signature: Buffer } | undefined {
        const r = this.q(`SELECT v.total, v.signature FROM channels c JOIN vouchers v ON v.channel = c.address AND v.total = c.vouched WHERE c.address = ?`).get(channel) as
            { total: string; signature: string } | undefined;
        return r ? { total: BigInt(r.total), signature: Buffer.from(r.signature, 'hex') } : undefined;
    }

    close(): void {
        this.commits.close();
        this.db.close();
    }
}
