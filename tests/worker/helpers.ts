import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Address, Contract, OpenedContract } from '@ton/core';
import { Blockchain } from '@ton/sandbox';
import { ENVELOPE_MEDIA_TYPE, ResponseOpener } from '../../helpers/hpke';
import { PaidRequest, encodeVoucher, openSseFrames, sealPaidRequest } from '../../protocol/paidRequest';
import { signVoucher } from '../../wrappers/voucher';
import type { ContractOpener } from '../../wrappers/toncenter';

/** Contracts opened on a sandbox chain, as the worker opens them on a TonClient. */
export function sandboxOpener(blockchain: Blockchain): ContractOpener {
    return {
        open: <T extends Contract>(c: T) => blockchain.openContract(c) as unknown as OpenedContract<T>,
        isDeployed: async (a: Address) => (await blockchain.getContract(a)).accountState?.type === 'active',
        now: async () => blockchain.now ?? Math.floor(Date.now() / 1000),
    };
}

/**
 * A real HTTP server speaking the OpenAI streaming protocol like vLLM:
 * words one chunk each, then a usage chunk (prompt 11, cached 3,
 * completion = words sent), then [DONE]. Modes switch failure behaviours.
 */
export type UpstreamMode = 'usage' | 'kill' | 'slow' | 'crawl' | 'down';
export interface Upstream {
    url: string;
    mode: UpstreamMode;
    requests: any[];
    close(): Promise<void>;
}

export const WORDS = ['Hello', ' there', ',', ' friend', '!'];
/** Tokens the upstream counts for each input it embeds, and the vector it answers for the input at `index`. */
export const UPSTREAM_EMBEDDING_TOKENS = 2;
export function upstreamEmbedding(index: number): number[] {
    return [0.125 * index, 0.25, -0.5, 1 / 3];
}
export const UPSTREAM_PROMPT_TOKENS = 11;
export const UPSTREAM_CACHED_TOKENS = 3;

/**
 * What the upstream answers to a request that offers tools: two calls, the
 * first one's arguments streamed in two pieces (one call when
 * parallel_tool_calls is false), finish reason tool_calls.
 */
export const TOOL_CALLS = [
    { id: 'call_weather', name: 'get_weather', arguments: '{"city":"Paris"}' },
    { id: 'call_time', name: 'get_time', arguments: '{}' },
];
const TOOL_CALL_DELTAS = [
    { index: 0, id: 'call_weather', type: 'function', function: { name: 'get_weather', arguments: '' } },
    { index: 0, function: { arguments: '{"city":' } },
    { index: 0, function: { arguments: '"Paris"}' } },
    { index: 1, id: 'call_time', type: 'function', function: { name: 'get_time', arguments: '{}' } },
];

