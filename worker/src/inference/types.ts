/**
 * The one interface every inference engine sits behind. The worker charges for
 * what a backend reports here, so the usage record is the contract that matters:
 * it must describe the tokens actually delivered to the client, including when
 * the client aborts or the engine breaks mid-stream.
 */

import type { TokenLogprob } from '../../../protocol/paidRequest';

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

export interface ChatMessage {
    role: ChatRole;
    /** The text (a user message's images left out: see parts). */
    content: string;
    /** A user message with images: its whole content in order, as the OpenAI API spells it (backends without vision refuse it). */
    parts?: Array<{ type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string; detail?: 'auto' | 'low' | 'high' } }>;
    /** An assistant message's calls of tools (OpenAI's shape). */
    toolCalls?: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }>;
    /** A tool message: the call it answers. */
    toolCallId?: string;
}

/** A function the model may call: its name, what it does and its parameters' JSON schema. */
export interface ToolDefinition {
    name: string;
    description?: string;
    parameters?: Record<string, unknown>;
    strict?: boolean;
}

export type ToolChoice = 'none' | 'auto' | 'required' | { name: string };

export interface ChatRequest {
    /** Model id as listed by `listModels()` (or an alias the backend accepts). */
    model: string;
    messages: ChatMessage[];
    /** Upper bound on generated tokens; the worker prices a request by it. */
    maxTokens: number;
    temperature?: number;
    topP?: number;
    seed?: number;
    stop?: string[];
    /** OpenAI semantics: subtracted from the logits of tokens already generated, once (presence) or per occurrence (frequency). */
    presencePenalty?: number;
    frequencyPenalty?: number;
    /** Token id (decimal, the model's own vocabulary) to a bias added to its logit; -100 bans it. */
    logitBias?: Record<string, number>;
    /** The answer must be a JSON object, or follow a JSON schema. */
    responseFormat?: ResponseFormat;
    /** Functions the model may call, whether it must, and whether several at once. */
    tools?: ToolDefinition[];
    toolChoice?: ToolChoice;
    parallelToolCalls?: boolean;
    /**
     * The most prompt tokens the request may be billed for (the worker admitted it
     * for that many, and the client refuses a receipt that counts more): an engine
     * whose template would make the prompt longer refuses the request instead.
     */
    promptBound?: number;
    /** Deliver each token's log probability, with the `topLogprobs` likeliest tokens at each place. */
    logprobs?: boolean;
    topLogprobs?: number;
}

/** A text completion: the prompt continued as it is, with no chat template. */
export interface TextRequest {
    model: string;
    prompt: string;
    /** Text that comes after the completion (fill-in-the-middle), for models that take one. */
    suffix?: string;
    /** Deliver each token's log probability, with this many likeliest tokens at each place (absent: none). */
    logprobs?: number;
    maxTokens: number;
    temperature?: number;
    topP?: number;
    seed?: number;
    stop?: string[];
    presencePenalty?: number;
    frequencyPenalty?: number;
    logitBias?: Record<string, number>;
}

export type ResponseFormat = { type: 'json_object' } | { type: 'json_schema'; name: string; schema: Record<string, unknown>; strict: boolean };

