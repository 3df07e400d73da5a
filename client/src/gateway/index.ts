import { timingSafeEqual } from 'node:crypto';
import { corkPerTurn } from '../../../helpers/corkPerTurn';
import { Address } from '@ton/core';
import fastify, { FastifyInstance, FastifyReply } from 'fastify';
import { openAiErrorBody } from '../../../protocol/openaiError';
import { chatRequestSchema, describeIssues } from '../../../protocol/paidRequest';
import { CallResult, CocoonClient, CocoonError } from '../client';
import type { WorkerInfo } from '../discovery';
import { unaffordable } from '../channels/affordability';
import { Router } from './router';

/**
 * `cocoon-client gateway`: an OpenAI-compatible API on localhost for apps.
 * The app speaks plain OpenAI; the gateway picks a worker (by the success
 * and latency this client measured, then cheapest first: ./router.ts,
 * ./ranking.ts), pays it through the SDK, and answers with OpenAI's shapes
 * plus `cost` (nanoTON, a decimal string) and the verified `receipt` (in the
 * last chunk when streaming); errors in OpenAI's error envelope
 * (protocol/openaiError.ts).
 *
 * Extra request fields: `max_price` (nanoTON per million tokens: a worker
 * whose prompt or completion price is higher is not used) and `worker`
 * (a WorkerStake address: use only that worker). A worker that fails before
 * the first token is replaced by the next one; one that fails after cannot
 * be (the app already has part of its answer), and nothing is paid twice:
 * every payment is a voucher for a verified receipt of one worker's channel.
 */

export interface GatewayOptions {
    client: CocoonClient;
    /** Bearer tokens the app must send; none means no authentication. */
    apiKeys?: string[];
    /** Models offered when the Registry cannot be read (default: the Registry's allow-list). */
    models?: string[];
    /** Workers tried per request (default 3). */
    maxAttempts?: number;
    logger?: boolean;
}

function openAiError(reply: FastifyReply, status: number, code: string, message: string) {
    return reply
        .code(status)
        .type('application/json')
        .send(openAiErrorBody(status, code, message));
}

