import { Agent, request } from 'node:http';
import fc from 'fast-check';

/**
 * Shared generators and helpers of the fuzz suites. `FUZZ_RUNS` scales every
 * property's run count (the default keeps tests/fuzz/ near two minutes on
 * two cores; set e.g. FUZZ_RUNS=2000 for the long, opt-in variant).
 */
export function runs(base: number): number {
    const n = Number(process.env.FUZZ_RUNS);
    return Number.isFinite(n) && n > 0 ? Math.max(base, Math.round(n * (base / 100))) : base;
}

/** Seeded when FUZZ_SEED is set, so a failure can be replayed exactly. */
export function params(base: number): fc.Parameters<unknown> {
    const seed = Number(process.env.FUZZ_SEED);
    return { numRuns: runs(base), ...(Number.isFinite(seed) && process.env.FUZZ_SEED ? { seed } : {}), endOnFailure: true };
}

/** Malformed JSON text: truncations and syntax errors of real-looking JSON. */
export const malformedJson = fc.oneof(
    fc.json().map((j) => j.slice(0, Math.max(0, j.length - 1)) + '{'),
    fc.constantFrom('{', '}', '{"a":}', '[1,2', '{"model": "x",}', 'nul', 'tru', '{"a" 1}', "{'a': 1}", '\u0000', '{"a":"\\u12"}', 'NaN', '1e999999', '--1'),
    fc.string({ maxLength: 200 }).map((s) => '{' + s),
);

/** Any JSON value, deep and shallow, including the wrong top-level types. */
export const anyJson = fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom(null, [], {}, '', 0, -1, true, 'null', 1e308, -0));

/** Values of the wrong type for any field. */
export const wrongValue = fc.oneof(
    fc.constantFrom(null, true, false, 0, -1, 1.5, 1e300, -1e300, '', ' ', '0', 'null', '-1', '1e3', '0x10', [], {}, [null], { a: 1 }),
    fc.string({ maxLength: 50 }),
    fc.integer(),
    fc.double(),
    fc.jsonValue({ maxDepth: 2 }),
);

/** A generated value as text: objects and arrays as JSON (String() throws on a generated object whose `toString` or `valueOf` key is not a function). */
export const textOf = (v: unknown): string => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));

/** Bytes that are not valid UTF-8 (lone continuation bytes, overlongs, surrogates, truncated sequences). */
export const invalidUtf8 = fc
    .tuple(
        fc.uint8Array({ maxLength: 40 }),
        fc.constantFrom([0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xff], [0xfe, 0xff]),
        fc.uint8Array({ maxLength: 40 }),
    )
    .map(([a, bad, b]) => Buffer.concat([Buffer.from('{"model":"'), Buffer.from(a), Buffer.from(bad), Buffer.from(b), Buffer.from('"}')]));

/** Header values a client might send by mistake (all legal on the wire). */
export const contentTypes = fc.constantFrom(
    undefined,
    'application/json',
    'application/json; charset=latin1',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    'application/vnd.cocoon.hpke.v1',
    'application/vnd.cocoon.hpke.v1; charset=utf-8',
    'APPLICATION/VND.COCOON.HPKE.V1',
    'application/xml',
    '*/*',
    'application/json; charset=utf-16',
    'garbage',
);

/**
 * Flips each distinct bit position once (positions wrap at the buffer's
 * length): flipping one bit twice would give back the original, which is no
 * forgery at all.
 */
export function flipBits(buf: Buffer, positions: number[]): Buffer {
    const out = Buffer.from(buf);
    for (const bit of new Set(positions.map((p) => p % (out.length * 8)))) {
        out[bit >> 3] ^= 1 << (bit & 7);
    }
    return out;
}

export interface RawAnswer {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
}

/**
 * A request over a real socket, with full control of headers and body
 * (fetch would refuse or rewrite some of them). Resolves with the answer,
 * or with status 0 when the server closed the connection without one
 * (what Node does for a body over the limit once it has answered 413).
 */
export function rawRequest(url: string, o: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | Buffer[]; keepAlive?: boolean }): Promise<RawAnswer> {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
        const req = request({ host: u.hostname, port: u.port, method: o.method ?? 'POST', path: o.path, headers: o.headers, agent: o.keepAlive ? keepAlive : undefined }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
            res.on('error', reject);
        });
        req.on('error', (e: NodeJS.ErrnoException) => {
            // The server may answer early (413) and reset the upload: that is an answer, not a crash.
            if (e.code === 'ECONNRESET' || e.code === 'EPIPE') resolve({ status: 0, headers: {}, body: Buffer.alloc(0) });
            else reject(e);
        });
        const parts = o.body === undefined ? [] : Array.isArray(o.body) ? o.body : [o.body];
        for (const p of parts) req.write(p);
        req.end();
    });
}

// Fastify's inject (light-my-request) cannot load under Jest (an ESM-only
// dependency), so the fuzzers use loopback HTTP on a kept-alive connection.
const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });

export interface Answer {
    statusCode: number;
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
    json(): any;
}

/** An inject-like call over loopback: `payload` a string or bytes, sent as is. */
export async function call(base: string, o: { method?: string; url: string; headers?: Record<string, string>; payload?: Buffer | string }): Promise<Answer> {
    const body = o.payload === undefined ? undefined : Buffer.isBuffer(o.payload) ? o.payload : Buffer.from(o.payload, 'utf8');
    const r = await rawRequest(base, { method: o.method ?? 'GET', path: o.url, headers: o.headers, body, keepAlive: true });
    return { statusCode: r.status, headers: r.headers, body: r.body, json: () => JSON.parse(r.body.toString('utf8')) };
}

/**
 * The routes a Fastify app serves, as "METHOD /path" (HEAD left out). The
 * suites compare it with the routes they fuzz, so a route added later fails
 * the suite until it is fuzzed too.
 */
export function routesOf(app: { printRoutes(o: { commonPrefix: boolean }): string }): string[] {
    const out: string[] = [];
    // The tree prints each route under its parent (4 columns a level) by the part of the path it adds.
    const stack: string[] = [];
    for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
        const m = /^([│ ├└─]*)(\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
        if (!m) continue;
        const depth = Math.floor(m[1].length / 4);
        stack.length = depth;
        // A wildcard child prints without the slash before it (`/v1/models` then `*` for `/v1/models/*`).
        stack.push(m[2] === '*' && depth > 0 && !stack[depth - 1].endsWith('/') ? '/*' : m[2]);
        const path = stack.join('');
        if (!m[3]) continue;
        for (const method of m[3].split(',').map((x) => x.trim())) if (method !== 'HEAD') out.push(`${method} ${path}`);
    }
    return out.sort();
}
