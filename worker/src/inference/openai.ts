import { HttpAnswer, httpPost } from '../../../helpers/httpPost';
import { TokenLogprob, tokenLogprobsOf } from '../../../protocol/paidRequest';
import { textLogprobsOf } from '../../../protocol/completions';
import { SseParser } from './sse';
import {
    BackendRequestError,
    BackendUnavailableError,
    Capabilities,
    ChatEvent,
    ChatMessage,
    ChatRequest,
    Completion,
    Embeddings,
    EmbeddingsRequest,
    FinishReason,
    Health,
    InferenceBackend,
    ModelInfo,
    ResponseFormat,
    StreamOptions,
    TextRequest,
    ToolCallDelta,
    Usage,
    collectCompletion,
} from './types';

export interface OpenAiOptions {
    /** Server root, e.g. http://127.0.0.1:8000 (a trailing /v1 is accepted too). */
    baseUrl: string;
    /** Sent as a bearer token to the upstream; never logged. */
    apiKey?: string;
    /**
     * Advertised model id -> upstream model name. The worker may advertise a
     * weights hash while vLLM knows the model by its Hugging Face name. When
     * empty, the upstream's own names are used.
     */
    modelMap?: Record<string, string>;
    /** Milliseconds to wait for the response headers (not the whole stream). */
    connectTimeoutMs?: number;
    /** Milliseconds without any streamed byte after which the upstream is considered stuck. */
    idleTimeoutMs?: number;
}

interface UpstreamUsage {
    prompt_tokens?: number;
    completion_tokens?: number;
    prompt_tokens_details?: { cached_tokens?: number } | null;
    completion_tokens_details?: { reasoning_tokens?: number } | null;
}

interface UpstreamChunk {
    choices?: Array<{
        delta?: {
            content?: string | null;
            reasoning_content?: string | null;
            reasoning?: string | null;
            tool_calls?: Array<{ index?: unknown; id?: unknown; function?: { name?: unknown; arguments?: unknown } }> | null;
        };
        finish_reason?: string | null;
        logprobs?: unknown;
        /** Text completions' piece of text. */
        text?: string | null;
    }>;
    usage?: UpstreamUsage | null;
    error?: { message?: string };
}

