import { createServer } from 'net';

/** Raised by `pollUntil` when the condition did not hold in time. */
export class PollTimeout extends Error {
    constructor(readonly what: string) {
        super(`timed out waiting for ${what}`);
        this.name = 'PollTimeout';
    }
}

export interface PollOptions {
    /** Give up after this long (default 60 s). */
    timeoutMs?: number;
    /** Wait between reads (default 300 ms). */
    intervalMs?: number;
    /** Called before each wait, with the number of reads so far (progress for a UI). */
    onWait?: (reads: number) => void;
}

/**
 * Reads until `ok` holds, as anything waiting for the chain or a process
 * does: the chain shows a transaction only some blocks after it was sent.
 * A read that throws counts as "not yet" (a server still starting, an
 * account not deployed yet). Returns the value that satisfied `ok`.
 */
export async function pollUntil<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, options: PollOptions = {}): Promise<T> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (let reads = 1; ; reads++) {
        const v = await read().catch(() => undefined as T);
        if (v !== undefined && ok(v)) return v;
        if (Date.now() > deadline) throw new PollTimeout(what);
        options.onWait?.(reads);
        await new Promise((r) => setTimeout(r, options.intervalMs ?? 300));
    }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
    return new Promise((resolve) => {
        const s = createServer();
        s.listen(0, '127.0.0.1', () => {
            const port = (s.address() as { port: number }).port;
            s.close(() => resolve(port));
        });
    });
}
