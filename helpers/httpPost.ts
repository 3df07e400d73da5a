import { Agent as HttpAgent, IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * An HTTP POST whose answer is read as it arrives, over node:http with
 * connections kept alive. It takes fetch's place where every request
 * streams an answer (the worker reading its upstream, the gateway reading a
 * worker, the gateway's vouchers): fetch carries each piece of a body
 * through WHATWG streams and promises, which cost about twice node:http's
 * CPU per 50-chunk answer on the 2-core reference machine (1.65 ms more per
 * answer, client side), and that CPU is what bounds throughput there.
 *
 * Like fetch it rejects when the connection cannot be made or `signal`
 * aborts (with the signal's reason), and never follows a redirect (a worker
 * or an upstream that answers 3xx is refused as any other status is).
 */
export interface HttpAnswer {
    readonly status: number;
    header(name: string): string | undefined;
    /** The body's next piece as it arrived, null at its end; rejects when the connection breaks or `signal` aborts (and again at every read after). */
    read(): Promise<Buffer | null>;
    /** The rest of the body. */
    bytes(): Promise<Buffer>;
    text(): Promise<string>;
    json(): Promise<unknown>;
    /** Stops reading: the connection is closed, not reused. */
    cancel(): void;
    /** Done with the answer: the rest of its body is read in the background, so that the connection is reused; cancelled if it does not end within 5 s. */
    release(): void;
}

export interface HttpPostInit {
    headers?: Record<string, string>;
    body: string | Uint8Array;
    signal?: AbortSignal;
}

// An idle kept-alive connection is closed after 4 s (or 1 s before the server's announced keep-alive timeout, if
// sooner), before a server's usual 5 s, so that a request is not sent on a connection the server is closing.
// It limits only idle connections: an answer in progress is never cut by it.
const agents = { 'http:': new HttpAgent({ keepAlive: true, timeout: 4_000 }), 'https:': new HttpsAgent({ keepAlive: true, timeout: 4_000 }) };

const RELEASE_MS = 5_000;

function abortReason(signal: AbortSignal): Error {
    return signal.reason instanceof Error ? signal.reason : new DOMException('This operation was aborted', 'AbortError');
}

export function httpPost(url: string, init: HttpPostInit): Promise<HttpAnswer> {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return Promise.reject(new TypeError(`not an http(s) URL: ${url}`));
    const { signal } = init;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const body = typeof init.body === 'string' ? Buffer.from(init.body, 'utf8') : init.body;
    const protocol = u.protocol;
    return new Promise((resolve, reject) => {
        const send = protocol === 'https:' ? httpsRequest : httpRequest;
        const request = send(u, { method: 'POST', agent: agents[protocol], headers: { ...init.headers, 'content-length': String(body.length) } });
        let response: IncomingMessage | undefined;
        const onAbort = () => {
            const reason = abortReason(signal!);
            response?.destroy(reason);
            request.destroy(reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        const detach = () => signal?.removeEventListener('abort', onAbort);
        // Before the answer this rejects; after it, the answer's own read rejects (and this is a no-op).
        request.on('error', (e) => {
            detach();
            reject(e);
        });
        request.on('response', (res) => {
            response = res;
            res.on('close', detach);
            resolve(answerOf(res));
        });
        request.end(body);
    });
}

function answerOf(res: IncomingMessage): HttpAnswer {
    const pieces = res[Symbol.asyncIterator]();
    let broken: unknown;
    const read = async (): Promise<Buffer | null> => {
        // A broken body stays broken: a read after the failure fails again rather than reading as its end.
        if (broken !== undefined) throw broken;
        try {
            const step = await pieces.next();
            return step.done ? null : (step.value as Buffer);
        } catch (e) {
            broken = e;
            throw e;
        }
    };
    const bytes = async (): Promise<Buffer> => {
        const parts: Buffer[] = [];
        for (let piece = await read(); piece !== null; piece = await read()) parts.push(piece);
        return Buffer.concat(parts);
    };
    return {
        status: res.statusCode ?? 0,
        header: (name) => {
            const v = res.headers[name.toLowerCase()];
            return Array.isArray(v) ? v.join(', ') : v;
        },
        read,
        bytes,
        text: async () => (await bytes()).toString('utf8'),
        json: async () => JSON.parse((await bytes()).toString('utf8')) as unknown,
        cancel: () => void res.destroy(),
        release: () => {
            const limit = setTimeout(() => res.destroy(), RELEASE_MS).unref();
            void (async () => {
                try {
                    while ((await read()) !== null);
                } catch {
                    /* broken after the caller was done with it: nothing to report */
                } finally {
                    clearTimeout(limit);
                }
            })();
        },
    };
}