function nonNegInt(v: unknown): number | undefined {
    return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

/**
 * Prompt size guess for servers that report no usage: about four characters
 * per token for English with BPE vocabularies. Only ever used with estimated: true.
 */
function estimatePromptTokens(req: ChatRequest): number {
    const chars = req.messages.reduce((n, m) => n + m.content.length + m.role.length + 4, 0);
    return Math.ceil(chars / 4);
}

/**
 * The `openai` backend: any OpenAI-compatible server (vLLM, SGLang,
 * llama.cpp server, Ollama). Always streams from the upstream with
 * `stream_options.include_usage`, so token counts come from the engine itself;
 * if the server sends none (or the stream breaks before it does), each content
 * chunk counts as one token and the usage is marked estimated.
 */
export class OpenAiBackend implements InferenceBackend {
    readonly kind = 'openai';
    /** Passed on to the upstream, which refuses (by name, passed back) what its engine or model cannot do. */
    readonly capabilities: Capabilities = { chat: true, completions: true, embeddings: true, tools: true, json_schema: true, logprobs: true, vision: true };
    private readonly base: string;

    constructor(private readonly options: OpenAiOptions) {
        const url = new URL(options.baseUrl);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('baseUrl must be http(s)');
        this.base = url.href.replace(/\/+$/, '').replace(/\/v1$/, '');
    }

    private headers(json: boolean): Record<string, string> {
        const h: Record<string, string> = { accept: json ? 'application/json' : 'text/event-stream' };
        if (json) h['content-type'] = 'application/json';
        if (this.options.apiKey) h.authorization = `Bearer ${this.options.apiKey}`;
        return h;
    }

    private upstreamName(model: string): string | undefined {
        const map = this.options.modelMap;
        if (!map || Object.keys(map).length === 0) return model;
        return map[model];
    }

    async listModels(): Promise<ModelInfo[]> {
        const map = this.options.modelMap;
        if (map && Object.keys(map).length > 0) {
            return Object.entries(map).map(([id, upstream]) => ({ id, aliases: [upstream], ownedBy: 'cocoon-worker' }));
        }
        const res = await this.fetchWithTimeout(`${this.base}/v1/models`, { headers: this.headers(false) }, this.options.connectTimeoutMs ?? 5000);
        if (!res.ok) throw new BackendUnavailableError(`upstream /v1/models answered ${res.status}`);
        const body = (await res.json()) as { data?: Array<{ id?: unknown; owned_by?: unknown }> };
        if (!Array.isArray(body.data)) throw new BackendUnavailableError('upstream /v1/models sent no data array');
        return body.data.filter((m) => typeof m.id === 'string').map((m) => ({ id: m.id as string, aliases: [], ownedBy: typeof m.owned_by === 'string' ? m.owned_by : 'upstream' }));
    }

    async health(): Promise<Health> {
        const t0 = Date.now();
        try {
            const res = await this.fetchWithTimeout(`${this.base}/v1/models`, { headers: this.headers(false) }, 5000);
            const latencyMs = Date.now() - t0;
            if (!res.ok) return { ok: false, latencyMs, detail: `upstream answered ${res.status}` };
            const body = (await res.json()) as { data?: unknown };
            if (!Array.isArray(body.data)) return { ok: false, latencyMs, detail: 'no model list' };
            return { ok: true, latencyMs, detail: `${body.data.length} models` };
        } catch (e) {
            return { ok: false, latencyMs: Date.now() - t0, detail: (e as Error).message };
        }
    }

    private async fetchWithTimeout(url: string, init: RequestInit, ms: number, outer?: AbortSignal): Promise<Response> {
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(new Error(`no answer from upstream in ${ms} ms`)), ms);
        const onOuter = () => ac.abort(outer?.reason);
        outer?.addEventListener('abort', onOuter, { once: true });
        try {
            return await fetch(url, { ...init, signal: ac.signal });
        } finally {
            clearTimeout(timer);
            outer?.removeEventListener('abort', onOuter);
        }
    }

    async *chatStream(request: ChatRequest, options: StreamOptions = {}): AsyncGenerator<ChatEvent> {
        const upstreamModel = this.upstreamName(request.model);
        if (upstreamModel === undefined) throw new BackendRequestError(`unknown model: ${request.model}`, 404);
        const body = {
            model: upstreamModel,
            messages: request.messages.map(upstreamMessage),
            max_tokens: request.maxTokens,
            temperature: request.temperature,
            top_p: request.topP,
            seed: request.seed,
            stop: request.stop && request.stop.length > 0 ? request.stop : undefined,
            presence_penalty: request.presencePenalty,
            frequency_penalty: request.frequencyPenalty,
            logit_bias: request.logitBias,
            response_format: upstreamResponseFormat(request.responseFormat),
            tools: request.tools?.map((t) => ({ type: 'function', function: t })),
            tool_choice: typeof request.toolChoice === 'object' ? { type: 'function', function: { name: request.toolChoice.name } } : request.toolChoice,
            parallel_tool_calls: request.parallelToolCalls,
            logprobs: request.logprobs,
            top_logprobs: request.logprobs ? request.topLogprobs : undefined,
            // Forced: usage must come from the engine, and streaming lets a
            // broken or aborted request be charged for what was delivered.
            stream: true,
            stream_options: { include_usage: true },
        };
        yield* this.generation(
            '/v1/chat/completions',
            body,
            () => estimatePromptTokens(request),
            options,
            (choice) => ({
                content: choice?.delta?.content ?? undefined,
                reasoning: choice?.delta?.reasoning_content ?? choice?.delta?.reasoning ?? undefined,
                toolCalls: toolCallDeltasOf(choice?.delta?.tool_calls),
                logprobs: request.logprobs ? tokenLogprobsOf(choice?.logprobs) : [],
            }),
        );
    }

    /** A text completion from the upstream's /v1/completions: the prompt continued as it is. */
    async *textStream(request: TextRequest, options: StreamOptions = {}): AsyncGenerator<ChatEvent> {
        const upstreamModel = this.upstreamName(request.model);
        if (upstreamModel === undefined) throw new BackendRequestError(`unknown model: ${request.model}`, 404);
        const body = {
            model: upstreamModel,
            prompt: request.prompt,
            suffix: request.suffix,
            max_tokens: request.maxTokens,
            temperature: request.temperature,
            top_p: request.topP,
            seed: request.seed,
            stop: request.stop && request.stop.length > 0 ? request.stop : undefined,
            presence_penalty: request.presencePenalty,
            frequency_penalty: request.frequencyPenalty,
            logit_bias: request.logitBias,
            logprobs: request.logprobs,
            stream: true,
            stream_options: { include_usage: true },
        };
        const estimate = () => Math.ceil((request.prompt.length + (request.suffix?.length ?? 0)) / 4);
        yield* this.generation('/v1/completions', body, estimate, options, (choice) => ({
            content: typeof choice?.text === 'string' ? choice.text : undefined,
            logprobs: request.logprobs !== undefined ? textLogprobsOf(choice?.logprobs) : [],
        }));
    }

    /**
     * Streams a generation from the upstream at `path` and turns its chunks
     * into events (`pieces` reads a chunk's choice), ending with the usage the
     * upstream reported, or an estimate (`estimatePrompt`, one token a chunk)
     * when it reported none.
     */
    private async *generation(
        path: string,
        body: Record<string, unknown>,
        estimatePrompt: () => number,
        options: StreamOptions,
        pieces: (choice: NonNullable<UpstreamChunk['choices']>[number] | undefined) => { content?: string; reasoning?: string; toolCalls?: ToolCallDelta[]; logprobs: TokenLogprob[] },
    ): AsyncGenerator<ChatEvent> {
        // One controller for the whole exchange: the caller's abort and our
        // idle timeout both end the upstream request.
        const ac = new AbortController();
        const onAbort = () => ac.abort();
        options.signal?.addEventListener('abort', onAbort, { once: true });
        if (options.signal?.aborted) ac.abort();

        let res: HttpAnswer;
        // The same signal stays attached to the body, so that aborting
        // later also cancels the upstream response stream.
        const connectMs = this.options.connectTimeoutMs ?? 30_000;
        const connectTimer = setTimeout(() => ac.abort(new Error(`no answer from upstream in ${connectMs} ms`)), connectMs);
        try {
            res = await httpPost(`${this.base}${path}`, { headers: this.headers(true), body: JSON.stringify(body), signal: ac.signal });
        } catch (e) {
            clearTimeout(connectTimer);
            options.signal?.removeEventListener('abort', onAbort);
            if (options.signal?.aborted) {
                yield { type: 'end', finishReason: 'aborted', usage: { promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0, estimated: true } };
                return;
            }
            throw new BackendUnavailableError(`upstream unreachable: ${(e as Error).message}`);
        }
        if (res.status < 200 || res.status >= 300) {
            // The refusal's body is read under the same timer and abort: an upstream that stalls in it cannot hold the request.
            try {
                throw await upstreamRefusal(res);
            } finally {
                clearTimeout(connectTimer);
                options.signal?.removeEventListener('abort', onAbort);
            }
        }
        clearTimeout(connectTimer);

        let chunks = 0; // content-bearing chunks: the fallback token count
        let reasoningChunks = 0;
        let upstreamUsage: UpstreamUsage | undefined;
        let finish: string | undefined;
        let failure: string | undefined;
        let done = false;
        const decoder = new TextDecoder();
        const parser = new SseParser();
        const idleMs = this.options.idleTimeoutMs ?? 60_000;
        // One timer for the whole stream, re-armed at each read (a new timer
        // and a promise race per chunk cost more than the chunk's own work).
        // Only a read counts as waiting on the upstream: if it fires while the
        // caller holds this generator at a yield, it does nothing, and the
        // next read arms it again.
        let reading = false;
        let idleFired = false;
        const idle = setTimeout(() => {
            if (!reading) return;
            idleFired = true;
            ac.abort(new Error(`upstream sent nothing for ${idleMs} ms`));
        }, idleMs);
        try {
            while (!done) {
                let piece: Buffer | null;
                reading = true;
                idle.refresh();
                try {
                    piece = await res.read();
                } catch (e) {
                    if (idleFired) failure = `upstream stream broke: upstream sent nothing for ${idleMs} ms`;
                    else if (!ac.signal.aborted) failure = `upstream stream broke: ${(e as Error).message}`;
                    break;
                } finally {
                    reading = false;
                }
                const events = piece === null ? parser.flush() : parser.push(decoder.decode(piece, { stream: true }));
                for (const data of events) {
                    // Nothing after an abort is delivered, so nothing after it is counted.
                    if (ac.signal.aborted) break;
                    if (data.trim() === '[DONE]') {
                        done = true;
                        break;
                    }
                    let chunk: UpstreamChunk;
                    try {
                        chunk = JSON.parse(data) as UpstreamChunk;
                    } catch {
                        failure = 'upstream sent malformed JSON in the stream';
                        done = true;
                        break;
                    }
                    if (chunk.error) {
                        failure = `upstream error: ${String(chunk.error.message ?? 'unknown').slice(0, 500)}`;
                        done = true;
                        break;
                    }
                    if (chunk.usage) upstreamUsage = chunk.usage;
                    const choice = chunk.choices?.[0];
                    if (choice?.finish_reason) finish = choice.finish_reason;
                    const { content, reasoning, toolCalls, logprobs } = pieces(choice);
                    if (content || reasoning || toolCalls || logprobs.length > 0) {
                        chunks++;
                        if (reasoning) reasoningChunks++;
                        yield {
                            type: 'delta',
                            content: content || undefined,
                            reasoning: reasoning || undefined,
                            ...(toolCalls ? { toolCalls } : {}),
                            ...(logprobs.length > 0 ? { logprobs } : {}),
                        };
                    }
                }
                if (ac.signal.aborted) break;
                if (piece === null) {
                    // A stream that ends without [DONE] and without a finish
                    // reason was cut, even if the connection closed cleanly.
                    if (!done && !finish && !ac.signal.aborted) failure = 'upstream stream ended early';
                    break;
                }
            }
        } finally {
            clearTimeout(idle);
            options.signal?.removeEventListener('abort', onAbort);
            // Stop the upstream from generating (and us from paying for) more;
            // after a clean [DONE], read what is left of the body (normally
            // just its end) so that the connection can serve another request.
            if (!done || failure !== undefined || ac.signal.aborted) {
                ac.abort();
                res.cancel();
            } else res.release();
        }

        const usage = this.usageOf(estimatePrompt, upstreamUsage, chunks, reasoningChunks);
        let finishReason: FinishReason;
        if (options.signal?.aborted) finishReason = 'aborted';
        else if (failure) finishReason = 'error';
        else finishReason = finish === 'length' ? 'length' : finish === 'tool_calls' || finish === 'function_call' ? 'tool_calls' : 'stop';
        yield { type: 'end', finishReason, usage, ...(finishReason === 'error' ? { error: failure } : {}) };
    }

    private usageOf(estimatePrompt: () => number, u: UpstreamUsage | undefined, chunks: number, reasoningChunks: number): Usage {
        const prompt = nonNegInt(u?.prompt_tokens);
        const completion = nonNegInt(u?.completion_tokens);
        if (u && prompt !== undefined && completion !== undefined) {
            const cached = nonNegInt(u.prompt_tokens_details?.cached_tokens) ?? 0;
            const reasoning = nonNegInt(u.completion_tokens_details?.reasoning_tokens) ?? 0;
            return {
                promptTokens: prompt,
                cachedTokens: Math.min(cached, prompt),
                completionTokens: completion,
                reasoningTokens: Math.min(reasoning, completion),
                estimated: false,
            };
        }
        return {
            promptTokens: estimatePrompt(),
            cachedTokens: 0,
            completionTokens: chunks,
            reasoningTokens: reasoningChunks,
            estimated: true,
        };
    }

    complete(request: ChatRequest, options?: StreamOptions): Promise<Completion> {
        return collectCompletion(this.chatStream(request, options));
    }

    async embed(request: EmbeddingsRequest, options: StreamOptions = {}): Promise<Embeddings> {
        const upstreamModel = this.upstreamName(request.model);
        if (upstreamModel === undefined) throw new BackendRequestError(`unknown model: ${request.model}`, 404);
        // Floats from the upstream: the worker encodes them as the client asked, and hashes what it sends.
        const body = { model: upstreamModel, input: request.inputs, encoding_format: 'float', ...(request.dimensions ? { dimensions: request.dimensions } : {}) };
        let res: Response;
        try {
            res = await this.fetchWithTimeout(
                `${this.base}/v1/embeddings`,
                { method: 'POST', headers: this.headers(true), body: JSON.stringify(body) },
                this.options.connectTimeoutMs ?? 30_000,
                options.signal,
            );
        } catch (e) {
            throw new BackendUnavailableError(`upstream unreachable: ${(e as Error).message}`);
        }
        if (!res.ok) throw await upstreamRefusal(res);
        let answer: { data?: Array<{ index?: unknown; embedding?: unknown }>; usage?: { prompt_tokens?: unknown } };
        try {
            answer = (await res.json()) as typeof answer;
        } catch {
            throw new BackendUnavailableError('upstream sent malformed JSON for embeddings');
        }
        const data = Array.isArray(answer.data) ? answer.data : [];
        const vectors: number[][] = new Array(request.inputs.length);
        for (const d of data) {
            const i = typeof d.index === 'number' && Number.isInteger(d.index) && d.index >= 0 && d.index < request.inputs.length ? d.index : -1;
            if (i < 0 || !Array.isArray(d.embedding) || !d.embedding.every((x) => typeof x === 'number' && Number.isFinite(x)) || vectors[i])
                throw new BackendUnavailableError('upstream sent malformed embeddings');
            vectors[i] = d.embedding as number[];
        }
        if (data.length !== request.inputs.length) throw new BackendUnavailableError(`upstream sent ${data.length} embeddings for ${request.inputs.length} inputs`);
        const prompt = nonNegInt(answer.usage?.prompt_tokens);
        if (prompt !== undefined) return { vectors, promptTokens: prompt, estimated: false };
        // About four characters a token, as for chat prompts an upstream does not count.
        const tokens = request.inputs.reduce<number>((n, x) => n + (typeof x === 'string' ? Math.ceil(x.length / 4) : x.length), 0);
        return { vectors, promptTokens: tokens, estimated: true };
    }

    async close(): Promise<void> {
        // Stateless: connections are pooled (fetch's, and helpers/httpPost.ts's agents) and close when idle.
    }
}

