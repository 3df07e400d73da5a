import { SqliteDatabase, openSqlite } from './sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Opening a SQLite ledger (the worker's store, the client's store): the
 * directory made owner-only, WAL with `synchronous = FULL` (a commit is
 * fsync'd before it returns), and the schema brought to the newest version
 * by numbered migrations.
 *
 * The schema version is SQLite's `PRAGMA user_version`: it lives in the
 * database header, so setting it inside a migration's transaction commits
 * (or rolls back) together with the migration. A migration therefore runs
 * exactly once, and a crash mid-migration leaves the previous version whole.
 *
 * A database at a version newer than the code knows is refused: an older
 * program would read and write money records by rules that no longer hold.
 *
 * Ledgers written before they carried a version have user_version 0. Their
 * version is read from the tables and indexes they have (`unversioned`). The
 * code of that time created its schema with one statement per autocommit, so
 * a crash on a first open could leave only part of it: such a database counts
 * as the highest version it has all of, and the migrations of the versions
 * shipped before versioning must use `IF NOT EXISTS`, so that running them
 * over a part of their own schema completes it.
 */

export interface Migration {
    /** The version this migration brings the ledger to: 1 for the first, then 2, 3, ... without gaps. */
    version: number;
    /** What it changes (shown if it fails). */
    description: string;
    /**
     * SQL run as one script, or a function; either way inside the migration's
     * transaction (so pragmas that cannot change inside one, such as
     * journal_mode or foreign_keys, have no effect here).
     */
    up: string | ((db: SqliteDatabase) => void);
}

export interface LedgerSpec {
    /** What the ledger is, for error messages ("worker store"). */
    what: string;
    migrations: readonly Migration[];
    /**
     * Recognising a database written before versioning: for each version
     * shipped unversioned, the names of every table and index its code
     * created. `alsoKnown` names objects that code made only on demand (so a
     * database may or may not have them). A database holding anything else
     * is refused as not this kind of ledger (a path mixed up with another
     * program's database must not be written to).
     */
    unversioned?: { objects: Readonly<Record<number, readonly string[]>>; alsoKnown?: readonly string[] };
    /** Read INTEGER columns as BigInt (better-sqlite3 `defaultSafeIntegers`). */
    safeIntegers?: boolean;
    /** Further pragmas, set after journal_mode and synchronous and before migrating ("foreign_keys = ON"). */
    pragmas?: readonly string[];
    /** Mode of the directories created for the file (default 0700: a ledger holds signed money records). */
    dirMode?: number;
}

export class LedgerError extends Error {
    constructor(message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = 'LedgerError';
    }
}

/** The newest schema version the migrations reach (0 if there are none). */
export function latestVersion(spec: Pick<LedgerSpec, 'migrations'>): number {
    return spec.migrations.length;
}

/** The schema version recorded in the database (`PRAGMA user_version`). */
export function schemaVersion(db: SqliteDatabase): number {
    return Number(db.pragma('user_version', { simple: true }));
}

function checkMigrations(spec: LedgerSpec): void {
    spec.migrations.forEach((m, i) => {
        if (m.version !== i + 1) throw new LedgerError(`${spec.what}: migration ${i + 1} is numbered ${m.version}; migrations are numbered 1, 2, 3, ... in order`);
    });
}

function tooNew(path: string, spec: LedgerSpec, version: number): LedgerError {
    return new LedgerError(
        `${path}: this ${spec.what} is at schema version ${version}, newer than this program knows (${latestVersion(spec)}); ` +
            `it was written by a newer release: run that release (or a later one) on it, never an older one`,
    );
}

/** Tables and indexes the database holds, SQLite's own (sqlite_sequence, autoindexes) left out. */
function schemaObjects(db: SqliteDatabase): Set<string> {
    const rows = db.prepare(`SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`).all() as Array<{ name: string }>;
    return new Set(rows.map((r) => r.name));
}

/**
 * The version a database is at: its user_version, or for one written before
 * versioning the highest unversioned version whose objects it all has
 * (0 for an empty database).
 */
function currentVersion(db: SqliteDatabase, path: string, spec: LedgerSpec): number {
    const recorded = schemaVersion(db);
    if (recorded !== 0) return recorded;
    const present = schemaObjects(db);
    if (present.size === 0) return 0;
    const versions = Object.entries(spec.unversioned?.objects ?? {}).map(([v, names]) => ({ version: Number(v), names }));
    const known = new Set([...versions.flatMap((v) => v.names), ...(spec.unversioned?.alsoKnown ?? [])]);
    const foreign = [...present].filter((n) => !known.has(n));
    if (foreign.length > 0) throw new LedgerError(`${path} is not a ${spec.what}: it has no schema version and holds ${foreign.map((n) => `"${n}"`).join(', ')}, which no ${spec.what} ever had`);
    let version = 0;
    for (const v of versions) if (v.version > version && v.names.every((n) => present.has(n))) version = v.version;
    return version;
}

/**
 * Opens (creating if needed) the ledger at `path` and migrates it to the
 * newest version. Throws LedgerError for a database newer than the code or
 * not of this kind, closing it first.
 */
export function openLedger(path: string, spec: LedgerSpec): SqliteDatabase {
    checkMigrations(spec);
    const latest = latestVersion(spec);
    if (path !== ':memory:' && path !== '') mkdirSync(dirname(path), { recursive: true, mode: spec.dirMode ?? 0o700 });
    const db = openSqlite(path);
    try {
        if (spec.safeIntegers) db.defaultSafeIntegers(true);
        // Refused before any pragma below writes to it (journal_mode = WAL does).
        const recorded = schemaVersion(db);
        if (recorded > latest) throw tooNew(path, spec, recorded);
        if (recorded === 0) currentVersion(db, path, spec); // likewise a database of another kind
        db.pragma('journal_mode = WAL');
        // FULL: fsync at every commit, so a committed write survives power loss.
        db.pragma('synchronous = FULL');
        for (const p of spec.pragmas ?? []) db.pragma(p);
        if (recorded !== latest) migrate(db, path, spec);
        return db;
    } catch (e) {
        db.close();
        throw e;
    }
}

function migrate(db: SqliteDatabase, path: string, spec: LedgerSpec): void {
    const latest = latestVersion(spec);
    // One transaction per migration, each re-reading the version under the
    // write lock (BEGIN IMMEDIATE): a second process opening the same file at
    // the same moment waits, then finds the work done instead of repeating it.
    for (;;) {
        const done = db
            .transaction((): boolean => {
                const version = currentVersion(db, path, spec);
                if (version > latest) throw tooNew(path, spec, version);
                if (version === latest) {
                    // An unversioned database already complete gets its number.
                    if (schemaVersion(db) !== version) db.pragma(`user_version = ${version}`);
                    return true;
                }
                const m = spec.migrations[version];
                try {
                    if (typeof m.up === 'string') db.exec(m.up);
                    else m.up(db);
                } catch (e) {
                    throw new LedgerError(`${path}: ${spec.what} migration to version ${m.version} (${m.description}) failed: ${(e as Error).message}`, { cause: e });
                }
                db.pragma(`user_version = ${m.version}`);
                return false;
            })
            .immediate();
        if (done) return;
    }
}
