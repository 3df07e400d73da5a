import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { ENVELOPE_MEDIA_TYPE, X25519KeyPair } from '../../../../helpers/hpke';
import { embeddingInputs, embeddingItems, embeddingsResponseText, embeddingsTokenBound, paidEmbeddingsRequestSchema } from '../../../../protocol/embeddings';
import { requestDigest, responseDigest } from '../../../../protocol/paidRequest';
import { BackendRequestError, BackendUnavailableError, Embeddings, InferenceBackend } from '../../inference/types';
import type { WorkerMetrics } from '../../metrics';
import type { Payments } from '../../payments';
import { Refusal } from '../../refusal';
import type { ReplayGuard } from '../../replay';
import type { ChatTraffic } from '../chatTraffic';
import type { ModelCatalog } from '../modelCatalog';
import { findModel, openPaidEnvelope, registerPaidRoute } from '../paidEnvelope';

/**
 * Paid embeddings (protocol/embeddings.ts): a sealed request in, admitted
 * against its channel for its prompt bound alone (no completion tokens),
 * embedded by the backend, answered in one sealed frame with the receipt.
 * Inputs and vectors live only in this process's memory.
 */

export interface EmbeddingsRouteDeps {
    backend: InferenceBackend;
    payments: Payments;
    encryptionKey: X25519KeyPair;
    catalog: ModelCatalog;
    traffic: ChatTraffic;
    metrics: WorkerMetrics;
    logger: Logger;
    limits: { maxConcurrent: number; requestTimeoutMs?: number };
    replays: ReplayGuard;
}

export function registerEmbeddingsRoute(app: FastifyInstance, deps: EmbeddingsRouteDeps): void {
    const { traffic, metrics } = deps;

    registerPaidRoute(app, '/v1/embeddings', deps, serve);

    async function serve(body: Buffer, reply: FastifyReply, t0: number) {
        const { opened, paid } = await openPaidEnvelope(body, deps.encryptionKey, deps.replays, paidEmbeddingsRequestSchema);
        const r = paid.request;
        const model = await findModel(deps.catalog, r.model);
        const modelId = deps.catalog.chainId(model);
        const promptBound = embeddingsTokenBound(r.input);
        const admission = await deps.payments.admit({ channel: paid.channel, voucher: paid.voucher, promptBound, maxTokens: 0, modelId });

        const ac = new AbortController();
        traffic.track(ac);
        const overall = deps.limits.requestTimeoutMs ? setTimeout(() => ac.abort(), deps.limits.requestTimeoutMs) : undefined;
        let result: Embeddings;
        try {
            result = await deps.backend.embed({ model: model.id, inputs: embeddingInputs(r.input), dimensions: r.dimensions ?? undefined }, { signal: ac.signal });
        } catch (e) {
            deps.payments.release(admission);
            if (e instanceof BackendRequestError) throw new Refusal(e.status === 404 ? 'model_not_found' : 'invalid_request', e.message);
            const message = e instanceof BackendUnavailableError ? e.message : 'backend failed';
            throw new Refusal('backend_unavailable', `backend unavailable, nothing charged: ${message}`, { retryAfter: 5 });
        } finally {
            clearTimeout(overall);
            traffic.untrack(ac);
        }
        if (ac.signal.aborted) {
            // Cut by the request timeout or a shutdown before the vectors were ready: nothing was delivered.
            deps.payments.release(admission);
            throw new Refusal('backend_unavailable', 'embedding took too long; nothing charged', { retryAfter: 5 });
        }

        const data = embeddingItems(result.vectors, r.encoding_format ?? 'float');
        // Never more than the bound the client judges receipts by (an upstream's own count or an estimate could pass it).
        const promptTokens = Math.min(result.promptTokens, promptBound);
        const usage = { promptTokens, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0, estimated: result.estimated };
        let receipt;
        try {
            receipt = await deps.payments.settle(admission, {
                modelId,
                usage,
                requestHash: requestDigest(opened.plaintext),
                responseHash: responseDigest(embeddingsResponseText(data), ''),
            });
        } catch (e) {
            // Nothing left this process yet: a receipt that cannot be stored is a clean refusal.
            if (e instanceof Refusal) throw e.retryableAfter(5);
            throw e;
        }
        metrics.tokens.inc({ class: 'prompt' }, promptTokens);
        metrics.requests.inc({ status: '200' });
        metrics.latency.observe((performance.now() - t0) / 1000);
        deps.logger.info({ requestId: receipt?.requestId, cost: receipt?.cost, usage, inputs: data.length, ms: Math.round(performance.now() - t0) }, 'embeddings served');
        const answer = {
            object: 'list',
            data,
            model: model.id,
            // completion_tokens: 0 so the usage has every count a receipt states.
            usage: { prompt_tokens: promptTokens, completion_tokens: 0, total_tokens: promptTokens },
            receipt,
        };
        return reply
            .code(200)
            .type(ENVELOPE_MEDIA_TYPE)
            .send(opened.response.final(Buffer.from(JSON.stringify(answer))));
    }
}
