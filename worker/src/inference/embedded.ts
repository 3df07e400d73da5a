import { ChildProcess, fork } from 'node:child_process';
import { basename, join } from 'node:path';
import { existsSync } from 'node:fs';
import { HashProgress, hashModelFile } from './modelHash';
import type { ChatCommand, HostCommand, HostReply, LoadCommand, Occupancy, TextCommand } from './llamaHost';
import {
    BackendBusyError,
    BackendRequestError,
    BackendUnavailableError,
    Capabilities,
    ChatEvent,
    ChatRequest,
    Completion,
    Embeddings,
    EmbeddingsRequest,
    Health,
    InferenceBackend,
    ModelInfo,
    ResponseFormat,
    StreamOptions,
    TextRequest,
    Usage,
    collectCompletion,
} from './types';
import { grammarSchemaOf } from './jsonSchemaGrammar';

export interface EmbeddedOptions {
    /** Path of the GGUF file. */
    modelPath: string;
    /** 'auto' uses CUDA/Vulkan/Metal when the prebuilt binaries find one; false forces CPU. */
    gpu?: 'auto' | false;
    /** CPU threads for generation (on 2 cores, 1 was fastest for small models). */
    threads?: number;
    /**
     * Tokens of context each request gets (prompt plus max_tokens must fit).
     * Every sequence has its own: the KV cache holds contextSize × sequences.
     */
    contextSize?: number;
    /**
     * Requests decoded together (llama.cpp sequences in one context, their
     * decoding batched); 'auto' (the default) picks what suits the device
     * and the memory free for the KV cache.
     */
    sequences?: number | 'auto';
    /** Requests that may wait for a free sequence; beyond that they are refused at once (BackendBusyError). */
    maxQueued?: number;
    /** How long a request may wait for a free sequence before it is refused (BackendBusyError). */
    queueTimeoutMs?: number;
    /** Extra name clients may use instead of the hash id. */
    alias?: string;
    /** Known SHA-256 of the file (skips hashing, e.g. when the caller just hashed it). */
    modelId?: string;
    onHashProgress?: (p: HashProgress) => void;
    /** Milliseconds to wait for the model to load. */
    loadTimeoutMs?: number;
}

type Listener = (reply: HostReply) => void;

/** Requests that may wait for a free sequence by default: a few batches' worth, not an unbounded backlog. */
export const DEFAULT_MAX_QUEUED = 32;
/** How long a request waits for a free sequence by default before it is refused as busy. */
export const DEFAULT_QUEUE_TIMEOUT_MS = 10_000;

/**
 * The `embedded` backend: a GGUF model run by node-llama-cpp in a child
 * process (see llamaHost.ts for why). Model id = SHA-256 of the file.
 */
export class EmbeddedBackend implements InferenceBackend {
    readonly kind = 'embedded';
    readonly capabilities: Capabilities = { chat: true, completions: true, embeddings: true, tools: true, json_schema: true, logprobs: false, vision: false };
    private nextId = 1;
    private listeners = new Map<number, Listener>();
    private alive = true;
    private exitReason = '';

    private constructor(
        private readonly child: ChildProcess,
        readonly modelId: string,
        private readonly options: EmbeddedOptions,
        /** Tokens of context each request gets. */
        readonly contextSize: number,
        /** Requests the engine decodes together. */
        readonly sequences: number,
        readonly gpu: string | false,
    ) {
        child.on('message', (replies: HostReply[]) => {
            for (const reply of replies) if ('id' in reply) this.listeners.get(reply.id)?.(reply);
        });
        child.on('exit', (code, signal) => {
            this.alive = false;
            this.exitReason = `engine process exited (${signal ?? code})`;
            // Every open stream learns that its engine is gone.
            for (const [id, l] of this.listeners) l({ op: 'reject', id, status: 503, message: this.exitReason });
        });
    }

