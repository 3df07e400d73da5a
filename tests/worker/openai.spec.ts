import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { OpenAiBackend } from '../../worker/src/inference/openai';
import { SseParser } from '../../worker/src/inference/sse';
import { BackendRequestError, BackendUnavailableError, ChatEvent, ChatRequest } from '../../worker/src/inference/types';
import { TOOL_CALLS, startUpstream as startToolUpstream } from './helpers';

/**
 * A real HTTP server that speaks the OpenAI streaming protocol the way vLLM
 * does, with switches for the behaviours the backend must survive.
 */
type Mode = 'usage' | 'no-usage' | 'kill' | 'stall' | 'slow' | 'status' | 'status-stall' | 'late-end' | 'bytewise' | 'reasoning' | 'error-event';
interface Upstream {
    server: Server;
    url: string;
    mode: Mode;
    status: number;
    requests: Array<{ headers: IncomingMessage['headers']; body: any; port: number }>;
    closedEarly: number;
}

const WORDS = ['Hello', ' there', ',', ' friend', '!'];

function chunk(delta: object, finish: string | null = null) {
    return `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

async function startUpstream(): Promise<Upstream> {
    const up: Upstream = { server: undefined as unknown as Server, url: '', mode: 'usage', status: 200, requests: [], closedEarly: 0 };
    up.server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
        if (req.url === '/v1/models') {
            if (up.status !== 200) {
                res.writeHead(up.status).end('{}');
                return;
            }
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'llama-3-8b', owned_by: 'vllm' }] }));
            return;
        }
        let raw = '';
        for await (const c of req) raw += c;
        up.requests.push({ headers: req.headers, body: JSON.parse(raw), port: req.socket.remotePort! });
        if (up.mode === 'status-stall') {
            res.writeHead(503, { 'content-type': 'application/json' }).write('{"error":'); // and nothing more
            return;
        }
        if (up.mode === 'status') {
            res.writeHead(up.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `status ${up.status} for test` } }));
            return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.on('close', () => {
            if (!res.writableEnded) up.closedEarly++;
        });
        const send = async (s: string) => {
            if (up.mode === 'bytewise') {
                for (const ch of s) {
                    res.write(ch);
                    await new Promise((r) => setImmediate(r));
                }
            } else res.write(s);
        };
        await send(chunk({ role: 'assistant', content: '' }));
        if (up.mode === 'reasoning') {
            await send(chunk({ reasoning_content: 'Let me think.' }));
            await send(chunk({ reasoning_content: ' Done.' }));
        }
        if (up.mode === 'error-event') {
            await send(chunk({ content: 'Hel' }));
            await send(`data: ${JSON.stringify({ error: { message: 'CUDA out of memory' } })}\n\n`);
            res.end();
            return;
        }
        for (let i = 0; i < WORDS.length; i++) {
            if (res.destroyed) return;
            await send(chunk({ content: WORDS[i] }));
            if (up.mode === 'kill' && i === 2) {
                await new Promise((r) => setTimeout(r, 50)); // let the chunks reach the client
                req.socket.destroy(); // the upstream dies mid-stream
                return;
            }
            if (up.mode === 'stall' && i === 2) return; // the upstream goes silent, connection open
            if (up.mode === 'slow') await new Promise((r) => setTimeout(r, 100));
        }
        await send(chunk({}, 'stop'));
        if (up.mode !== 'no-usage') {
            const usage =
                up.mode === 'reasoning'
                    ? { prompt_tokens: 20, completion_tokens: 14, total_tokens: 34, completion_tokens_details: { reasoning_tokens: 6 } }
                    : { prompt_tokens: 17, completion_tokens: 5, total_tokens: 22, prompt_tokens_details: { cached_tokens: 16 } };
            await send(`data: ${JSON.stringify({ id: 'c1', choices: [], usage })}\n\n`);
        }
        await send('data: [DONE]\n\n');
        if (up.mode === 'late-end') await new Promise((r) => setTimeout(r, 30)); // the body's end in a write of its own
        res.end();
    });
    await new Promise<void>((r) => up.server.listen(0, '127.0.0.1', () => r()));
    up.url = `http://127.0.0.1:${(up.server.address() as AddressInfo).port}`;
    return up;
}

let up: Upstream;
let backend: OpenAiBackend;

