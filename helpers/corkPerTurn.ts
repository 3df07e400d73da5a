import type { Writable } from 'node:stream';

/** Corks a stream for the rest of the event-loop turn; `flush()` uncorks it now. */
export interface TurnCork {
    (): void;
    /**
     * Uncorks at once. Call it before `end()`: on Node.js 24 an HTTP response
     * ended while corked drops what the cork held (the last frames, with the
     * receipt).
     */
    flush(): void;
}

/**
 * Streamed frames written in the same event-loop turn leave in one syscall:
 * the returned function corks `stream` on the first write of a turn and
 * uncorks it at the turn's end (setImmediate), so no frame waits longer than
 * that. Used by the worker's and the gateway's SSE streams.
 */
export function corkPerTurn(stream: Writable): TurnCork {
    let corked = false;
    const uncork = () => {
        if (!corked) return;
        corked = false;
        stream.uncork();
    };
    const cork = (() => {
        if (corked) return;
        corked = true;
        stream.cork();
        setImmediate(uncork);
    }) as TurnCork;
    cork.flush = uncork;
    return cork;
}
