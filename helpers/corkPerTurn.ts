import type { Writable } from 'node:stream';

/**
 * Streamed frames written in the same event-loop turn leave in one syscall:
 * the returned function corks `stream` on the first write of a turn and
 * uncorks it at the turn's end (setImmediate), so no frame waits longer than
 * that. Used by the worker's and the gateway's SSE streams.
 */
export function corkPerTurn(stream: Writable): () => void {
    let corked = false;
    return () => {
        if (corked) return;
        corked = true;
        stream.cork();
        setImmediate(() => {
            corked = false;
            stream.uncork();
        });
    };
}