    static async start(options: EmbeddedOptions): Promise<EmbeddedBackend> {
        if (!existsSync(options.modelPath)) throw new Error(`model file not found: ${options.modelPath}`);
        const modelId = options.modelId ?? (await hashModelFile(options.modelPath, options.onHashProgress));
        const child = spawnHost();
        const load: LoadCommand = {
            op: 'load',
            modelPath: options.modelPath,
            gpu: options.gpu ?? false,
            threads: options.threads ?? 1,
            contextSize: options.contextSize ?? 2048,
            sequences: options.sequences ?? 'auto',
            maxQueued: options.maxQueued ?? DEFAULT_MAX_QUEUED,
            queueTimeoutMs: options.queueTimeoutMs ?? DEFAULT_QUEUE_TIMEOUT_MS,
        };
        const loaded = await new Promise<Extract<HostReply, { op: 'loaded' }>>((resolve, reject) => {
            const timer = setTimeout(() => {
                child.kill('SIGKILL');
                reject(new Error('timed out loading the model'));
            }, options.loadTimeoutMs ?? 120_000);
            child.once('message', ([r]: HostReply[]) => {
                clearTimeout(timer);
                if (r.op === 'loaded') resolve(r);
                else {
                    child.kill('SIGKILL');
                    reject(new Error(`could not load the model: ${r.op === 'load-error' ? r.message : r.op}`));
                }
            });
            child.once('exit', (code) => {
                clearTimeout(timer);
                reject(new Error(`engine process exited while loading (${code}): ${(child as unknown as { stderrTail: string }).stderrTail}`));
            });
            child.send(load);
        });
        return new EmbeddedBackend(child, modelId, options, loaded.contextSize, loaded.sequences, loaded.gpu);
    }

    /** The engine process id (tests kill it to simulate an engine crash). */
    get pid(): number | undefined {
        return this.child.pid;
    }

    async listModels(): Promise<ModelInfo[]> {
        const aliases = [basename(this.options.modelPath)];
        if (this.options.alias) aliases.unshift(this.options.alias);
        return [{ id: this.modelId, aliases, ownedBy: 'cocoon-worker', contextLength: this.contextSize }];
    }

    private knows(model: string): boolean {
        return model === this.modelId || model === this.options.alias || model === basename(this.options.modelPath);
    }

    private send(cmd: HostCommand) {
        if (this.alive && this.child.connected) this.child.send(cmd);
    }

    async *chatStream(request: ChatRequest, options: StreamOptions = {}): AsyncGenerator<ChatEvent> {
        if (!this.knows(request.model)) throw new BackendRequestError(`unknown model: ${request.model}`, 404);
        if (!this.alive) throw new BackendUnavailableError(this.exitReason);
        refuseImages(request);
        // node-llama-cpp's chat generation reports the tokens it sampled, not their probabilities.
        if (request.logprobs !== undefined) throw new BackendRequestError("logprobs: not supported by this worker's embedded engine (an OpenAI-compatible backend passes them on)", 400);
        const grammar = grammarOf(request.responseFormat);
        const tools = toolsOf(request);
        if (grammar && tools.tools) throw new BackendRequestError("response_format: not supported together with tools by this worker's embedded engine (a tool call is itself constrained JSON)", 400);
        yield* this.hostStream(
            (id) => ({
                op: 'chat',
                id,
                messages: request.messages,
                ...samplingOf(request),
                grammar,
                ...tools,
                promptBound: request.promptBound,
            }),
            options,
        );
    }

    async *textStream(request: TextRequest, options: StreamOptions = {}): AsyncGenerator<ChatEvent> {
        if (!this.knows(request.model)) throw new BackendRequestError(`unknown model: ${request.model}`, 404);
        if (!this.alive) throw new BackendUnavailableError(this.exitReason);
        if (request.suffix) throw new BackendRequestError("suffix: not supported by this worker's embedded engine (it continues the prompt; an OpenAI-compatible backend may fill in the middle)", 400);
        if (request.logprobs !== undefined) throw new BackendRequestError("logprobs: not supported by this worker's embedded engine (an OpenAI-compatible backend passes them on)", 400);
        yield* this.hostStream(
            (id) => ({
                op: 'text',
                id,
                prompt: request.prompt,
                ...samplingOf(request),
            }),
            options,
        );
    }

