import type { SqliteDatabase } from '../../../helpers/sqlite';
import { LedgerSpec, Migration, openLedger } from '../../../helpers/ledger';
import type { ChatMessageInput } from '../../../protocol/paidRequest';

/**
 * Responses the gateway keeps for `previous_response_id` and
 * `GET /v1/responses/{id}` (SQLite beside the client ledger, in a file of its
 * own: it holds conversations, which the money ledger never does). Only this
 * gateway stores them; a worker sees each request once, sealed, and keeps
 * nothing of it. A request with `store: false` is not kept.
 */

const MIGRATIONS: readonly Migration[] = [
    {
        version: 1,
        description: 'responses',
        up: `
            CREATE TABLE responses (
                id TEXT PRIMARY KEY, created_at INTEGER NOT NULL,
                -- The Response object as the app got it.
                response TEXT NOT NULL,
                -- The conversation up to and including this response's output, as chat messages (instructions not included: they do not carry over).
                history TEXT NOT NULL);
        `,
    },
];

const SPEC: LedgerSpec = { what: 'response store', migrations: MIGRATIONS, dirMode: 0o700 };

export interface StoredResponse {
    response: Record<string, unknown>;
    history: ChatMessageInput[];
}

export class ResponseStore {
    private constructor(private readonly db: SqliteDatabase) {}

    /** Opens (creating) the store at `path`; ':memory:' keeps it for this process only. */
    static open(path: string): ResponseStore {
        return new ResponseStore(openLedger(path, SPEC));
    }

    put(id: string, stored: StoredResponse): void {
        this.db
            .prepare('INSERT INTO responses (id, created_at, response, history) VALUES (?, ?, ?, ?)')
            .run(id, Math.floor(Date.now() / 1000), JSON.stringify(stored.response), JSON.stringify(stored.history));
    }

    get(id: string): StoredResponse | undefined {
        const row = this.db.prepare('SELECT response, history FROM responses WHERE id = ?').get(id) as { response: string; history: string } | undefined;
        return row ? { response: JSON.parse(row.response), history: JSON.parse(row.history) } : undefined;
    }

    /** True when there was one to delete. */
    delete(id: string): boolean {
        return Number(this.db.prepare('DELETE FROM responses WHERE id = ?').run(id).changes) > 0;
    }

    close(): void {
        this.db.close();
    }
}
