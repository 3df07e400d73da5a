import BetterSqlite3 from 'better-sqlite3';

/**
 * The SQLite connection the ledgers use, with better-sqlite3's interface
 * (the part of it this code uses), over one of two engines:
 *
 * - better-sqlite3 on Node.js before 24: the engine everything was written
 *   and measured on;
 * - Node's own `node:sqlite` on Node.js 24 and later, where better-sqlite3 12
 *   (the last release that still runs on Node 20) aborts the process when
 *   V8 collects one of its objects, and 13, which fixes that, does not run on
 *   Node 20.
 *
 * COCOON_SQLITE=better-sqlite3 or =node:sqlite chooses one explicitly. Both
 * give the same results to the ledgers: integers as BigInt when asked,
 * BLOBs as Buffer, rows as plain objects, transactions with savepoints when
 * nested.
 */

export type SqliteValue = null | number | bigint | string | Buffer | Uint8Array;
type Params = unknown[];

export interface SqliteRunResult {
    changes: number | bigint;
    lastInsertRowid: number | bigint;
}

export interface SqliteStatement {
    run(...params: Params): SqliteRunResult;
    get(...params: Params): unknown;
    all(...params: Params): unknown[];
}

export type SqliteTransaction<F extends (...args: never[]) => unknown> = F & { deferred: F; immediate: F; exclusive: F };

export interface SqliteDatabase {
    prepare(sql: string): SqliteStatement;
    exec(sql: string): void;
    /** `PRAGMA <source>`: every row, or with `simple` the first column of the first row. */
    pragma(source: string, options?: { simple?: boolean }): unknown;
    /** `fn` as one transaction (BEGIN, or a savepoint inside another), committed when it returns and rolled back when it throws. */
    transaction<F extends (...args: never[]) => unknown>(fn: F): SqliteTransaction<F>;
    /** Read INTEGER columns as BigInt. */
    defaultSafeIntegers(on?: boolean): this;
    close(): void;
    readonly open: boolean;
    readonly inTransaction: boolean;
}

export type SqliteEngine = 'better-sqlite3' | 'node:sqlite';

export function defaultSqliteEngine(env: NodeJS.ProcessEnv = process.env, nodeVersion = process.versions.node): SqliteEngine {
    const chosen = env.COCOON_SQLITE;
    if (chosen === 'better-sqlite3' || chosen === 'node:sqlite') return chosen;
    if (chosen) throw new Error(`COCOON_SQLITE must be better-sqlite3 or node:sqlite, got "${chosen}"`);
    return Number(nodeVersion.split('.')[0]) >= 24 ? 'node:sqlite' : 'better-sqlite3';
}

export interface OpenOptions {
    /** Open for reading only; the file must exist. */
    readonly?: boolean;
    engine?: SqliteEngine;
}

/** Opens (creating, unless read-only) the database at `path` (':memory:' for one in memory). */
export function openSqlite(path: string, options: OpenOptions = {}): SqliteDatabase {
    const readonly = options.readonly ?? false;
    if ((options.engine ?? defaultSqliteEngine()) === 'node:sqlite') return new NodeSqliteDatabase(path, readonly);
    return new BetterSqlite3(path, { readonly, fileMustExist: readonly }) as unknown as SqliteDatabase;
}

/** The part of node:sqlite used here (its types are not in this project's @types/node). */
interface NodeStatementSync {
    run(...params: Params): SqliteRunResult;
    get(...params: Params): Record<string, SqliteValue> | undefined;
    all(...params: Params): Array<Record<string, SqliteValue>>;
    setReadBigInts(on: boolean): void;
}
interface NodeDatabaseSync {
    prepare(sql: string): NodeStatementSync;
    exec(sql: string): void;
    close(): void;
    readonly isOpen: boolean;
    readonly isTransaction: boolean;
}
type NodeSqliteModule = { DatabaseSync: new (path: string, options?: { enableForeignKeyConstraints?: boolean; readOnly?: boolean }) => NodeDatabaseSync };

function nodeSqlite(): NodeSqliteModule {
    const mod = process.getBuiltinModule?.('node:sqlite') as NodeSqliteModule | undefined;
    if (!mod) throw new Error(`node:sqlite is not available in Node.js ${process.versions.node}: use COCOON_SQLITE=better-sqlite3`);
    return mod;
}