    /** Runs one generation in the engine process (`command` made for its id) and yields its events as they arrive. */
    private async *hostStream(command: (id: number) => ChatCommand | TextCommand, options: StreamOptions): AsyncGenerator<ChatEvent> {
        const id = this.nextId++;
        const queue: HostReply[] = [];
        let wake: (() => void) | undefined;
        this.listeners.set(id, (r) => {
            queue.push(r);
            wake?.();
        });
        const onAbort = () => this.send({ op: 'abort', id });
        options.signal?.addEventListener('abort', onAbort, { once: true });
        const cmd = command(id);
        // What was delivered, tallied here too: if the engine dies mid-stream
        // the worker still charges exactly these tokens.
        const delivered: Usage = { promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0, estimated: false };
        let started = false;
        let ended = false;
        try {
            this.send(cmd);
            if (options.signal?.aborted) onAbort();
            for (;;) {
                while (queue.length === 0) await new Promise<void>((r) => (wake = r));
                const r = queue.shift()!;
                if (r.op === 'reject') {
                    if (!started) {
                        if (r.status === 503) throw new BackendUnavailableError(r.message);
                        if (r.status === 429) throw new BackendBusyError(r.message);
                        if (r.status === 499) {
                            ended = true;
                            yield { type: 'end', finishReason: 'aborted', usage: delivered };
                            return;
                        }
                        throw new BackendRequestError(r.message, r.status);
                    }
                    ended = true;
                    yield { type: 'end', finishReason: 'error', usage: delivered, error: r.message };
                    return;
                }
                if (r.op === 'started') {
                    started = true;
                    delivered.promptTokens = r.promptTokens;
                } else if (r.op === 'delta') {
                    delivered.completionTokens += r.tokens;
                    if (r.reasoning !== undefined) delivered.reasoningTokens += r.tokens;
                    if ((r.content ?? '') !== '' || (r.reasoning ?? '') !== '' || r.toolCalls)
                        yield { type: 'delta', content: r.content, reasoning: r.reasoning, ...(r.toolCalls ? { toolCalls: r.toolCalls } : {}) };
                } else if (r.op === 'end') {
                    ended = true;
                    yield { type: 'end', finishReason: r.finishReason, usage: r.usage, error: r.error };
                    return;
                }
            }
        } finally {
            // A consumer that stops iterating early must stop the generation too.
            if (!ended) this.send({ op: 'abort', id });
            options.signal?.removeEventListener('abort', onAbort);
            this.listeners.delete(id);
        }
    }

    complete(request: ChatRequest, options?: StreamOptions): Promise<Completion> {
        return collectCompletion(this.chatStream(request, options));
    }

    async embed(request: EmbeddingsRequest): Promise<Embeddings> {
        if (!this.knows(request.model)) throw new BackendRequestError(`unknown model: ${request.model}`, 404);
        if (!this.alive) throw new BackendUnavailableError(this.exitReason);
        const id = this.nextId++;
        try {
            const reply = await new Promise<HostReply>((resolve) => {
                this.listeners.set(id, resolve);
                this.send({ op: 'embed', id, inputs: request.inputs });
            });
            if (reply.op === 'embedded') {
                const size = reply.vectors[0]?.length ?? 0;
                // A model makes vectors of one length; shortening them means something only for models trained for it.
                if (request.dimensions !== undefined && request.dimensions !== size)
                    throw new BackendRequestError(`dimensions: this model's embeddings have ${size} dimensions and the embedded engine cannot shorten them`, 400);
                return { vectors: reply.vectors, promptTokens: reply.promptTokens, estimated: false };
            }
            if (reply.op === 'reject' && reply.status === 400) throw new BackendRequestError(reply.message, 400);
            throw new BackendUnavailableError(reply.op === 'reject' ? reply.message : `unexpected engine reply ${reply.op}`);
        } finally {
            this.listeners.delete(id);
        }
    }

    async health(): Promise<Health> {
        const t0 = Date.now();
        if (!this.alive) return { ok: false, latencyMs: 0, detail: this.exitReason };
        try {
            const o = await this.occupancy();
            return { ok: true, latencyMs: Date.now() - t0, detail: `${o.busy} of ${o.sequences} sequences busy, ${o.queued} waiting` };
        } catch (e) {
            return { ok: false, latencyMs: Date.now() - t0, detail: (e as Error).message };
        }
    }