/** An upstream's refusal as the worker passes it on: its own words; a 4xx the request's fault (nothing charged), other statuses the backend's. */
async function upstreamRefusal(res: { status: number; text(): Promise<string> }): Promise<Error> {
    const text = await res.text().catch(() => '');
    let message = `upstream answered ${res.status}`;
    try {
        const j = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
        const m = typeof j.error === 'string' ? j.error : (j.error?.message ?? j.message);
        if (m) message += `: ${String(m).slice(0, 500)}`;
    } catch {
        /* not JSON */
    }
    if (res.status === 404) return new BackendRequestError(message, 404);
    if (res.status >= 400 && res.status < 500 && res.status !== 429 && res.status !== 408) return new BackendRequestError(message, 400);
    return new BackendUnavailableError(message);
}

/** response_format as the OpenAI API spells it; an upstream that cannot honour it refuses it (a 400 passed on to the client). */
function upstreamResponseFormat(f: ResponseFormat | undefined): unknown {
    if (!f) return undefined;
    if (f.type === 'json_object') return { type: 'json_object' };
    return { type: 'json_schema', json_schema: { name: f.name, schema: f.schema, strict: f.strict } };
}

/** A message as the OpenAI API spells it (an assistant's tool calls, a tool's answer). */
function upstreamMessage(m: ChatMessage): Record<string, unknown> {
    if (m.toolCalls) return { role: m.role, content: m.content === '' ? null : m.content, tool_calls: m.toolCalls };
    if (m.toolCallId !== undefined) return { role: m.role, content: m.content, tool_call_id: m.toolCallId };
    if (m.parts) return { role: m.role, content: m.parts };
    return { role: m.role, content: m.content };
}

/** The upstream's tool-call pieces, kept only in the shape OpenAI streams them (an index, then strings). */
function toolCallDeltasOf(raw: NonNullable<NonNullable<UpstreamChunk['choices']>[number]['delta']>['tool_calls']): ToolCallDelta[] | undefined {
    if (!Array.isArray(raw) || raw.length === 0) return undefined;
    const out: ToolCallDelta[] = [];
    for (const d of raw) {
        if (typeof d?.index !== 'number' || !Number.isInteger(d.index) || d.index < 0 || d.index >= 128) continue;
        const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
        out.push({ index: d.index, id: str(d.id), name: str(d.function?.name), arguments: str(d.function?.arguments) });
    }
    return out.length > 0 ? out : undefined;
}