const req = (over: Partial<ChatRequest> = {}): ChatRequest => ({
    model: 'llama-3-8b',
    messages: [{ role: 'user', content: 'Say hello to my friend please.' }],
    maxTokens: 50,
    ...over,
});

async function drain(events: AsyncIterable<ChatEvent>) {
    const out: ChatEvent[] = [];
    for await (const e of events) out.push(e);
    return out;
}
const text = (evs: ChatEvent[]) => evs.map((e) => (e.type === 'delta' ? (e.content ?? '') : '')).join('');
const endOf = (evs: ChatEvent[]) => {
    const e = evs[evs.length - 1];
    if (e.type !== 'end') throw new Error('no end event');
    return e;
};

beforeAll(async () => {
    up = await startUpstream();
    backend = new OpenAiBackend({ baseUrl: up.url + '/v1/', apiKey: 'sk-upstream-secret', idleTimeoutMs: 2000 });
});
afterAll(async () => {
    up.server.closeAllConnections();
    await new Promise((r) => up.server.close(r));
});
beforeEach(() => {
    up.mode = 'usage';
    up.status = 200;
    up.requests = [];
    up.closedEarly = 0;
});

describe('SSE parser', () => {
    it('handles CRLF, multi-line data, comments and events split anywhere', () => {
        const stream = ': keepalive\r\ndata: {"a":1}\r\n\r\ndata: line1\ndata: line2\n\nevent: x\ndata: [DONE]\n\n';
        for (let cut = 0; cut <= stream.length; cut++) {
            const p = new SseParser();
            const out = [...p.push(stream.slice(0, cut)), ...p.push(stream.slice(cut)), ...p.flush()];
            expect(out).toEqual(['{"a":1}', 'line1\nline2', '[DONE]']);
        }
    });
});

