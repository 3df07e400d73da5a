import { timingSafeEqual } from 'node:crypto';
import { corkPerTurn } from '../../../helpers/corkPerTurn';
import { loopbackGuard } from '../../../helpers/loopbackGuard';
import fastify, { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import { openAiErrorBody } from '../../../protocol/openaiError';
import { chatRequestSchema, describeIssues } from '../../../protocol/paidRequest';
import { CallResult, CocoonClient, CocoonError } from '../client';
import { DispatchContext, Selection, dispatch, takeSelection } from './dispatch';
import { allServed, paidFor, sumUsage, takeChoiceCount, usageOfFinal } from './choices';
import { registerCompletionsRoute } from './completions';
import { registerConsole } from './console';
import { registerEmbeddingsRoute } from './embeddings';
import { registerModelRoutes } from './models';
import { ResponseStore } from './responseStore';
import { registerResponsesRoutes } from './responses';
import { Router } from './router';

/**
 * `cocoon-client gateway`: an OpenAI-compatible API on localhost for apps,
 * and the console at its root (./console.ts).
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
    /** Where responses are kept for `previous_response_id` (default: in memory, for this process only). */
    responses?: ResponseStore;
    /** The devnet explorer's address, when the chain is a devnet: the console links accounts to it. */
    explorer?: string;
    /** Host names besides the loopback ones that a gateway without API keys answers on a loopback address (a local reverse proxy's). */
    allowedHosts?: string[];
}

function openAiError(reply: FastifyReply, status: number, code: string, message: string) {
    return reply
        .code(status)
        .type('application/json')
        .send(openAiErrorBody(status, code, message));
}

