import { createServer } from 'net';

/**
 * Polls `read` until `ok` holds, as a client waiting for the chain or a
 * process would. A read that throws counts as "not yet" (a server still
 * starting, an account not deployed yet).
 */
export async function eventually<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await read().catch(() => undefined as T);
        if (v !== undefined && ok(v)) return v;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 300));
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
