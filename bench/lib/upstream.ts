import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';

/**
 * The fake OpenAI-compatible upstream of the protocol-overhead benchmark
 * (as Cocoon's own benchmark builds it): every streaming chat completion is
 * CHUNKS chunks of CHUNK_BYTES bytes of content each, written back to back,
 * then a usage chunk with a fixed usage record, then [DONE]. No model and,
 * by default, no delay: what is measured is what the protocol around it adds.
 * With `chunkDelayMs` the content chunks are paced that many ms apart, as a
 * model generating tokens would send them (the paced variant of the
 * benchmark: there the protocol's cost is set against real generation time).
 *
 * Run as a script (`upstream.ts [port] [chunkDelayMs]`) it listens on a free port of 127.0.0.1 and prints
 * `upstream listening on <url>` (the benchmark runs it in its own process,
 * so it does not share an event loop with what is measured).
 *
 * BENCH_CHUNKS sets the number of content chunks (default 50): comparing
 * runs with few and many chunks separates what a request costs once from
 * what each chunk costs.
 */

export const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 50);
export const CHUNK_BYTES = 128;
export const USAGE = { prompt_tokens: 24, completion_tokens: CHUNKS, total_tokens: 24 + CHUNKS, prompt_tokens_details: { cached_tokens: 0 } };

/** 128 bytes of ASCII text (JSON-escaping leaves it 128 bytes). */
const TEXT = 'The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. How vexingly quick daft zebras jump! '.repeat(2).slice(0, CHUNK_BYTES);
if (Buffer.byteLength(TEXT) !== CHUNK_BYTES) throw new Error('chunk text must be CHUNK_BYTES bytes');

function frame(obj: unknown): string {
    return `data: ${JSON.stringify(obj)}\n\n`;
}

/** The response body, prepared once: the upstream's own cost stays near zero. */
function streamBody(model: string): string[] {
    const base = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_700_000_000, model };
    const out = [frame({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })];
    for (let i = 0; i < CHUNKS; i++) out.push(frame({ ...base, choices: [{ index: 0, delta: { content: TEXT }, finish_reason: null }] }));
    out.push(frame({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
    out.push(frame({ ...base, choices: [], usage: USAGE }));
    out.push('data: [DONE]\n\n');
    return out;
}

export async function startBenchUpstream(port = 0, chunkDelayMs = 0): Promise<{ url: string; server: Server; close(): Promise<void> }> {
    const bodies = new Map<string, string[]>();
    const server = createServer((req, res) => {
        if (req.method === 'GET' && req.url === '/v1/models') {
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'llama-3-8b', object: 'model', owned_by: 'bench' }] }));
            return;
        }
        if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
            res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found' } }));
            return;
        }
        const parts: Buffer[] = [];
        req.on('data', (d: Buffer) => parts.push(d));
        req.on('end', () => {
            let body: { model?: string; stream?: boolean };
            try {
                body = JSON.parse(Buffer.concat(parts).toString('utf8'));
            } catch {
                res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'bad JSON' } }));
                return;
            }
            const model = String(body.model ?? 'llama-3-8b');
            let chunks = bodies.get(model);
            if (!chunks) bodies.set(model, (chunks = streamBody(model)));
            if (body.stream === false) {
                const text = TEXT.repeat(CHUNKS);
                res.writeHead(200, { 'content-type': 'application/json' }).end(
                    JSON.stringify({
                        id: 'chatcmpl-bench',
                        object: 'chat.completion',
                        created: 1_700_000_000,
                        model,
                        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
                        usage: USAGE,
                    }),
                );
                return;
            }
            res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
            // One write per chunk, as a real server flushes each token.
            if (chunkDelayMs <= 0) {
                for (const c of chunks) res.write(c);
                res.end();
                return;
            }
            // Paced: the role chunk at once, then one content chunk every chunkDelayMs; the closing chunks follow the last.
            const paced = chunks;
            res.write(paced[0]);
            let next = 1;
            const timer = setInterval(() => {
                if (res.destroyed) return clearInterval(timer);
                res.write(paced[next++]);
                if (next === 1 + CHUNKS) {
                    clearInterval(timer);
                    for (const c of paced.slice(next)) res.write(c);
                    res.end();
                }
            }, chunkDelayMs);
            res.on('close', () => clearInterval(timer));
        });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
        url,
        server,
        close: () =>
            new Promise<void>((r) => {
                server.closeAllConnections();
                server.close(() => r());
            }),
    };
}

if (require.main === module) {
    void startBenchUpstream(Number(process.argv[2] ?? 0), Number(process.argv[3] ?? 0)).then((u) => console.log(`upstream listening on ${u.url}`));
}
