import fastify, { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { corkPerTurn } from '../../helpers/corkPerTurn';
import { ENC_BYTES, ENVELOPE_MEDIA_TYPE, EnvelopeError, REQUEST_HEADER_BYTES, ResponseSealer, X25519KeyPair, frameToText, openRequest } from '../../helpers/hpke';
import {
    RECEIPTS_SIGNATURE_HEADER,
    RECEIPTS_TIMESTAMP_HEADER,
    ReceiptWire,
    RefusalCode,
    contentText,
    describeIssues,
    modelIdOf,
    paidRequestSchema,
    requestDigest,
    responseDigest,
} from '../../protocol/paidRequest';
import {
    BackendRequestError,
    BackendUnavailableError,
    ChatEvent,
    ChatRequest,
    InferenceBackend,
    ModelInfo,
    Usage,
    zeroUsage,
} from './inference/types';
import type { WorkerMetrics } from './metrics';
import { Admission, PaymentError, Payments } from './payments';
import type { CooperativeClose } from './cooperativeClose';
import { ReplayGuard } from './replay';

/**
 * The worker's HTTP API. Everything a user sends or receives crosses it
 * sealed (lib/hpke.ts); the plaintext lives only in this process's memory
 * and is never logged. Public, unencrypted endpoints: models, attestation,
 * health, metrics.
 */

export interface ServerContext {
    backend: InferenceBackend;
    payments: Payments;
    /** Co-signs final vouchers (POST /v1/channels/:channel/close); absent, the route answers 501. */
    cooperativeClose?: CooperativeClose;
    encryptionKey: X25519KeyPair;
    metrics: WorkerMetrics;
    logger: Logger;
    limits: { maxBodyBytes: number; maxConcurrent: number; defaultMaxTokens: number; maxTokens: number; requestTimeoutMs?: number };
    /** The attestation document served at /attestation (null until attested). */
    attestation: () => unknown | null;
    /** Extra facts for /health. */
    healthExtra?: () => Record<string, unknown>;
    /** The advertised model's id on chain (the receipt's model id). */
    chainModelId?: (model: ModelInfo) => bigint;
}

export interface WorkerServer {
    app: FastifyInstance;
    /** Stop taking chat requests (they get 503). */
    drain(): void;
    /** Requests being served now. */
    readonly active: number;
    /** Ends every in-flight generation now: each still ends with its receipt. */
    cutInFlight(): void;
    /** Resolves when no request is in flight (or after `ms`). */
    idle(ms: number): Promise<boolean>;
}

class Refusal extends Error {
    constructor(
        readonly status: number,
        readonly code: string,
        message: string,
        readonly retryAfter?: number,
    ) {
        super(message);
    }
}

function usageJson(u: Usage) {
    return {
        prompt_tokens: u.promptTokens,
        completion_tokens: u.completionTokens,
        total_tokens: u.promptTokens + u.completionTokens,
        prompt_tokens_details: { cached_tokens: u.cachedTokens },
        completion_tokens_details: { reasoning_tokens: u.reasoningTokens },
        estimated: u.estimated,
    };
}

function finishJson(r: string): string {
    return r === 'length' ? 'length' : r === 'stop' ? 'stop' : r; // 'aborted' and 'error' are Cocoon's own
}

export function buildServer(ctx: ServerContext): WorkerServer {
    const app: FastifyInstance = fastify({
        loggerInstance: ctx.logger as unknown as FastifyBaseLogger,
        bodyLimit: ctx.limits.maxBodyBytes,
        // Long generations: no overall request timeout here (the backend has its own idle timeout).
        requestTimeout: 0,
    });
    const inflight = new Set<AbortController>();
    let active = 0;
    let draining = false;
    let idleWaiters: Array<() => void> = [];
    const modelIdFor = ctx.chainModelId ?? ((m: ModelInfo) => modelIdOf(m.id));
    const replays = new ReplayGuard();

    app.addContentTypeParser([ENVELOPE_MEDIA_TYPE, 'application/octet-stream'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
        const status = err.statusCode ?? 500;
        if (status === 413) return sendError(reply, new Refusal(413, RefusalCode.TooLarge, `body larger than ${ctx.limits.maxBodyBytes} bytes`));
        if (status === 415) return sendError(reply, new Refusal(415, RefusalCode.Unsupported, `send an HPKE envelope as ${ENVELOPE_MEDIA_TYPE}`));
        if (status < 500) return sendError(reply, new Refusal(status, RefusalCode.BadRequest, err.code ?? 'bad request'));
        ctx.logger.error({ err }, 'unhandled error');
        return sendError(reply, new Refusal(500, 'internal_error', 'internal error'));
    });

    function sendError(reply: FastifyReply, r: Refusal) {
        if (r.retryAfter !== undefined) reply.header('retry-after', String(r.retryAfter));
        ctx.metrics.requests.inc({ status: String(r.status) });
        return reply.code(r.status).type('application/json').send({ error: { message: r.message, type: r.status >= 500 ? 'server_error' : 'invalid_request_error', code: r.code } });
    }

    let modelsCache: { at: number; models: ModelInfo[] } | undefined;
    async function models(): Promise<ModelInfo[]> {
        if (modelsCache && Date.now() - modelsCache.at < 30_000) return modelsCache.models;
        const list = await ctx.backend.listModels();
        modelsCache = { at: Date.now(), models: list };
        return list;
    }

    app.get('/v1/models', async (_req, reply) => {
        try {
            const list = await models();
            return { object: 'list', data: list.map((m) => ({ id: m.id, object: 'model', created: 0, owned_by: m.ownedBy, aliases: m.aliases, model_id: modelIdFor(m).toString(16).padStart(64, '0') })) };
        } catch (e) {
            return sendError(reply, new Refusal(503, RefusalCode.BackendDown, `backend: ${(e as Error).message}`));
        }
    });

    app.get('/attestation', async (_req, reply) => {
        const doc = ctx.attestation();
        if (!doc) return sendError(reply, new Refusal(503, 'not_attested', 'no attestation yet'));
        return doc;
    });

    app.get('/health', async (_req, reply) => {
        const h = await ctx.backend.health();
        const storage = ctx.payments.storageProblem;
        const body = { ok: h.ok && !draining && !storage, draining, backend: h, active, ...(storage ? { storage } : {}), ...(ctx.healthExtra?.() ?? {}) };
        return reply.code(body.ok ? 200 : 503).send(body);
    });

    // Receipt recovery: a client that lost a final frame reads the receipts it is missing (lib/protocol.ts).
    app.get('/v1/channels/:channel/receipts', async (req, reply) => {
        const q = (req.query ?? {}) as Record<string, unknown>;
        try {
            return await ctx.payments.receiptsFor({
                channel: (req.params as { channel: string }).channel,
                after: q.after,
                timestamp: req.headers[RECEIPTS_TIMESTAMP_HEADER],
                signature: req.headers[RECEIPTS_SIGNATURE_HEADER],
            });
        } catch (e) {
            if (e instanceof PaymentError) return sendError(reply, new Refusal(e.status, e.code, e.message));
            throw e;
        }
    });

    // Cooperative close: the client's final voucher in, the worker's CloseApproval out (worker/src/cooperativeClose.ts).
    app.post('/v1/channels/:channel/close', async (req, reply) => {
        if (!ctx.cooperativeClose) return sendError(reply, new Refusal(501, 'not_supported', 'this worker does not co-sign closes'));
        try {
            return await ctx.cooperativeClose.approve({ channel: (req.params as { channel: string }).channel, body: req.body });
        } catch (e) {
            if (e instanceof PaymentError) return sendError(reply, new Refusal(e.status, e.code, e.message));
            throw e;
        }
    });

    app.get('/metrics', async (_req, reply) => {
        reply.type(ctx.metrics.registry.contentType);
        return ctx.metrics.registry.metrics();
    });

    app.post('/v1/chat/completions', async (req, reply) => {
        const t0 = performance.now();
        if (draining) return sendError(reply, new Refusal(503, RefusalCode.ShuttingDown, 'the worker is shutting down', 5));
        if (active >= ctx.limits.maxConcurrent) return sendError(reply, new Refusal(429, RefusalCode.OverCapacity, 'over capacity', 1));
        if (!Buffer.isBuffer(req.body)) return sendError(reply, new Refusal(415, RefusalCode.Unsupported, `send an HPKE envelope as ${ENVELOPE_MEDIA_TYPE}`));
        active++;
        ctx.metrics.active.inc();
        try {
            return await serveChat(req.body, reply, t0);
        } catch (e) {
            if (e instanceof Refusal) return sendError(reply, e);
            throw e;
        } finally {
            active--;
            ctx.metrics.active.dec();
            if (active === 0) {
                const w = idleWaiters;
                idleWaiters = [];
                w.forEach((f) => f());
            }
        }
    });

    async function serveChat(body: Buffer, reply: FastifyReply, t0: number) {
        let opened;
        try {
            opened = await openRequest(body, ctx.encryptionKey);
        } catch (e) {
            if (e instanceof EnvelopeError && e.code === 'wrong-key') throw new Refusal(400, RefusalCode.WrongKey, 'the request is sealed to another encryption key');
            throw new Refusal(400, RefusalCode.BadEnvelope, e instanceof EnvelopeError ? e.message : 'malformed envelope');
        }
        // Only an envelope that opened counts (junk must not fill the memory); once
        // opened it is spent, served or refused, so a captured copy is never served later.
        if (!replays.firstSeen(body.subarray(REQUEST_HEADER_BYTES, REQUEST_HEADER_BYTES + ENC_BYTES)))
            throw new Refusal(409, RefusalCode.Replayed, 'this sealed request was already received; seal every request anew');
        let json: unknown;
        try {
            json = JSON.parse(opened.plaintext.toString('utf8'));
        } catch {
            throw new Refusal(400, RefusalCode.BadRequest, 'the request is not valid JSON');
        }
        const parsed = paidRequestSchema.safeParse(json);
        if (!parsed.success) throw new Refusal(400, RefusalCode.BadRequest, describeIssues(parsed.error));
        const paid = parsed.data;
        const r = paid.request;

        let list: ModelInfo[];
        try {
            list = await models();
        } catch (e) {
            throw new Refusal(503, RefusalCode.BackendDown, `backend: ${(e as Error).message}`);
        }
        const model = list.find((m) => m.id === r.model || m.aliases.includes(r.model));
        if (!model) throw new Refusal(404, RefusalCode.UnknownModel, 'this worker does not serve that model');

        const maxTokens = Math.min(r.max_completion_tokens ?? r.max_tokens ?? ctx.limits.defaultMaxTokens, ctx.limits.maxTokens);
        const messages = r.messages.map((m) => ({ role: m.role, content: contentText(m.content) }));
        // Bound on prompt tokens for pricing: no tokenizer makes more tokens than bytes, plus template overhead.
        const promptBound = messages.reduce((n, m) => n + Buffer.byteLength(m.content, 'utf8') + 16, 16);
        const stop = r.stop === undefined || r.stop === null ? undefined : typeof r.stop === 'string' ? [r.stop] : r.stop;
        const chat: ChatRequest = {
            model: model.id,
            messages,
            maxTokens,
            temperature: r.temperature ?? undefined,
            topP: r.top_p ?? undefined,
            seed: r.seed ?? undefined,
            stop,
        };

        let admission: Admission;
        try {
            admission = await ctx.payments.admit({ channel: paid.channel, voucher: paid.voucher, promptBound, maxTokens, modelId: modelIdFor(model) });
        } catch (e) {
            if (e instanceof PaymentError) throw new Refusal(e.status, e.code, e.message);
            throw e;
        }

        const ac = new AbortController();
        inflight.add(ac);
        // A generation that runs too long is cut like any other: charged for what was delivered.
        const overall = ctx.limits.requestTimeoutMs ? setTimeout(() => ac.abort(), ctx.limits.requestTimeoutMs) : undefined;
        const iter = ctx.backend.chatStream(chat, { signal: ac.signal })[Symbol.asyncIterator]();
        let first: IteratorResult<ChatEvent>;
        try {
            first = await iter.next();
        } catch (e) {
            clearTimeout(overall);
            inflight.delete(ac);
            ctx.payments.release(admission);
            if (e instanceof BackendRequestError) throw new Refusal(e.status === 404 ? 404 : 400, e.status === 404 ? RefusalCode.UnknownModel : RefusalCode.BadRequest, e.message);
            const message = e instanceof BackendUnavailableError ? e.message : 'backend failed';
            throw new Refusal(503, RefusalCode.BackendDown, `backend unavailable, nothing charged: ${message}`, 5);
        }

        const requestHash = requestDigest(opened.plaintext);
        const sealer: ResponseSealer = opened.response;
        const id = `chatcmpl-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
        const created = Math.floor(Date.now() / 1000);
        let content = '';
        let reasoning = '';
        let firstTokenAt: number | undefined;
        let clientGone = false;

        const settle = (end: { usage: Usage; finishReason: string; error?: string }): ReceiptWire | null => {
            const receipt = ctx.payments.settle(admission, {
                modelId: modelIdFor(model),
                usage: end.usage,
                requestHash,
                responseHash: responseDigest(content, reasoning),
            });
            const u = end.usage;
            ctx.metrics.tokens.inc({ class: 'prompt' }, Math.max(0, u.promptTokens - u.cachedTokens));
            ctx.metrics.tokens.inc({ class: 'cached' }, u.cachedTokens);
            ctx.metrics.tokens.inc({ class: 'completion' }, Math.max(0, u.completionTokens - u.reasoningTokens));
            ctx.metrics.tokens.inc({ class: 'reasoning' }, u.reasoningTokens);
            ctx.logger.info(
                { requestId: receipt?.requestId, cost: receipt?.cost, usage: { ...u }, finishReason: end.finishReason, ms: Math.round(performance.now() - t0) },
                'request served',
            );
            return receipt;
        };

        async function* events(): AsyncGenerator<ChatEvent> {
            let step = first;
            while (!step.done) {
                yield step.value;
                step = await iter.next();
            }
        }

        try {
            if (r.stream) {
                reply.hijack();
                const raw = reply.raw;
                raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
                raw.on('close', () => {
                    if (!raw.writableFinished) {
                        clientGone = true;
                        ac.abort();
                    }
                });
                // One upstream read often carries several chunks: their frames leave together.
                const cork = corkPerTurn(raw);
                const write = async (frame: Buffer) => {
                    if (clientGone || raw.destroyed) return;
                    cork();
                    if (!raw.write(`data: ${frameToText(frame)}\n\n`)) await new Promise<void>((res) => raw.once('drain', res).once('close', res));
                };
                let end: { usage: Usage; finishReason: string; error?: string } = { usage: zeroUsage(true), finishReason: 'error', error: 'stream ended without usage' };
                for await (const ev of events()) {
                    if (ev.type === 'delta') {
                        if (firstTokenAt === undefined) {
                            firstTokenAt = performance.now();
                            ctx.metrics.ttft.observe((firstTokenAt - t0) / 1000);
                        }
                        // Counted into the response hash only once it is handed to the transport.
                        if (clientGone) continue;
                        content += ev.content ?? '';
                        reasoning += ev.reasoning ?? '';
                        const chunk = {
                            id,
                            object: 'chat.completion.chunk',
                            created,
                            model: model.id,
                            choices: [{ index: 0, delta: { ...(ev.content ? { content: ev.content } : {}), ...(ev.reasoning ? { reasoning_content: ev.reasoning } : {}) }, finish_reason: null }],
                        };
                        await write(sealer.data(Buffer.from(JSON.stringify(chunk))));
                    } else {
                        end = ev;
                    }
                }
                // Stored (fsync) before the final frame goes out. If storing
                // fails, no final frame is sent: the client sees a truncated
                // stream rather than a receipt the worker does not hold.
                let receipt: ReceiptWire | null;
                try {
                    receipt = settle(end);
                } catch (e) {
                    ctx.logger.error({ err: e }, 'could not store the receipt; cutting the stream');
                    raw.destroy();
                    ctx.metrics.requests.inc({ status: '500' });
                    return reply;
                }
                const last = {
                    id,
                    object: 'chat.completion.chunk',
                    created,
                    model: model.id,
                    choices: [{ index: 0, delta: {}, finish_reason: finishJson(end.finishReason) }],
                    usage: usageJson(end.usage),
                    receipt,
                    ...(end.error ? { error: { message: end.error } } : {}),
                };
                await write(sealer.final(Buffer.from(JSON.stringify(last))));
                if (!raw.destroyed) raw.end();
                ctx.metrics.requests.inc({ status: '200' });
                ctx.metrics.latency.observe((performance.now() - t0) / 1000);
                return reply;
            }

            reply.raw.on('close', () => {
                if (!reply.raw.writableFinished) {
                    clientGone = true;
                    ac.abort();
                }
            });
            let end: { usage: Usage; finishReason: string; error?: string } | undefined;
            for await (const ev of events()) {
                if (ev.type === 'delta') {
                    if (firstTokenAt === undefined) {
                        firstTokenAt = performance.now();
                        ctx.metrics.ttft.observe((firstTokenAt - t0) / 1000);
                    }
                    content += ev.content ?? '';
                    reasoning += ev.reasoning ?? '';
                } else end = ev;
            }
            if (clientGone || !end) {
                // Nothing was delivered: a non-streaming answer exists only as its single frame.
                ctx.payments.release(admission);
                ctx.metrics.requests.inc({ status: '499' });
                return reply;
            }
            let receipt: ReceiptWire | null;
            try {
                receipt = settle(end);
            } catch (e) {
                // Nothing left this process yet: a receipt that cannot be stored is a clean refusal.
                if (e instanceof PaymentError) throw new Refusal(e.status, e.code, e.message, 5);
                throw e;
            }
            const completion = {
                id,
                object: 'chat.completion',
                created,
                model: model.id,
                choices: [
                    {
                        index: 0,
                        message: { role: 'assistant', content, ...(reasoning ? { reasoning_content: reasoning } : {}) },
                        finish_reason: finishJson(end.finishReason),
                    },
                ],
                usage: usageJson(end.usage),
                receipt,
                ...(end.error ? { error: { message: end.error } } : {}),
            };
            ctx.metrics.requests.inc({ status: '200' });
            ctx.metrics.latency.observe((performance.now() - t0) / 1000);
            return reply.code(200).type(ENVELOPE_MEDIA_TYPE).send(sealer.final(Buffer.from(JSON.stringify(completion))));
        } finally {
            clearTimeout(overall);
            inflight.delete(ac);
            if (!admission.settled) ctx.payments.release(admission);
        }
    }

    return {
        app,
        drain: () => {
            draining = true;
        },
        get active() {
            return active;
        },
        cutInFlight: () => {
            for (const ac of inflight) ac.abort();
        },
        idle: (ms: number) =>
            active === 0
                ? Promise.resolve(true)
                : new Promise<boolean>((resolve) => {
                      const t = setTimeout(() => resolve(false), ms);
                      idleWaiters.push(() => {
                          clearTimeout(t);
                          resolve(true);
                      });
                  }),
    };
}