    /** What the engine counts of its sequences and batch steps (Occupancy in llamaHost.ts). */
    async occupancy(): Promise<Occupancy> {
        if (!this.alive) throw new BackendUnavailableError(this.exitReason);
        const id = this.nextId++;
        try {
            return await new Promise((resolve, reject) => {
                const timer = setTimeout(() => reject(new Error('engine did not answer a ping in 5 s')), 5000);
                this.listeners.set(id, (r) => {
                    clearTimeout(timer);
                    if (r.op === 'pong') {
                        const { op: _op, id: _id, ...occupancy } = r;
                        resolve(occupancy);
                    } else reject(new Error(r.op === 'reject' ? r.message : 'unexpected reply'));
                });
                this.send({ op: 'ping', id });
            });
        } finally {
            this.listeners.delete(id);
        }
    }

    async close(): Promise<void> {
        if (!this.alive) return;
        const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
        this.child.disconnect();
        const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
    }
}

/** Forks llamaHost: the .ts source under ts-node (dev, tests) or the compiled .js. */
function spawnHost(): ChildProcess {
    const ts = join(__dirname, 'llamaHost.ts');
    const js = join(__dirname, 'llamaHost.js');
    const useTs = __filename.endsWith('.ts') && existsSync(ts);
    const child = fork(useTs ? ts : js, [], {
        execArgv: useTs ? ['-r', 'ts-node/register/transpile-only'] : [],
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        serialization: 'json',
    });
    // Drain llama.cpp's stderr (a full pipe would block the engine) and keep
    // its tail for diagnosing a failed load. It never contains prompts.
    let tail = '';
    child.stderr?.on('data', (d: Buffer) => {
        tail = (tail + d.toString('utf8')).slice(-4000);
    });
    Object.defineProperty(child, 'stderrTail', { get: () => tail });
    return child;
}

/** The sampling settings chat and text completions share, as the engine host takes them. */
function samplingOf(r: ChatRequest | TextRequest): Omit<TextCommand, 'op' | 'id' | 'prompt'> {
    return {
        maxTokens: r.maxTokens,
        // OpenAI's default is 1 (sampling); llama.cpp's is greedy. Apps expect the former.
        temperature: r.temperature ?? 1,
        topP: r.topP,
        seed: r.seed,
        stop: r.stop,
        presencePenalty: r.presencePenalty,
        frequencyPenalty: r.frequencyPenalty,
        logitBias: r.logitBias,
    };
}

/** The grammar a response_format asks for (throws a 400 for a schema the engine cannot enforce). */
function grammarOf(f: ResponseFormat | undefined): ChatCommand['grammar'] {
    if (!f) return undefined;
    const schema = f.type === 'json_schema' ? grammarSchemaOf(f.schema) : undefined;
    return schema ? { kind: 'schema', schema } : { kind: 'json' };
}

/** Images are served by OpenAI-compatible backends; this engine reads text only and refuses them by name rather than answer as if none were sent. */
function refuseImages(request: ChatRequest): void {
    const image = request.messages.findIndex((m) => m.parts?.some((p) => p.type === 'image_url'));
    if (image >= 0) throw new BackendRequestError(`messages.${image}.content: images not supported by this worker's embedded engine (it reads text only)`, 400);
}

/**
 * The tools as the engine host takes them: each function's parameters as a
 * schema its grammar can enforce (a 400 naming what it cannot), and the
 * choice. tool_choice "none" offers none: the model answers in text.
 */
function toolsOf(request: ChatRequest): Pick<ChatCommand, 'tools' | 'toolChoice' | 'parallelToolCalls'> {
    if (!request.tools || request.tools.length === 0 || request.toolChoice === 'none') return {};
    const tools = request.tools.map((t, i) => ({
        name: t.name,
        description: t.description,
        parameters: t.parameters ? grammarSchemaOf(t.parameters, `tools.${i}.function.parameters`) : undefined,
    }));
    return { tools, toolChoice: request.toolChoice ?? 'auto', parallelToolCalls: request.parallelToolCalls };
}
