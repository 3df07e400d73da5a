import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { X25519KeyPair } from '../../../../helpers/hpke';
import { ChatCompletionRequest, ChatMessageInput, contentImages, contentText, paidRequestSchema, promptTokenBound } from '../../../../protocol/paidRequest';
import { ChatMessage, ChatRequest, InferenceBackend, ResponseFormat } from '../../inference/types';
import type { WorkerMetrics } from '../../metrics';
import type { Admission, Payments } from '../../payments';
import type { ReplayGuard } from '../../replay';
import { findModel, openPaidEnvelope, registerPaidRoute } from '../paidEnvelope';
import { servePaidGeneration } from '../paidGeneration';
import type { ChatTraffic } from '../chatTraffic';
import type { ModelCatalog } from '../modelCatalog';

/**
 * Paid chat completions: a sealed PaidRequest in (protocol/paidRequest.ts),
 * admitted against its channel, served by the backend and answered sealed
 * with its receipt. The plaintext lives only in this process's memory and
 * is never logged.
 */

export interface ChatRouteDeps {
    backend: InferenceBackend;
    payments: Payments;
    encryptionKey: X25519KeyPair;
    catalog: ModelCatalog;
    traffic: ChatTraffic;
    metrics: WorkerMetrics;
    logger: Logger;
    limits: { maxConcurrent: number; defaultMaxTokens: number; maxTokens: number; requestTimeoutMs?: number };
    /** Shared by every paid route. */
    replays: ReplayGuard;
}

export function registerChatRoute(app: FastifyInstance, deps: ChatRouteDeps): void {
    registerPaidRoute(app, '/v1/chat/completions', deps, serve);

    async function serve(body: Buffer, reply: FastifyReply, t0: number) {
        const { opened, paid } = await openPaidEnvelope(body, deps.encryptionKey, deps.replays, paidRequestSchema);
        const r = paid.request;
        const model = await findModel(deps.catalog, r.model);
        const modelId = deps.catalog.chainId(model);

        const maxTokens = Math.min(r.max_completion_tokens ?? r.max_tokens ?? deps.limits.defaultMaxTokens, deps.limits.maxTokens);
        const messages = r.messages.map(chatMessageOf);
        const promptBound = promptTokenBound(r);
        const stop = r.stop === undefined || r.stop === null ? undefined : typeof r.stop === 'string' ? [r.stop] : r.stop;
        const chat: ChatRequest = {
            model: model.id,
            messages,
            maxTokens,
            temperature: r.temperature ?? undefined,
            topP: r.top_p ?? undefined,
            seed: r.seed ?? undefined,
            stop,
            presencePenalty: r.presence_penalty ?? undefined,
            frequencyPenalty: r.frequency_penalty ?? undefined,
            logitBias: r.logit_bias ?? undefined,
            responseFormat: responseFormatOf(r.response_format),
            ...(r.logprobs ? { logprobs: true, topLogprobs: r.top_logprobs ?? 0 } : {}),
            ...toolsOf(r),
            promptBound,
        };

        const admission: Admission = await deps.payments.admit({ channel: paid.channel, voucher: paid.voucher, promptBound, maxTokens, modelId });

        return servePaidGeneration(deps, reply, {
            opened,
            admission,
            modelId,
            model: model.id,
            t0,
            shape: 'chat',
            stream: r.stream === true,
            logprobs: r.logprobs === true,
            start: (signal) => deps.backend.chatStream(chat, { signal }),
        });
    }
}

/** The backend's form of response_format (plain text asks for nothing). A json_schema without a schema asks for any JSON. */
function responseFormatOf(f: ChatCompletionRequest['response_format']): ResponseFormat | undefined {
    if (!f) return undefined;
    if (f.type === 'json_object') return { type: 'json_object' };
    return { type: 'json_schema', name: f.json_schema.name, schema: f.json_schema.schema ?? {}, strict: f.json_schema.strict ?? false };
}

/** A message as backends take it: text content, and the tool calls or the call answered. */
function chatMessageOf(m: ChatMessageInput): ChatMessage {
    const content = contentText(m.content ?? '');
    if (m.role === 'assistant') return m.tool_calls ? { role: m.role, content, toolCalls: m.tool_calls } : { role: m.role, content };
    if (m.role === 'tool') return { role: m.role, content, toolCallId: m.tool_call_id };
    if (m.role === 'user' && contentImages(m.content) > 0) return { role: m.role, content, parts: [...(m.content as NonNullable<ChatMessage['parts']>)] };
    return { role: m.role, content };
}

/** Tools, the choice among them and whether several calls may come at once; without tools the other two ask for nothing (and upstreams refuse them alone). */
function toolsOf(r: ChatCompletionRequest): Pick<ChatRequest, 'tools' | 'toolChoice' | 'parallelToolCalls'> {
    if (!r.tools || r.tools.length === 0) return {};
    const choice = r.tool_choice;
    return {
        tools: r.tools.map((t) => ({ ...t.function, strict: t.function.strict ?? undefined })),
        toolChoice: choice ? (typeof choice === 'string' ? choice : { name: choice.function.name }) : undefined,
        parallelToolCalls: r.parallel_tool_calls ?? undefined,
    };
}
