import type { ZodError } from 'zod';
import { Operation, RefusalKind, refusalCode, refusalStatus } from './http/errors';

export type { Operation, RefusalKind } from './http/errors';

/**
 * A request the worker will not serve or answer: nothing was served and
 * nothing charged. It names what went wrong by kind (and, where that
 * changes the answer, what the worker was asked to do); the HTTP status and
 * the error code a client sees come from worker/src/http/errors.ts.
 *
 * Messages never repeat request content (they reach logs and clients).
 */
export class Refusal extends Error {
    readonly kind: RefusalKind;
    readonly during?: Operation;
    /** Seconds after which trying again may succeed. */
    readonly retryAfter?: number;

    constructor(kind: RefusalKind, message: string, o: { during?: Operation; retryAfter?: number } = {}) {
        super(message);
        this.name = 'Refusal';
        this.kind = kind;
        this.during = o.during;
        this.retryAfter = o.retryAfter;
    }

    /** The HTTP status the client gets, for callers outside the HTTP layer (the claimer's logs, tests). */
    get status(): number {
        return refusalStatus(this.kind, this.during);
    }

    /** The error code the client gets. */
    get code(): string {
        return refusalCode(this.kind, this.during);
    }

    /** The same refusal, with a time after which trying again may succeed. */
    retryableAfter(seconds: number): Refusal {
        return new Refusal(this.kind, this.message, { during: this.during, retryAfter: seconds });
    }

    /**
     * The first problem of a failed schema parse, as a refusal: each check
     * carries the message the client gets; `kindOf` says what a problem with
     * a given field is (a bad signature header is unauthorised, not malformed).
     */
    static fromIssues(error: ZodError, kindOf: (field: string) => RefusalKind, during?: Operation): Refusal {
        const issue = error.issues[0];
        return new Refusal(kindOf(String(issue?.path[0] ?? '')), issue?.message ?? 'invalid input', { during });
    }
}