function chunk(delta: object, finish: string | null = null) {
    return `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

/** The log probability the upstream gives each word it sends (and, for top_logprobs, a likelier and a less likely alternative). */
export function upstreamLogprob(word: string, top: number) {
    const entry = (token: string, logprob: number) => ({ token, logprob, bytes: [...Buffer.from(token, 'utf8')] });
    return { ...entry(word, -0.25), top_logprobs: [entry(word, -0.25), entry('~', -3.5)].slice(0, top) };
}

/** A word's likeliest tokens as a text completion's `top_logprobs` entry gives them. */
export function upstreamTextLogprobs(word: string): Record<string, number> {
    return { [word]: -0.25, '~': -3.5 };
}

function chunkWithLogprobs(word: string, top: number) {
    return `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: word }, logprobs: { content: [upstreamLogprob(word, top)] }, finish_reason: null }] })}\n\n`;
}

export async function startUpstream(): Promise<Upstream> {
    const requests: any[] = [];
    const up: Upstream = { url: '', mode: 'usage', requests, close: async () => undefined };
    const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
        if (up.mode === 'down') {
            res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'bad gateway' } }));
            return;
        }
        if (req.url === '/v1/models') {
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'llama-3-8b', owned_by: 'vllm' }] }));
            return;
        }
        let raw = '';
        for await (const c of req) raw += c;
        const body = JSON.parse(raw);
        requests.push(body);
        if (req.url === '/v1/embeddings') {
            const inputs: unknown[] = typeof body.input === 'string' || typeof body.input?.[0] === 'number' ? [body.input] : body.input;
            const data = inputs.map((_, index) => ({ object: 'embedding', index, embedding: upstreamEmbedding(index) }));
            const usage = { prompt_tokens: UPSTREAM_EMBEDDING_TOKENS * inputs.length, total_tokens: UPSTREAM_EMBEDDING_TOKENS * inputs.length };
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data, model: body.model, usage }));
            return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        if (req.url === '/v1/completions') {
            const n = Math.min(WORDS.length, body.max_tokens ?? WORDS.length);
            // With logprobs, each word's in the legacy shape: its own and the `logprobs` likeliest (the word, then '~').
            let offset = 0;
            const logprobsOf = (text: string) => {
                if (!body.logprobs || text === '') return null;
                const top = Object.fromEntries(Object.entries(upstreamTextLogprobs(text)).slice(0, body.logprobs));
                const l = { tokens: [text], token_logprobs: [-0.25], top_logprobs: [top], text_offset: [offset] };
                offset += text.length;
                return l;
            };
            const piece = (text: string, finish: string | null) =>
                `data: ${JSON.stringify({ id: 'cmpl1', object: 'text_completion', choices: [{ text, index: 0, logprobs: logprobsOf(text), finish_reason: finish }] })}\n\n`;
            for (let i = 0; i < n; i++) res.write(piece(WORDS[i], null));
            res.write(piece('', n < WORDS.length ? 'length' : 'stop'));
            const usage = { prompt_tokens: UPSTREAM_PROMPT_TOKENS, completion_tokens: n, total_tokens: UPSTREAM_PROMPT_TOKENS + n };
            res.write(`data: ${JSON.stringify({ id: 'cmpl1', object: 'text_completion', choices: [], usage })}\n\n`);
            res.end('data: [DONE]\n\n');
            return;
        }
        // Tools on offer and no tool result yet: the model calls them (once they have answered, it answers in words).
        if (Array.isArray(body.tools) && body.tools.length > 0 && body.messages?.at(-1)?.role !== 'tool') {
            const deltas = body.parallel_tool_calls === false ? TOOL_CALL_DELTAS.filter((d) => d.index === 0) : TOOL_CALL_DELTAS;
            res.write(chunk({ role: 'assistant', content: null }));
            for (const d of deltas) res.write(chunk({ tool_calls: [d] }));
            res.write(chunk({}, 'tool_calls'));
            const usage = { prompt_tokens: UPSTREAM_PROMPT_TOKENS, completion_tokens: deltas.length, total_tokens: UPSTREAM_PROMPT_TOKENS + deltas.length };
            res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [], usage })}\n\n`);
            res.end('data: [DONE]\n\n');
            return;
        }
        const n = Math.min(WORDS.length, body.max_tokens ?? WORDS.length);
        res.write(chunk({ role: 'assistant', content: '' }));
        for (let i = 0; i < n; i++) {
            if (res.destroyed) return;
            res.write(body.logprobs ? chunkWithLogprobs(WORDS[i], body.top_logprobs ?? 0) : chunk({ content: WORDS[i] }));
            if (up.mode === 'kill' && i === 2) {
                await new Promise((r) => setTimeout(r, 100));
                req.socket.destroy();
                return;
            }
            if (up.mode === 'slow') await new Promise((r) => setTimeout(r, 300));
            if (up.mode === 'crawl') await new Promise((r) => setTimeout(r, 1500));
        }
        res.write(chunk({}, n < WORDS.length ? 'length' : 'stop'));
        res.write(
            `data: ${JSON.stringify({
                id: 'c1',
                object: 'chat.completion.chunk',
                choices: [],
                usage: { prompt_tokens: UPSTREAM_PROMPT_TOKENS, completion_tokens: n, total_tokens: UPSTREAM_PROMPT_TOKENS + n, prompt_tokens_details: { cached_tokens: UPSTREAM_CACHED_TOKENS } },
            })}\n\n`,
        );
        res.end('data: [DONE]\n\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    up.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    up.close = () =>
        new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
        });
    return up;
}

export interface ClientCall {
    status: number;
    headers: Headers;
    /** Refusal body (plain JSON) when status is not 200. */
    error?: { message: string; code: string };
    /** Decrypted frames (stream) or the single final frame (non-stream). */
    frames: Array<{ final: boolean; json: any }>;
    /** The final frame's JSON. */
    final?: any;
    plaintext: Buffer;
}

/** Sends one paid request the way the client SDK will, and opens the answer. */
export async function callWorker(url: string, workerEncryptionKey: Buffer, req: PaidRequest, options: { signal?: AbortSignal } = {}): Promise<ClientCall> {
    const sealed = await sealPaidRequest(workerEncryptionKey, req);
    const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': ENVELOPE_MEDIA_TYPE },
        body: sealed.envelope,
        signal: options.signal,
    });
    return readAnswer(res, sealed.response, sealed.plaintext, req.request.stream ?? false);
}

