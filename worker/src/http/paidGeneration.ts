import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { OpenedRequest } from '../../../helpers/hpke';
import { requestDigest, responseDigest } from '../../../protocol/paidRequest';
import { BackendRequestError, BackendUnavailableError, ChatEvent, InferenceBackend } from '../inference/types';
import type { WorkerMetrics } from '../metrics';
import type { Admission, Payments } from '../payments';
import { Refusal } from '../refusal';
import type { ChatTraffic } from './chatTraffic';
import { Delivered, Generation, GenerationEnd, ResponseShape, sendCompletion, streamCompletion } from './chatResponse';

/**
 * An admitted request's generation, whatever API asked for it (chat or text
 * completions): started at the backend (a failure before the first event
 * charges nothing), its events delivered whole or streamed
 * (./chatResponse.ts), and the receipt for what was delivered signed and
 * stored before the final frame. Cut like any other when it runs past the
 * request timeout: charged for what was delivered.
 */

export interface GenerationDeps {
    backend: InferenceBackend;
    payments: Payments;
    traffic: ChatTraffic;
    metrics: WorkerMetrics;
    logger: Logger;
    limits: { requestTimeoutMs?: number };
}

export interface AdmittedGeneration {
    opened: OpenedRequest;
    admission: Admission;
    modelId: bigint;
    /** The model's id as the worker lists it. */
    model: string;
    /** When the request arrived (performance.now()). */
    t0: number;
    shape: ResponseShape;
    stream: boolean;
    logprobs: boolean;
    /** Starts the backend's events. */
    start: (signal: AbortSignal) => AsyncIterable<ChatEvent>;
}

export async function servePaidGeneration(deps: GenerationDeps, reply: FastifyReply, g: AdmittedGeneration): Promise<FastifyReply> {
    const { traffic, metrics } = deps;
    const admission = g.admission;
    const ac = new AbortController();
    traffic.track(ac);
    const overall = deps.limits.requestTimeoutMs ? setTimeout(() => ac.abort(), deps.limits.requestTimeoutMs) : undefined;
    const iter = g.start(ac.signal)[Symbol.asyncIterator]();
    let first: IteratorResult<ChatEvent>;
    try {
        first = await iter.next();
    } catch (e) {
        clearTimeout(overall);
        traffic.untrack(ac);
        deps.payments.release(admission);
        if (e instanceof BackendRequestError) throw new Refusal(e.status === 404 ? 'model_not_found' : 'invalid_request', e.message);
        const message = e instanceof BackendUnavailableError ? e.message : 'backend failed';
        throw new Refusal('backend_unavailable', `backend unavailable, nothing charged: ${message}`, { retryAfter: 5 });
    }

    const requestHash = requestDigest(g.opened.plaintext);
    async function* events(): AsyncGenerator<ChatEvent> {
        let step = first;
        while (!step.done) {
            yield step.value;
            step = await iter.next();
        }
    }
    const settle = async (end: GenerationEnd, d: Delivered) => {
        const receipt = await deps.payments.settle(admission, { modelId: g.modelId, usage: end.usage, requestHash, responseHash: responseDigest(d.content, d.reasoning, d.toolCalls, d.logprobs) });
        const u = end.usage;
        metrics.tokens.inc({ class: 'prompt' }, Math.max(0, u.promptTokens - u.cachedTokens));
        metrics.tokens.inc({ class: 'cached' }, u.cachedTokens);
        metrics.tokens.inc({ class: 'completion' }, Math.max(0, u.completionTokens - u.reasoningTokens));
        metrics.tokens.inc({ class: 'reasoning' }, u.reasoningTokens);
        deps.logger.info({ requestId: receipt?.requestId, cost: receipt?.cost, usage: { ...u }, finishReason: end.finishReason, ms: Math.round(performance.now() - g.t0) }, 'request served');
        return receipt;
    };
    const generation: Generation = {
        id: `${g.shape === 'text' ? 'cmpl' : 'chatcmpl'}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`,
        created: Math.floor(Date.now() / 1000),
        model: g.model,
        shape: g.shape,
        events: events(),
        sealer: g.opened.response,
        abort: () => ac.abort(),
        settle,
        release: () => deps.payments.release(admission),
        t0: g.t0,
        logprobs: g.logprobs,
        metrics,
        logger: deps.logger,
    };

    try {
        return await (g.stream ? streamCompletion(reply, generation) : sendCompletion(reply, generation));
    } finally {
        clearTimeout(overall);
        traffic.untrack(ac);
        if (!admission.settled) deps.payments.release(admission);
    }
}
