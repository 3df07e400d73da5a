import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEngine, defaultSqliteEngine, openSqlite } from '../../helpers/sqlite';

/**
 * Both SQLite engines give the ledgers the same results. Each runs where it
 * can: better-sqlite3 before Node.js 24, node:sqlite from 22.13 on (CI runs
 * the ledger suites on Node 20 and on Node 24).
 */
const major = Number(process.versions.node.split('.')[0]);
const engines: SqliteEngine[] = [...(major < 24 ? (['better-sqlite3'] as const) : []), ...(process.getBuiltinModule?.('node:sqlite') ? (['node:sqlite'] as const) : [])];

it('chooses node:sqlite from Node.js 24 on, better-sqlite3 before, and what COCOON_SQLITE names', () => {
    expect(defaultSqliteEngine({}, '20.20.2')).toBe('better-sqlite3');
    expect(defaultSqliteEngine({}, '22.21.0')).toBe('better-sqlite3');
    expect(defaultSqliteEngine({}, '24.21.0')).toBe('node:sqlite');
    expect(defaultSqliteEngine({ COCOON_SQLITE: 'better-sqlite3' }, '24.21.0')).toBe('better-sqlite3');
    expect(() => defaultSqliteEngine({ COCOON_SQLITE: 'sqlite3' }, '24.21.0')).toThrow(/COCOON_SQLITE must be better-sqlite3 or node:sqlite/);
});

describe.each(engines)('%s', (engine) => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'cocoon-sqlite-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('reads integers as BigInt when asked, BLOBs as Buffer, rows as plain objects; pragmas simple or whole', () => {
        const db = openSqlite(join(dir, 'a.db'), { engine }).defaultSafeIntegers(true);
        expect(db.pragma('journal_mode = WAL', { simple: true })).toBe('wal');
        db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, total INTEGER NOT NULL, sig BLOB)');
        const info = db.prepare('INSERT INTO t (total, sig) VALUES (?, ?)').run(2n ** 62n, Buffer.from([1, 2, 3]));
        expect(BigInt(info.changes)).toBe(1n);
        expect(BigInt(info.lastInsertRowid)).toBe(1n);
        const row = db.prepare('SELECT total, sig FROM t WHERE id = ?').get(1n) as { total: bigint; sig: Buffer };
        expect(row.total).toBe(2n ** 62n);
        expect(Buffer.isBuffer(row.sig)).toBe(true);
        expect(row.sig.equals(Buffer.from([1, 2, 3]))).toBe(true);
        expect(Object.getPrototypeOf(row)).not.toBeNull(); // a plain object (node:sqlite's own rows have none)
        expect(db.prepare('SELECT id FROM t WHERE id = ?').get(9n)).toBeUndefined();
        expect(db.pragma('user_version')).toEqual([{ user_version: 0n }]);
        db.close();
        expect(db.open).toBe(false);
    });

    it('commits a transaction that returns, rolls back one that throws, and nests with savepoints', () => {
        const db = openSqlite(join(dir, 'b.db'), { engine });
        db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
        const put = db.prepare('INSERT INTO t (k) VALUES (?)');
        const count = () => (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
        db.transaction((k: string) => put.run(k)).immediate('a');
        expect(count()).toBe(1);
        expect(() =>
            db.transaction(() => {
                put.run('b');
                throw new Error('no');
            })(),
        ).toThrow('no');
        expect(count()).toBe(1);
        db.transaction(() => {
            put.run('c');
            expect(db.inTransaction).toBe(true);
            expect(() =>
                db.transaction(() => {
                    put.run('d');
                    throw new Error('inner');
                })(),
            ).toThrow('inner');
        })();
        expect(count()).toBe(2);
        expect(db.inTransaction).toBe(false);
        db.close();
    });

    it('names constraint failures as better-sqlite3 does, and opens read-only', () => {
        const file = join(dir, 'c.db');
        const db = openSqlite(file, { engine });
        db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
        db.prepare('INSERT INTO t (k) VALUES (?)').run('a');
        let code: string | undefined;
        try {
            db.prepare('INSERT INTO t (k) VALUES (?)').run('a');
        } catch (e) {
            code = (e as { code?: string }).code;
        }
        expect(code).toBe('SQLITE_CONSTRAINT_PRIMARYKEY');
        db.close();
        const ro = openSqlite(file, { engine, readonly: true });
        expect(() => ro.prepare('INSERT INTO t (k) VALUES (?)').run('b')).toThrow();
        expect((ro.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n).toBe(1);
        ro.close();
        expect(() => openSqlite(join(dir, 'missing.db'), { engine, readonly: true })).toThrow();
    });
});
