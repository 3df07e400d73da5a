import fastify, { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ENVELOPE_MEDIA_TYPE, X25519KeyPair } from '../../helpers/hpke';
import type { CooperativeClose } from './cooperativeClose';
import { ChatTraffic } from './http/chatTraffic';
import { sendFrameworkError, sendRefusal } from './http/errors';
import { ModelCatalog } from './http/modelCatalog';
import { registerChannelRoutes } from './http/routes/channels';
import { registerChatRoute } from './http/routes/chat';
import { registerCompletionsRoute } from './http/routes/completions';
import { registerEmbeddingsRoute } from './http/routes/embeddings';
import { ReplayGuard } from './replay';
import { registerPublicRoutes } from './http/routes/public';
import type { InferenceBackend, ModelInfo } from './inference/types';
import type { WorkerMetrics } from './metrics';
import type { Payments } from './payments';
import { Refusal } from './refusal';

/**
 * The worker's HTTP API. Everything a user sends or receives crosses it
 * sealed (helpers/hpke.ts); the plaintext lives only in this process's
 * memory and is never logged. Public, unencrypted endpoints: models,
 * attestation, health, metrics (worker/src/http/routes/).
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

export function buildServer(ctx: ServerContext): WorkerServer {
    const app: FastifyInstance = fastify({
        loggerInstance: ctx.logger as unknown as FastifyBaseLogger,
        bodyLimit: ctx.limits.maxBodyBytes,
        // Long generations: no overall request timeout here (the backend has its own idle timeout).
        requestTimeout: 0,
    });
    const traffic = new ChatTraffic();
    const catalog = new ModelCatalog(ctx.backend, ctx.chainModelId);

    app.addContentTypeParser([ENVELOPE_MEDIA_TYPE, 'application/octet-stream'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
        if (err instanceof Refusal) return sendRefusal(reply, ctx.metrics, err);
        return sendFrameworkError(
            reply,
            { metrics: ctx.metrics, maxBodyBytes: ctx.limits.maxBodyBytes, envelopeType: ENVELOPE_MEDIA_TYPE, logError: (e) => ctx.logger.error({ err: e }, 'unhandled error') },
            err,
        );
    });

    registerPublicRoutes(app, {
        backend: ctx.backend,
        catalog,
        traffic,
        metrics: ctx.metrics,
        attestation: ctx.attestation,
        storageProblem: () => ctx.payments.storageProblem,
        healthExtra: ctx.healthExtra,
        limits: ctx.limits,
    });
    registerChannelRoutes(app, { payments: ctx.payments, cooperativeClose: ctx.cooperativeClose });
    // One for every paid route: an envelope sent again to another route is a replay too.
    const replays = new ReplayGuard();
    const paid = { backend: ctx.backend, payments: ctx.payments, encryptionKey: ctx.encryptionKey, catalog, traffic, metrics: ctx.metrics, logger: ctx.logger, limits: ctx.limits, replays };
    registerChatRoute(app, paid);
    registerEmbeddingsRoute(app, paid);
    registerCompletionsRoute(app, paid);

    return {
        app,
        drain: () => traffic.drain(),
        get active() {
            return traffic.active;
        },
        cutInFlight: () => traffic.cutAll(),
        idle: (ms: number) => traffic.idle(ms),
    };
}