export interface Usage {
    promptTokens: number;
    /** Prompt tokens served from a prefix cache (a subset of promptTokens). */
    cachedTokens: number;
    /** Generated tokens delivered, reasoning included (OpenAI semantics). */
    completionTokens: number;
    /** Generated tokens that were reasoning ("thinking"), a subset of completionTokens. */
    reasoningTokens: number;
    /** True when a count was not reported by the engine but estimated (e.g. one token per streamed chunk). */
    estimated: boolean;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'aborted' | 'error';

/** A piece of a tool call as it streams (OpenAI's `delta.tool_calls` entry): the id and name come once, the arguments in pieces. */
export interface ToolCallDelta {
    index: number;
    id?: string;
    name?: string;
    arguments?: string;
}

export interface ChatDelta {
    type: 'delta';
    content?: string;
    reasoning?: string;
    toolCalls?: ToolCallDelta[];
    /** The log probabilities of this delta's tokens (OpenAI's shape), when asked for. */
    logprobs?: TokenLogprob[];
}

export interface ChatEnd {
    type: 'end';
    finishReason: FinishReason;
    usage: Usage;
    /** Set when finishReason is 'error': what broke (never contains the prompt). */
    error?: string;
}

/** A stream yields zero or more deltas and always ends with exactly one `end`. */
export type ChatEvent = ChatDelta | ChatEnd;

export interface ModelInfo {
    id: string;
    /** Other names the backend accepts for this model. */
    aliases: string[];
    ownedBy: string;
    contextLength?: number;
}

export interface Health {
    ok: boolean;
    latencyMs: number;
    detail?: string;
}

export interface StreamOptions {
    /**
     * Aborting stops generation; the stream then ends normally with
     * finishReason 'aborted' and the usage of what was delivered so far.
     */
    signal?: AbortSignal;
}

export interface Completion {
    content: string;
    reasoning: string;
    finishReason: FinishReason;
    usage: Usage;
    error?: string;
}

/** Texts (or token id arrays) to embed, one vector each. */
export interface EmbeddingsRequest {
    model: string;
    inputs: string[] | number[][];
    /** Vector length asked for (models that can shorten their vectors); undefined: the model's own. */
    dimensions?: number;
}

export interface Embeddings {
    vectors: number[][];
    /** Tokens embedded: what the request is charged for. */
    promptTokens: number;
    /** True when the engine reported no count and it was estimated. */
    estimated: boolean;
}

/** What a backend can serve, as the worker's /v1/models tells apps (a request for the rest is refused by name). */
export interface Capabilities {
    chat: boolean;
    completions: boolean;
    embeddings: boolean;
    tools: boolean;
    json_schema: boolean;
    logprobs: boolean;
    /** Image input (image_url parts in user messages). */
    vision: boolean;
}

export interface InferenceBackend {
    readonly kind: string;
    readonly capabilities: Capabilities;
    listModels(): Promise<ModelInfo[]>;
    /**
     * Streams a chat completion. Backend failures before anything was generated
     * reject with BackendUnavailableError (the worker answers 503 and charges
     * nothing); failures after that end the stream with finishReason 'error'.
     */
    chatStream(request: ChatRequest, options?: StreamOptions): AsyncIterable<ChatEvent>;
    complete(request: ChatRequest, options?: StreamOptions): Promise<Completion>;
    /** Streams a text completion, with the same events, failures and usage rules as chatStream. */
    textStream(request: TextRequest, options?: StreamOptions): AsyncIterable<ChatEvent>;
    /**
     * Embeds the inputs, or rejects: BackendRequestError when the request
     * cannot be served as asked, BackendUnavailableError when the engine
     * cannot serve now (nothing is charged either way).
     */
    embed(request: EmbeddingsRequest, options?: StreamOptions): Promise<Embeddings>;
    health(): Promise<Health>;
    close(): Promise<void>;
}

/** The backend cannot serve at all right now (down, not loaded): no charge applies. */
export class BackendUnavailableError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'BackendUnavailableError';
    }
}

/**
 * Every slot of the backend stayed taken: its wait queue was full or the
 * request's wait for a slot ran out. Nothing was generated, so nothing is
 * charged, and trying again shortly may succeed; it is a kind of
 * BackendUnavailableError so the HTTP layer answers 503 with Retry-After.
 */
export class BackendBusyError extends BackendUnavailableError {
    constructor(message: string) {
        super(message);
        this.name = 'BackendBusyError';
    }
}

/** The request cannot be served by this backend as asked (unknown model, bad parameters). */
export class BackendRequestError extends Error {
    constructor(
        message: string,
        readonly status: number = 400,
    ) {
        super(message);
        this.name = 'BackendRequestError';
    }
}

export function zeroUsage(estimated = false): Usage {
    return { promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0, estimated };
}

/** Non-streaming completion built on any stream: concatenates deltas, keeps the final record. */
export async function collectCompletion(events: AsyncIterable<ChatEvent>): Promise<Completion> {
    let content = '';
    let reasoning = '';
    for await (const ev of events) {
        if (ev.type === 'delta') {
            content += ev.content ?? '';
            reasoning += ev.reasoning ?? '';
        } else {
            return { content, reasoning, finishReason: ev.finishReason, usage: ev.usage, error: ev.error };
        }
    }
    throw new Error('inference stream ended without a usage record');
}