/** SQLite's result codes by number, as better-sqlite3 names them in an error's `code`. */
const RESULT_CODES: Record<number, string> = {
    1: 'SQLITE_ERROR',
    5: 'SQLITE_BUSY',
    6: 'SQLITE_LOCKED',
    8: 'SQLITE_READONLY',
    10: 'SQLITE_IOERR',
    11: 'SQLITE_CORRUPT',
    13: 'SQLITE_FULL',
    14: 'SQLITE_CANTOPEN',
    19: 'SQLITE_CONSTRAINT',
    26: 'SQLITE_NOTADB',
    275: 'SQLITE_CONSTRAINT_CHECK',
    787: 'SQLITE_CONSTRAINT_FOREIGNKEY',
    1299: 'SQLITE_CONSTRAINT_NOTNULL',
    1555: 'SQLITE_CONSTRAINT_PRIMARYKEY',
    2067: 'SQLITE_CONSTRAINT_UNIQUE',
};

/** Runs `fn`, giving a node:sqlite error the `code` better-sqlite3 would (SQLITE_CONSTRAINT_UNIQUE...). */
function codes<T>(fn: () => T): T {
    try {
        return fn();
    } catch (e) {
        const err = e as { code?: string; errcode?: number };
        if (err.code === 'ERR_SQLITE_ERROR' && typeof err.errcode === 'number') err.code = RESULT_CODES[err.errcode] ?? RESULT_CODES[err.errcode & 0xff] ?? `SQLITE_${err.errcode}`;
        throw e;
    }
}

/** As better-sqlite3 gives them: BLOBs as Buffer, rows as plain objects. */
function row(r: Record<string, SqliteValue> | undefined): Record<string, SqliteValue> | undefined {
    if (r === undefined) return undefined;
    const out: Record<string, SqliteValue> = {};
    for (const [k, v] of Object.entries(r)) out[k] = v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
    return out;
}

class NodeSqliteDatabase implements SqliteDatabase {
    private readonly db: NodeDatabaseSync;
    private bigInts = false;
    private savepoints = 0;

    constructor(path: string, readOnly: boolean) {
        // SQLite's own default (better-sqlite3 keeps it): foreign keys are enforced where a ledger's pragmas ask.
        this.db = new (nodeSqlite().DatabaseSync)(path, { enableForeignKeyConstraints: false, readOnly });
    }

    get open(): boolean {
        return this.db.isOpen;
    }

    get inTransaction(): boolean {
        return this.db.isTransaction;
    }

    prepare(sql: string): SqliteStatement {
        const s = codes(() => this.db.prepare(sql));
        s.setReadBigInts(this.bigInts);
        return {
            run: (...params) => codes(() => s.run(...params)),
            get: (...params) => row(codes(() => s.get(...params))),
            all: (...params) => codes(() => s.all(...params)).map((r) => row(r)!),
        };
    }

    exec(sql: string): void {
        codes(() => this.db.exec(sql));
    }

    pragma(source: string, options: { simple?: boolean } = {}): unknown {
        const s = this.prepare(`PRAGMA ${source}`);
        if (!options.simple) return s.all();
        const first = s.get() as Record<string, SqliteValue> | undefined;
        return first === undefined ? undefined : Object.values(first)[0];
    }

    defaultSafeIntegers(on = true): this {
        this.bigInts = on;
        return this;
    }

    transaction<F extends (...args: never[]) => unknown>(fn: F): SqliteTransaction<F> {
        const as = (mode: string) =>
            ((...args: Parameters<F>) => {
                if (this.db.isTransaction) {
                    const name = `cocoon_savepoint_${++this.savepoints}`;
                    this.db.exec(`SAVEPOINT ${name}`);
                    try {
                        const result = fn(...args);
                        this.db.exec(`RELEASE ${name}`);
                        return result;
                    } catch (e) {
                        this.db.exec(`ROLLBACK TO ${name}`);
                        this.db.exec(`RELEASE ${name}`);
                        throw e;
                    } finally {
                        this.savepoints--;
                    }
                }
                this.db.exec(`BEGIN ${mode}`);
                try {
                    const result = fn(...args);
                    this.db.exec('COMMIT');
                    return result;
                } catch (e) {
                    if (this.db.isTransaction) this.db.exec('ROLLBACK');
                    throw e;
                }
            }) as F;
        return Object.assign(as('DEFERRED'), { deferred: as('DEFERRED'), immediate: as('IMMEDIATE'), exclusive: as('EXCLUSIVE') });
    }

    close(): void {
        if (this.db.isOpen) this.db.close();
    }
}