describe('openai backend', () => {
    it('forces streaming with usage and reads prompt, cached and completion counts', async () => {
        const evs = await drain(backend.chatStream(req({ temperature: 0.5, stop: ['\n\n'] })));
        expect(text(evs)).toBe('Hello there, friend!');
        expect(endOf(evs)).toEqual({
            type: 'end',
            finishReason: 'stop',
            usage: { promptTokens: 17, cachedTokens: 16, completionTokens: 5, reasoningTokens: 0, estimated: false },
        });
        const sent = up.requests[0];
        expect(sent.body.stream).toBe(true);
        expect(sent.body.stream_options).toEqual({ include_usage: true });
        expect(sent.body.max_tokens).toBe(50);
        expect(sent.body.temperature).toBe(0.5);
        expect(sent.body.stop).toEqual(['\n\n']);
        expect(sent.headers.authorization).toBe('Bearer sk-upstream-secret');
    });

    it('passes penalties, logit_bias and response_format to the upstream as the OpenAI API spells them', async () => {
        const schema = { type: 'object', properties: { ok: { type: 'boolean' } } };
        await drain(
            backend.chatStream(req({ presencePenalty: 0.5, frequencyPenalty: -1, logitBias: { '50256': -100 }, responseFormat: { type: 'json_schema', name: 'verdict', schema, strict: true } })),
        );
        const sent = up.requests.at(-1)!.body;
        expect(sent.presence_penalty).toBe(0.5);
        expect(sent.frequency_penalty).toBe(-1);
        expect(sent.logit_bias).toEqual({ '50256': -100 });
        expect(sent.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'verdict', schema, strict: true } });
        await drain(backend.chatStream(req({ responseFormat: { type: 'json_object' } })));
        expect(up.requests.at(-1)!.body.response_format).toEqual({ type: 'json_object' });
        await drain(backend.chatStream(req()));
        for (const field of ['presence_penalty', 'frequency_penalty', 'logit_bias', 'response_format']) expect(up.requests.at(-1)!.body).not.toHaveProperty(field);
    });

    it('reads reasoning tokens and streams reasoning deltas separately', async () => {
        up.mode = 'reasoning';
        const c = await backend.complete(req());
        expect(c.reasoning).toBe('Let me think. Done.');
        expect(c.content).toBe('Hello there, friend!');
        expect(c.usage).toEqual({ promptTokens: 20, cachedTokens: 0, completionTokens: 14, reasoningTokens: 6, estimated: false });
    });

    it('falls back to counting chunks, marked estimated, when no usage arrives', async () => {
        up.mode = 'no-usage';
        const c = await backend.complete(req());
        expect(c.content).toBe('Hello there, friend!');
        expect(c.finishReason).toBe('stop');
        expect(c.usage.estimated).toBe(true);
        expect(c.usage.completionTokens).toBe(WORDS.length);
        expect(c.usage.promptTokens).toBeGreaterThan(0);
    });

    it('parses a stream delivered one byte at a time', async () => {
        up.mode = 'bytewise';
        const c = await backend.complete(req());
        expect(c.content).toBe('Hello there, friend!');
        expect(c.usage.estimated).toBe(false);
    });

    it('an upstream killed mid-stream ends with an error and charges only delivered chunks', async () => {
        up.mode = 'kill';
        const evs = await drain(backend.chatStream(req()));
        expect(text(evs)).toBe('Hello there,');
        const end = endOf(evs);
        expect(end.finishReason).toBe('error');
        expect(end.error).toMatch(/upstream/);
        expect(end.usage).toMatchObject({ completionTokens: 3, estimated: true });
    });

    it('an upstream gone silent mid-stream is cut after the idle timeout and charged only what it delivered', async () => {
        up.mode = 'stall';
        await new Promise((r) => setTimeout(r, 50)); // the test before's hang-up reaches the upstream
        up.closedEarly = 0;
        const quick = new OpenAiBackend({ baseUrl: up.url, idleTimeoutMs: 300 });
        const t0 = Date.now();
        const evs = await drain(quick.chatStream(req()));
        expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
        expect(text(evs)).toBe('Hello there,');
        const end = endOf(evs);
        expect(end.finishReason).toBe('error');
        expect(end.error).toBe('upstream stream broke: upstream sent nothing for 300 ms');
        expect(end.usage).toMatchObject({ completionTokens: 3, estimated: true });
        await new Promise((r) => setTimeout(r, 50));
        expect(up.closedEarly).toBe(1); // the upstream request was cancelled
    });

    it('time the caller spends between chunks does not count as the upstream idling', async () => {
        const quick = new OpenAiBackend({ baseUrl: up.url, idleTimeoutMs: 200 });
        const evs: ChatEvent[] = [];
        for await (const e of quick.chatStream(req())) {
            evs.push(e);
            if (evs.length === 1) await new Promise((r) => setTimeout(r, 500)); // a slow reader, past the idle timeout
        }
        expect(text(evs)).toBe('Hello there, friend!');
        expect(endOf(evs)).toMatchObject({ finishReason: 'stop', usage: { completionTokens: 5, estimated: false } });
    });

    it('an error event in the stream ends it as an error', async () => {
        up.mode = 'error-event';
        const end = endOf(await drain(backend.chatStream(req())));
        expect(end.finishReason).toBe('error');
        expect(end.error).toMatch(/CUDA out of memory/);
        expect(end.usage.completionTokens).toBe(1);
    });

    it('abort stops the upstream and reports what was delivered', async () => {
        up.mode = 'slow';
        const ac = new AbortController();
        const evs: ChatEvent[] = [];
        for await (const e of backend.chatStream(req(), { signal: ac.signal })) {
            evs.push(e);
            if (e.type === 'delta' && evs.length === 2) ac.abort();
        }
        const end = endOf(evs);
        expect(end.finishReason).toBe('aborted');
        expect(end.usage.completionTokens).toBe(2);
        await new Promise((r) => setTimeout(r, 300));
        expect(up.closedEarly).toBe(1); // the upstream saw the connection go
    });

    it('a consumer that stops iterating also closes the upstream', async () => {
        up.mode = 'slow';
        for await (const e of backend.chatStream(req())) if (e.type === 'delta') break;
        await new Promise((r) => setTimeout(r, 300));
        expect(up.closedEarly).toBe(1);
    });

    it('maps upstream refusals: 404 unknown model, 400 bad request, 5xx and unreachable = unavailable', async () => {
        up.mode = 'status';
        up.status = 404;
        await expect(drain(backend.chatStream(req()))).rejects.toMatchObject({ status: 404 });
        up.status = 400;
        const e400 = await drain(backend.chatStream(req())).catch((e) => e);
        expect(e400).toBeInstanceOf(BackendRequestError);
        expect(e400.message).toMatch(/status 400 for test/);
        up.status = 503;
        await expect(drain(backend.chatStream(req()))).rejects.toBeInstanceOf(BackendUnavailableError);
        const dead = new OpenAiBackend({ baseUrl: 'http://127.0.0.1:1' });
        await expect(drain(dead.chatStream(req()))).rejects.toBeInstanceOf(BackendUnavailableError);
        expect((await dead.health()).ok).toBe(false);
    });

    it('a refusal whose body stalls is given up at the connect timeout, not waited on for ever', async () => {
        up.mode = 'status-stall';
        const quick = new OpenAiBackend({ baseUrl: up.url, connectTimeoutMs: 300 });
        const e = await drain(quick.chatStream(req())).catch((x) => x);
        expect(e).toBeInstanceOf(BackendUnavailableError);
        expect(e.message).toBe('upstream answered 503');
    });

    it('after [DONE] the rest of the body is read, so the next request reuses the connection', async () => {
        up.mode = 'late-end';
        expect((await backend.complete(req())).content).toBe('Hello there, friend!');
        await new Promise((r) => setTimeout(r, 100));
        expect((await backend.complete(req())).content).toBe('Hello there, friend!');
        expect(up.requests.map((r) => r.port)).toEqual([up.requests[0].port, up.requests[0].port]);
        expect(up.closedEarly).toBe(0);
    });

    it('lists models and reports health from /v1/models', async () => {
        expect(await backend.listModels()).toEqual([{ id: 'llama-3-8b', aliases: [], ownedBy: 'vllm' }]);
        expect(await backend.health()).toMatchObject({ ok: true });
        up.status = 500;
        expect(await backend.health()).toMatchObject({ ok: false });
    });

    it('maps advertised ids to upstream names and refuses unmapped ones', async () => {
        const mapped = new OpenAiBackend({ baseUrl: up.url, modelMap: { 'sha256:abcd': 'llama-3-8b' } });
        expect(await mapped.listModels()).toEqual([{ id: 'sha256:abcd', aliases: ['llama-3-8b'], ownedBy: 'cocoon-worker' }]);
        const c = await mapped.complete(req({ model: 'sha256:abcd' }));
        expect(c.content).toBe('Hello there, friend!');
        expect(up.requests[0].body.model).toBe('llama-3-8b');
        await expect(mapped.complete(req({ model: 'llama-3-8b' }))).rejects.toMatchObject({ status: 404 });
    });
});

