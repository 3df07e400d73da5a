import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { X25519KeyPair } from '../../../../helpers/hpke';
import { completionsMaxTokens, completionsPromptBound, paidCompletionsRequestSchema, promptOf } from '../../../../protocol/completions';
import type { InferenceBackend, TextRequest } from '../../inference/types';
import type { WorkerMetrics } from '../../metrics';
import type { Payments } from '../../payments';
import type { ReplayGuard } from '../../replay';
import type { ChatTraffic } from '../chatTraffic';
import type { ModelCatalog } from '../modelCatalog';
import { findModel, openPaidEnvelope, registerPaidRoute } from '../paidEnvelope';
import { servePaidGeneration } from '../paidGeneration';

/**
 * Paid text completions (protocol/completions.ts): a sealed request in,
 * admitted for its prompt bound and max_tokens (OpenAI's default of 16 when
 * none is given), continued by the backend, answered as `text_completion`
 * objects with the receipt, whole or streamed.
 */

export interface CompletionsRouteDeps {
    backend: InferenceBackend;
    payments: Payments;
    encryptionKey: X25519KeyPair;
    catalog: ModelCatalog;
    traffic: ChatTraffic;
    metrics: WorkerMetrics;
    logger: Logger;
    limits: { maxConcurrent: number; maxTokens: number; requestTimeoutMs?: number };
    replays: ReplayGuard;
}

export function registerCompletionsRoute(app: FastifyInstance, deps: CompletionsRouteDeps): void {
    registerPaidRoute(app, '/v1/completions', deps, serve);

    async function serve(body: Buffer, reply: FastifyReply, t0: number) {
        const { opened, paid } = await openPaidEnvelope(body, deps.encryptionKey, deps.replays, paidCompletionsRequestSchema);
        const r = paid.request;
        const model = await findModel(deps.catalog, r.model);
        const modelId = deps.catalog.chainId(model);
        const maxTokens = Math.min(completionsMaxTokens(r), deps.limits.maxTokens);
        const text: TextRequest = {
            model: model.id,
            prompt: promptOf(r),
            suffix: r.suffix ?? undefined,
            maxTokens,
            temperature: r.temperature ?? undefined,
            topP: r.top_p ?? undefined,
            seed: r.seed ?? undefined,
            stop: r.stop === undefined || r.stop === null ? undefined : typeof r.stop === 'string' ? [r.stop] : r.stop,
            presencePenalty: r.presence_penalty ?? undefined,
            frequencyPenalty: r.frequency_penalty ?? undefined,
            logitBias: r.logit_bias ?? undefined,
            ...(r.logprobs !== undefined && r.logprobs !== null ? { logprobs: r.logprobs } : {}),
        };
        const admission = await deps.payments.admit({ channel: paid.channel, voucher: paid.voucher, promptBound: completionsPromptBound(r), maxTokens, modelId });
        return servePaidGeneration(deps, reply, {
            opened,
            admission,
            modelId,
            model: model.id,
            t0,
            shape: 'text',
            stream: r.stream === true,
            logprobs: r.logprobs !== undefined && r.logprobs !== null,
            start: (signal) => deps.backend.textStream(text, { signal }),
        });
    }
}