export function buildGateway(o: GatewayOptions): FastifyInstance {
    const app = fastify({ logger: o.logger ?? false, bodyLimit: 4 * 1024 * 1024 });
    // OpenAI's SDKs send a JSON content type on requests without a body (DELETE): an empty body is no body there.
    const json = app.getDefaultJsonParser('error', 'error');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => (body === '' ? done(null, undefined) : json(req, body as string, done)));
    // One error envelope for everything the app can get wrong, OpenAI's, also when fastify itself refuses
    // (a body that is not JSON, a content type nobody parses, a body over the limit) or no route matches.
    app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
        const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
        if (status === 500) req.log.error({ err }, 'unhandled error');
        const code = status === 413 ? 'body_too_large' : status === 415 ? 'unsupported_media_type' : status === 500 ? 'internal_error' : 'invalid_request';
        return openAiError(reply, status, code, status === 500 ? 'internal error' : err.message);
    });
    app.setNotFoundHandler((req, reply) => openAiError(reply, 404, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}`));
    const client = o.client;
    const router = new Router(client);
    const keys = (o.apiKeys ?? []).filter((k) => k.length > 0).map((k) => Buffer.from(k));

    // Without keys, a page elsewhere could reach this gateway through DNS rebinding: only this machine's names are answered.
    app.addHook('onRequest', loopbackGuard({ open: () => keys.length === 0, allowedHosts: o.allowedHosts, setting: '--allowed-host or COCOON_GATEWAY_ALLOWED_HOSTS' }));
    // The console's page and assets (known once it is registered, below) need no key; its data does.
    let consolePage: (method: string, route: string | undefined) => boolean = () => false;
    app.addHook('onRequest', async (req, reply) => {
        if (keys.length === 0 || consolePage(req.method, req.routeOptions.url)) return;
        const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
        const given = Buffer.from(m?.[1] ?? '');
        if (!keys.some((k) => k.length === given.length && timingSafeEqual(k, given))) return openAiError(reply, 401, 'invalid_api_key', 'missing or wrong API key');
    });

    const models = registerModelRoutes(app, { client, fallback: o.models ?? [], fail: openAiError });
    consolePage = registerConsole(app, { client, models, explorer: o.explorer, fail: openAiError });

    function extras(r: CallResult) {
        return { cost: r.cost.toString(), receipt: r.receipt, worker: r.worker.workerStake.toString() };
    }

    const dispatchContext = (log: FastifyBaseLogger): DispatchContext => ({ client, router, maxAttempts: o.maxAttempts ?? 3, log });

    app.post('/v1/chat/completions', async (req, reply) => {
        let selection: Selection;
        let openAiRequest: Record<string, unknown>;
        let count: number;
        try {
            // The gateway's own fields are taken out; the rest is the OpenAI request the worker gets.
            ({ selection, rest: openAiRequest } = takeSelection((req.body ?? {}) as Record<string, unknown>));
            ({ count, rest: openAiRequest } = takeChoiceCount(openAiRequest));
        } catch (e) {
            const err = e as CocoonError;
            return openAiError(reply, err.status, err.code, err.message);
        }
        const parsed = chatRequestSchema.safeParse(openAiRequest);
        if (!parsed.success) return openAiError(reply, 400, 'invalid_request', describeIssues(parsed.error));
        const request = parsed.data;
        const stream = request.stream === true;

        let started = false;
        const raw = reply.raw;
        const cork = corkPerTurn(raw);
        const write = (obj: unknown) => {
            if (raw.destroyed) return;
            cork();
            raw.write(`data: ${JSON.stringify(obj)}\n\n`);
        };
        const start = () => {
            if (started) return;
            started = true;
            reply.hijack();
            raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        };
        // The app went away: stop reading from the worker. It keeps a receipt for what it delivered,
        // which the SDK recovers and pays (receipt recovery), so nothing is paid for text nobody read.
        const gone = new AbortController();
        raw.on('close', () => {
            if (!raw.writableFinished) gone.abort();
        });
        // Each choice is a paid request of its own (its own receipt); with a seed, choice i samples with seed + i, so they differ.
        const asked = Array.from({ length: count }, (_, i) => (i > 0 && request.seed !== undefined && request.seed !== null ? { ...request, seed: request.seed + i } : request));
        const choiceOf = (chunk: any, index: number) => ({ ...chunk, model: request.model, choices: (chunk.choices ?? []).map((c: any) => ({ ...c, index })) });
        try {
            const settled = await Promise.allSettled(
                asked.map((one, i) =>
                    dispatch(
                        dispatchContext(req.log),
                        { kind: 'chat', request: one },
                        selection,
                        stream
                            ? (chunk: any) => {
                                  start();
                                  write(choiceOf(chunk, i));
                              }
                            : undefined,
                        gone.signal,
                    ),
                ),
            );
            const results = allServed(settled, count);
            if (count === 1) {
                const r = results[0];
                const { receipt: _r, ...last } = r.final;
                // Answers name the model as the app asked for it (the worker knows it by its wire id).
                if (!stream) return reply.code(200).send({ ...last, model: request.model, usage: usageOfFinal(r.final), ...extras(r) });
                start();
                write({ ...last, model: request.model, usage: usageOfFinal(r.final), ...extras(r) });
            } else {
                const usage = sumUsage(results.map((r) => usageOfFinal(r.final)));
                const paid = paidFor(results);
                const { receipt: _r, usage: _u, ...first } = results[0].final;
                if (!stream) {
                    const choices = results.map((r, i) => ({ ...r.final.choices[0], index: i }));
                    return reply.code(200).send({ ...first, model: request.model, choices, usage, ...paid });
                }
                start();
                // Each choice's finish, then the usage and payment of them all, as OpenAI ends a stream of several choices.
                results.forEach((r, i) => write(choiceOf({ ...first, choices: r.final.choices }, i)));
                write({ ...first, model: request.model, choices: [], usage, ...paid });
            }
            cork.flush();
            raw.end('data: [DONE]\n\n');
            return reply;
        } catch (e) {
            if (gone.signal.aborted) {
                // Nobody to answer.
                if (!started) reply.hijack();
                raw.destroy();
                return reply;
            }
            const err = e instanceof CocoonError ? e : new CocoonError(502, 'worker_failed', (e as Error).message);
            if (!started) return openAiError(reply, err.status, err.code, err.message);
            // The answer is already under way with status 200: whatever broke it, the app sees a server error.
            write(openAiErrorBody(502, err.code, err.message));
            cork.flush();
            raw.end();
            return reply;
        }
    });

    const responses = o.responses ?? ResponseStore.open(':memory:');
    if (!o.responses) app.addHook('onClose', async () => responses.close());
    registerResponsesRoutes(app, { store: responses, context: dispatchContext, fail: openAiError, extras });
    registerEmbeddingsRoute(app, { context: dispatchContext, fail: openAiError, extras });
    registerCompletionsRoute(app, { context: dispatchContext, fail: openAiError, extras });

    return app;
}