export async function readAnswer(res: Response, opener: ResponseOpener, plaintext: Buffer, stream: boolean): Promise<ClientCall> {
    if (res.status !== 200) {
        const body = (await res.json()) as { error: { message: string; code: string } };
        return { status: res.status, headers: res.headers, error: body.error, frames: [], plaintext };
    }
    let frames: Array<{ final: boolean; json: any }>;
    if (stream) {
        frames = openSseFrames(await res.text(), opener);
    } else {
        const f = opener.open(Buffer.from(await res.arrayBuffer()));
        frames = [{ final: f.final, json: JSON.parse(f.plaintext.toString('utf8')) }];
    }
    const final = frames.find((f) => f.final)?.json;
    return { status: res.status, headers: res.headers, frames, final, plaintext };
}

export function voucherFor(channel: Address, total: bigint, clientSecretKey: Buffer): string {
    return encodeVoucher(signVoucher(channel, total, clientSecretKey));
}

export function chatBody(over: Record<string, unknown> = {}) {
    return {
        model: 'cocoon-demo',
        messages: [
            { role: 'system' as const, content: 'You are terse.' },
            { role: 'user' as const, content: 'Say hello.' },
        ],
        max_tokens: 16,
        ...over,
    };
}

export interface SandboxWorkerOptions {
    blockchain: Blockchain;
    operator: { address: Address; send: (args: import('@ton/core').SenderArguments) => Promise<unknown> };
    workerStake: Address;
    workerKeys: { publicKey: Buffer; secretKey: Buffer };
    backend: Record<string, unknown>;
    prices: { prompt: bigint; cached: bigint; completion: bigint; reasoning: bigint };
    dir: string;
    overrides?: Record<string, unknown>;
    logger?: import('pino').Logger;
}

/** A worker on a sandbox chain (contracts deployed by the test), listening on a free port. */
export async function startSandboxWorker(o: SandboxWorkerOptions) {
    const { parseConfig } = await import('../../worker/src/config');
    const { createWorker } = await import('../../worker/src/worker');
    const { SimulatedProvider } = await import('../../worker/src/attestation');
    const { devSimulatedAttestationKey } = await import('../../wrappers/devnet');
    const { generateKeyPair } = await import('../../helpers/hpke');
    const { createLogger } = await import('../../worker/src/log');
    const config = parseConfig({
        network: { endpoint: 'http://127.0.0.1:1/jsonRPC' },
        contracts: { staking: o.workerStake.toString() },
        keys: { receiptKeyPath: 'unused', encryptionKeyPath: 'unused', walletMnemonicPath: 'unused' },
        payoutAddress: o.operator.address.toString(),
        http: { port: 0 },
        backend: o.backend,
        prices: { prompt: '1', cached: '1', completion: '1', reasoning: '1' },
        attestation: { provider: 'simulated', devKeyPath: 'unused' },
        payments: { claimThreshold: '1000000000000', watchIntervalMs: 3_600_000 },
        store: { path: join(o.dir, 'store.db') },
        ...(o.overrides ?? {}),
    });
    const encryption = await generateKeyPair();
    const worker = await createWorker(config, {
        logger: o.logger ?? createLogger({ level: 'silent' }),
        keys: { receipt: o.workerKeys, encryption },
        opener: sandboxOpener(o.blockchain),
        sender: { address: o.operator.address, send: async (args) => void (await o.operator.send(args)) },
        owner: o.operator.address,
        workerStake: o.workerStake,
        attestationProvider: new SimulatedProvider(devSimulatedAttestationKey()),
    });
    await worker.start();
    return { worker, encryptionKey: encryption.publicKey };
}

/**
 * A stand-in for the kernel's configfs-tsm: watches the report root for new
 * report directories and, once `inblob` is written, writes `outblob` (a
 * quote over that REPORTDATA, signed by a test CA) and bumps `generation`,
 * as the kernel does on the first read.
 */
export function fakeTsm(root: string, quoteFor: (reportData: Buffer) => Buffer, provider?: 'tdx_guest' | 'sev_guest') {
    let stop = false;
    const seen: string[] = [];
    const loop = (async () => {
        while (!stop) {
            for (const name of await fsp.readdir(root).catch(() => [] as string[])) {
                // Each report is answered once, as the kernel does: a directory the provider is tearing down
                // (outblob already removed, inblob not yet) must not be answered again.
                if (seen.includes(name)) continue;
                const dir = join(root, name);
                try {
                    const inblob = await fsp.readFile(join(dir, 'inblob'));
                    if (inblob.length !== 64) continue;
                    await fsp.access(join(dir, 'outblob')).catch(async () => {
                        seen.push(name);
                        await fsp.writeFile(join(dir, 'generation'), '1\n');
                        if (provider) await fsp.writeFile(join(dir, 'provider'), provider + '\n');
                        await fsp.writeFile(join(dir, 'outblob'), quoteFor(inblob));
                    });
                } catch {
                    /* not written yet, or already removed */
                }
            }
            await new Promise((r) => setTimeout(r, 10));
        }
    })();
    return {
        seen,
        close: async () => {
            stop = true;
            await loop;
        },
    };
}