export function buildGateway(o: GatewayOptions): FastifyInstance {
    const app = fastify({ logger: o.logger ?? false, bodyLimit: 4 * 1024 * 1024 });
    const client = o.client;
    const router = new Router(client);
    const keys = (o.apiKeys ?? []).filter((k) => k.length > 0).map((k) => Buffer.from(k));

    app.addHook('onRequest', async (req, reply) => {
        if (keys.length === 0) return;
        const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
        const given = Buffer.from(m?.[1] ?? '');
        if (!keys.some((k) => k.length === given.length && timingSafeEqual(k, given))) return openAiError(reply, 401, 'invalid_api_key', 'missing or wrong API key');
    });

    let modelsCache: { at: number; body: unknown } | undefined;
    app.get('/v1/models', async () => {
        if (modelsCache && Date.now() - modelsCache.at < 15_000) return modelsCache.body;
        let names: string[];
        try {
            names = (await client.discovery.allowedModels()).map((m) => m.name);
        } catch {
            names = o.models ?? [];
        }
        const data = [];
        for (const name of names) {
            const workers = await client.workers(name, true).catch(() => [] as WorkerInfo[]);
            if (workers.length === 0) continue;
            const range = (k: 'prompt' | 'cached' | 'completion' | 'reasoning') => ({
                min: workers.reduce((a, w) => (w.prices[k] < a ? w.prices[k] : a), workers[0].prices[k]).toString(),
                max: workers.reduce((a, w) => (w.prices[k] > a ? w.prices[k] : a), workers[0].prices[k]).toString(),
            });
            data.push({
                id: name,
                object: 'model',
                created: 0,
                owned_by: 'cocoon',
                workers: workers.length,
                // nanoTON per million tokens
                pricing: { unit: 'nanoTON per million tokens', prompt: range('prompt'), cached: range('cached'), completion: range('completion'), reasoning: range('reasoning') },
            });
        }
        const body = { object: 'list', data };
        modelsCache = { at: Date.now(), body };
        return body;
    });

    function extras(r: CallResult) {
        return { cost: r.cost.toString(), receipt: r.receipt, worker: r.worker.workerStake.toString() };
    }

    function usageOf(final: any) {
        const u = final?.usage ?? {};
        return {
            prompt_tokens: u.prompt_tokens ?? 0,
            completion_tokens: u.completion_tokens ?? 0,
            total_tokens: u.total_tokens ?? (u.prompt_tokens ?? 0) + (u.completion_tokens ?? 0),
            prompt_tokens_details: { cached_tokens: u.prompt_tokens_details?.cached_tokens ?? 0 },
            completion_tokens_details: { reasoning_tokens: u.completion_tokens_details?.reasoning_tokens ?? 0 },
        };
    }

    app.post('/v1/chat/completions', async (req, reply) => {
        const body = (req.body ?? {}) as Record<string, unknown>;
        let maxPrice: bigint | undefined;
        let only: Address | undefined;
        try {
            if (body.max_price !== undefined && body.max_price !== null) {
                maxPrice = BigInt(body.max_price as string | number);
                if (maxPrice < 0n) throw new Error();
            }
        } catch {
            return openAiError(reply, 400, 'invalid_max_price', 'max_price must be a non-negative integer (nanoTON per million tokens)');
        }
        try {
            if (body.worker !== undefined && body.worker !== null) only = Address.parse(String(body.worker));
        } catch {
            return openAiError(reply, 400, 'invalid_worker', 'worker must be a WorkerStake address');
        }
        // The gateway's own fields are consumed above; the rest is the OpenAI request the worker gets.
        const { max_price: _maxPrice, worker: _worker, ...openAiRequest } = body;
        const parsed = chatRequestSchema.safeParse(openAiRequest);
        if (!parsed.success) return openAiError(reply, 400, 'invalid_request', describeIssues(parsed.error));
        const request = parsed.data;
        const stream = request.stream === true;

        let list: WorkerInfo[];
        try {
            list = await router.candidates(request.model, maxPrice, only);
        } catch (e) {
            return openAiError(reply, 503, 'discovery_failed', `cannot read the workers from the chain: ${(e as Error).message}`);
        }
        if (list.length === 0)
            return openAiError(reply, 404, 'no_worker', `no verified worker serves ${request.model}${maxPrice !== undefined ? ' within max_price' : ''}${only ? ' as the named worker' : ''}`);
        // Only workers a channel can pay for this request: the rest would refuse it after a top-up.
        const affordable = list.filter((w) => !unaffordable(w, request, client.o.deposit));
        if (affordable.length === 0) {
            const refused = unaffordable(list[0], request, client.o.deposit)!;
            return openAiError(reply, refused.status, refused.code, refused.message);
        }
        list = affordable;

        let lastError: CocoonError | undefined;
        let started = false;
        let refreshed = false;
        const raw = reply.raw;
        const cork = corkPerTurn(raw);
        const write = (obj: unknown) => {
            if (raw.destroyed) return;
            cork();
            raw.write(`data: ${JSON.stringify(obj)}\n\n`);
        };
        // The app went away: stop reading from the worker. It keeps a receipt for what it delivered,
        // which the SDK recovers and pays (receipt recovery), so nothing is paid for text nobody read.
        const gone = new AbortController();
        raw.on('close', () => {
            if (!raw.writableFinished) gone.abort();
        });
        const tried = new Set<string>();
        const maxAttempts = o.maxAttempts ?? 3;
        for (let i = 0; i < list.length && tried.size < maxAttempts; i++) {
            const w = list[i];
            tried.add(w.workerStake.toString());
            try {
                if (!stream) {
                    const r = await client.call(w, request, undefined, gone.signal);
                    router.record(w, true, r.latencyMs);
                    const { receipt: _r, ...completion } = r.final;
                    // Answers name the model as the app asked for it (the worker knows it by its wire id).
                    return reply.code(200).send({ ...completion, model: request.model, usage: usageOf(r.final), ...extras(r) });
                }
                const r = await client.call(
                    w,
                    request,
                    (chunk) => {
                        if (!started) {
                            started = true;
                            reply.hijack();
                            raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
                        }
                        write({ ...chunk, model: request.model });
                    },
                    gone.signal,
                );
                router.record(w, true, r.latencyMs);
                if (!started) {
                    started = true;
                    reply.hijack();
                    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
                }
                const { receipt: _r, ...last } = r.final;
                write({ ...last, model: request.model, usage: usageOf(r.final), ...extras(r) });
                cork.flush();
                raw.end('data: [DONE]\n\n');
                return reply;
            } catch (e) {
                if (gone.signal.aborted) {
                    // Nobody to answer, and not the worker's failure.
                    if (!started) reply.hijack();
                    raw.destroy();
                    return reply;
                }
                router.record(w, false);
                const err = e instanceof CocoonError ? e : new CocoonError(502, 'worker_failed', (e as Error).message);
                lastError = err;
                req.log.warn({ worker: w.workerStake.toString(), code: err.code }, 'worker failed');
                if (started || err.delivered) break; // part of an answer is out: no retry on another worker
                if (i === list.length - 1 && !refreshed) {
                    // Every known worker failed: the cached list may be stale; look again once.
                    refreshed = true;
                    const fresh = await router.candidates(request.model, maxPrice, only, true).catch(() => [] as WorkerInfo[]);
                    list = [...list, ...fresh.filter((x) => !tried.has(x.workerStake.toString()) && !unaffordable(x, request, client.o.deposit))];
                }
            }
        }
        const err = lastError ?? new CocoonError(502, 'worker_failed', 'no worker answered');
        if (started) {
            // The answer is already under way with status 200: whatever broke it, the app sees a server error.
            write(openAiErrorBody(502, err.code, err.message));
            cork.flush();
            raw.end();
            return reply;
        }
        return openAiError(reply, err.status, err.code, err.message);
    });

    return app;
}