describe('openai backend: tool calling', () => {
    it('sends tools, tool_choice, parallel_tool_calls and tool history as OpenAI spells them; streams the call pieces and ends with tool_calls', async () => {
        const tools = await startToolUpstream();
        const b = new OpenAiBackend({ baseUrl: tools.url, idleTimeoutMs: 2000 });
        try {
            const weather = { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } };
            const history: ChatRequest['messages'] = [
                { role: 'user', content: 'Weather?' },
                { role: 'assistant', content: '', toolCalls: [{ id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
                { role: 'tool', content: 'rain', toolCallId: 'call_0' },
                { role: 'user', content: 'And Paris?' },
            ];
            const evs = await drain(b.chatStream(req({ messages: history, tools: [weather], toolChoice: { name: 'get_weather' }, parallelToolCalls: true })));
            const sent = tools.requests.at(-1);
            expect(sent.tools).toEqual([{ type: 'function', function: weather }]);
            expect(sent.tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
            expect(sent.parallel_tool_calls).toBe(true);
            expect(sent.messages[1]).toEqual({ role: 'assistant', content: null, tool_calls: history[1].toolCalls });
            expect(sent.messages[2]).toEqual({ role: 'tool', content: 'rain', tool_call_id: 'call_0' });
            const pieces = evs.flatMap((e) => (e.type === 'delta' ? (e.toolCalls ?? []) : []));
            expect(pieces[0]).toEqual({ index: 0, id: 'call_weather', name: 'get_weather', arguments: '' });
            const joined = [0, 1].map((i) =>
                pieces
                    .filter((p) => p.index === i)
                    .map((p) => p.arguments ?? '')
                    .join(''),
            );
            expect(joined).toEqual(TOOL_CALLS.map((c) => c.arguments));
            expect(endOf(evs)).toMatchObject({ finishReason: 'tool_calls', usage: { completionTokens: 4, estimated: false } });
        } finally {
            await tools.close();
        }
    });
});
