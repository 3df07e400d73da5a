/**
 * Child-process host for node-llama-cpp (the `embedded` backend).
 *
 * Why a separate process: node-llama-cpp is ESM-only with top-level await, so
 * the CommonJS worker cannot `require` it (and jest's module system cannot
 * `import` it); and llama.cpp is native code: if it crashes or runs out of
 * memory, the daemon survives, answers 503 and still issues receipts for what
 * was delivered. The parent (embedded.ts) talks to this host over Node IPC.
 *
 * Token accounting happens here, from the engine's token stream: every chunk
 * of generated text carries the tokens it was detokenised from, and those are
 * what get counted, never a re-tokenisation of the text.
 *
 * Parallel requests: the context holds several sequences (node-llama-cpp
 * gives each its own `contextSize` of KV cache cells, so the cache holds
 * contextSize × sequences cells) and batches the decoding of every sequence
 * that has tokens to evaluate into one llama.cpp decode call. Each request
 * owns one sequence, with its own sampler, stop triggers, token limit and
 * token meter, for as long as it runs; requests beyond the sequences wait in
 * a bounded queue for a bounded time and are then refused as busy.
 */
import { randomBytes } from 'node:crypto';
import { freemem } from 'node:os';
import { pathToFileURL } from 'node:url';
import type * as Nlc from 'node-llama-cpp';
import type { ChatMessage, FinishReason, ToolCallDelta, Usage } from './types';
import { PROMPT_TOKENS_PER_STEP_CPU, StepGate, planBatch } from './batchPlan';

export interface LoadCommand {
    op: 'load';
    modelPath: string;
    gpu: 'auto' | false;
    threads: number;
    /** Tokens each sequence (each request) can hold: prompt plus max_tokens must fit. */
    contextSize: number;
    /** Requests decoded together; 'auto' sizes them to the machine (see autoSequences). */
    sequences: number | 'auto';
    /** Requests that may wait for a free sequence; more are refused at once. */
    maxQueued: number;
    /** How long a request may wait for a free sequence before it is refused. */
    queueTimeoutMs: number;
}
export interface ChatCommand {
    op: 'chat';
    id: number;
    messages: ChatMessage[];
    maxTokens: number;
    temperature?: number;
    topP?: number;
    seed?: number;
    stop?: string[];
    presencePenalty?: number;
    frequencyPenalty?: number;
    /** Token id (decimal) to a bias added to its logit; -100 or less bans the token. */
    logitBias?: Record<string, number>;
    /** Constrained generation: any JSON, or JSON following a schema (already translated by jsonSchemaGrammar.ts). */
    grammar?: { kind: 'json' } | { kind: 'schema'; schema: Record<string, unknown> };
    /** Functions the model may call (parameters already translated by jsonSchemaGrammar.ts), and whether it must. */
    tools?: Array<{ name: string; description?: string; parameters?: Record<string, unknown> }>;
    toolChoice?: 'auto' | 'required' | { name: string };
    parallelToolCalls?: boolean;
    /** The most prompt tokens the request may be billed for: a longer prompt is refused. */
    promptBound?: number;
}
/** A text completion: the prompt continued as it is (no chat template), with the sampling of a chat request. */
export interface TextCommand extends Omit<ChatCommand, 'op' | 'messages' | 'grammar' | 'tools' | 'toolChoice' | 'parallelToolCalls' | 'promptBound'> {
    op: 'text';
    prompt: string;
}
/** Texts (or token id arrays) to embed, each alone, in order. */
export interface EmbedCommand {
    op: 'embed';
    id: number;
    inputs: string[] | number[][];
}
export type HostCommand = LoadCommand | ChatCommand | TextCommand | EmbedCommand | { op: 'abort'; id: number } | { op: 'ping'; id: number };

/** The host sends its replies in arrays, all those of one event loop turn in one IPC message. */
/**
 * Sequences decoding now and requests waiting for one; and, since the engine
 * started, its batch steps of one token for each sequence in them (answers
 * generating, or a prompt's one uncached token) and the sequences they
 * carried: their ratio is how many requests a step decodes together.
 */
export interface Occupancy {
    busy: number;
    queued: number;
    sequences: number;
    generatingSteps: number;
    sequencesInGeneratingSteps: number;
}
export type HostReply =
    | { op: 'loaded'; trainContextSize: number; contextSize: number; sequences: number; gpu: string | false }
    | { op: 'load-error'; message: string }
    | { op: 'started'; id: number; promptTokens: number }
    /** status 429: every sequence stayed busy (queue full or the wait ran out); 499: aborted before it started. */
    | { op: 'reject'; id: number; status: number; message: string }
    | { op: 'delta'; id: number; tokens: number; content?: string; reasoning?: string; toolCalls?: ToolCallDelta[] }
    | { op: 'end'; id: number; finishReason: FinishReason; usage: Usage; error?: string }
    | ({ op: 'pong'; id: number } & Occupancy)
    /** promptTokens: the tokens evaluated for all the inputs (special tokens the model adds included). */
    | { op: 'embedded'; id: number; vectors: number[][]; promptTokens: number };

// A real dynamic import: TypeScript's CommonJS output would turn `import()` into `require()`.
const nativeImport = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

type Lib = typeof Nlc;
let lib: Lib | undefined;
let llama: Nlc.Llama | undefined;
let model: Nlc.LlamaModel | undefined;
/** Tokens in the model's vocabulary (a logit_bias may name only these). */
let vocabularySize = 0;
let context: Nlc.LlamaContext | undefined;
let chatWrapper: Nlc.ChatWrapper | undefined;
let admission: { maxQueued: number; queueTimeoutMs: number } = { maxQueued: 0, queueTimeoutMs: 0 };
/** Made on the first embeddings request (its own small context: a worker that serves only chat never pays its memory). */
let embeddingContext: Promise<Nlc.LlamaEmbeddingContext> | undefined;
let loadOptions: LoadCommand | undefined;
const freeSequences: Nlc.LlamaContextSequence[] = [];
/** Whether the model's layers run on a GPU (decided at load). */
let decodesOnGpu = false;
/** Each sequence's llama.cpp sequence id: node-llama-cpp hands them out 0, 1, 2, ... in the order getSequence is called. */
const sequenceIds = new Map<Nlc.LlamaContextSequence, number>();
/** Requests waiting for a sequence, oldest first (served in arrival order). */
const waiting: Waiter[] = [];
const aborts = new Map<number, AbortController>();
let running = 0;
/** Holds a step back, STEP_WAIT_TURNS times in a row at most, for a sequence of the last step that has not queued its next token yet (batchPlan.ts). */
const stepGate = new StepGate();
/** Steps of one token for each sequence in them, and the sequences they carried (Occupancy). */
const decodeSteps = { generating: 0, sequences: 0 };

interface Waiter {
    grant(s: Nlc.LlamaContextSequence): void;
}

/**
 * CPU: a request beyond the sequences waits for a whole answer to end,
 * while one more sequence only makes each batch step a little longer; with
 * 16, a burst of 16 requests starts answering at once (bench/embedded.ts).
 */
const AUTO_SEQUENCES_CPU = 16;
/** GPU: a batch step costs about as much for many sequences as for one, so more of them still raise throughput. */
const AUTO_SEQUENCES_GPU = 32;
/** Share of the free memory the KV cache and compute buffers of the context may take when sized automatically. */
const AUTO_MEMORY_SHARE = 0.5;

/** Replies not yet sent: one IPC message per event loop turn carries them all. */
let outbox: HostReply[] = [];

/**
 * Queues a reply for the parent. With many sequences decoding, each batch
 * step produces a token for every one of them; one IPC message (one JSON
 * serialisation, one write) per step instead of one per token keeps the
 * engine's thread on decoding.
 */
function send(reply: HostReply) {
    if (outbox.length === 0) setImmediate(flush);
    outbox.push(reply);
}

function flush() {
    const replies = outbox;
    outbox = [];
    process.send?.(replies);
}

async function load(cmd: LoadCommand) {
    try {
        lib = (await nativeImport(pathToFileURL(require.resolve('node-llama-cpp')).href)) as Lib;
        // build: 'never' -- use the prebuilt binaries shipped in the npm package;
        // never try to download or compile llama.cpp on a worker.
        llama = await lib.getLlama({ gpu: cmd.gpu, build: 'never', logLevel: lib.LlamaLogLevel.error, progressLogs: false });
        model = await llama.loadModel({ modelPath: cmd.modelPath });
        loadOptions = cmd;
        vocabularySize = (model.fileInfo.metadata as unknown as { tokenizer?: { ggml?: { tokens?: readonly unknown[] } } }).tokenizer?.ggml?.tokens?.length ?? 0;
        decodesOnGpu = runsOnGpu(llama, model);
        const contextSize = Math.min(cmd.contextSize, model.trainContextSize);
        const sequences = cmd.sequences === 'auto' ? await autoSequences(llama, model, contextSize) : cmd.sequences;
        // contextSize is per sequence: node-llama-cpp sizes the KV cache to contextSize × sequences.
        context = await model.createContext({ contextSize, sequences, threads: cmd.threads, batching: { itemPrioritizationStrategy: planNextStep } });
        for (let i = 0; i < sequences; i++) {
            const sequence = pausedForKvEdits(context.getSequence());
            sequenceIds.set(sequence, i);
            freeSequences.push(sequence);
        }
        admission = { maxQueued: cmd.maxQueued, queueTimeoutMs: cmd.queueTimeoutMs };
        // Resolving the chat template (matching its Jinja against known
        // formats) takes ~1 s: do it once here, not in every request.
        chatWrapper = lib.resolveChatWrapper(model);
        send({ op: 'loaded', trainContextSize: model.trainContextSize, contextSize: context.contextSize, sequences, gpu: llama.gpu });
    } catch (e) {
        send({ op: 'load-error', message: (e as Error).message });
    }
}

/** Whether the model's layers run on a GPU (else llama.cpp decodes on the CPU). */
function runsOnGpu(llama: Nlc.Llama, m: Nlc.LlamaModel): boolean {
    return llama.gpu !== false && m.gpuLayers > 0;
}

/**
 * The sequences to use when the configuration leaves it to the machine: the
 * batch that suits the device (AUTO_SEQUENCES_CPU or _GPU), fewer when the
 * context's estimated memory (KV cache of contextSize per sequence, compute
 * buffers) would take more than AUTO_MEMORY_SHARE of what is free.
 */
async function autoSequences(llama: Nlc.Llama, m: Nlc.LlamaModel, contextSize: number): Promise<number> {
    const onGpu = runsOnGpu(llama, m);
    const budget = AUTO_MEMORY_SHARE * (onGpu ? (await llama.getVramState()).free : freemem());
    for (let n = onGpu ? AUTO_SEQUENCES_GPU : AUTO_SEQUENCES_CPU; n > 1; n--) {
        const need = await m.fileInsights.estimateContextResourceRequirementsV2({ contextSize, sequences: n, modelGpuLayers: m.gpuLayers });
        if ((onGpu ? need.gpuVram : need.cpuRam) <= budget) return n;
    }
    return 1;
}

/**
 * Erasing a sequence's tokens (so a new request can reuse it) needs the
 * context's lock, and node-llama-cpp holds that lock for as long as any
 * sequence has a decode queued: with two or more generations running, an
 * erase, and the request behind it, would wait until they all ended. So
 * while an erase waits, every generation pauses before its next token
 * (pausedForKvEdits); the batch in flight completes, the decode loop finds
 * nothing queued and lets go of the lock, the erase runs, and they resume.
 */
let kvEditsPending = 0;
let kvEditsDone: Promise<void> | undefined;
let resumeGenerations: (() => void) | undefined;

async function editKvCache(edit: () => Promise<void>): Promise<void> {
    if (kvEditsPending++ === 0) kvEditsDone = new Promise((resolve) => (resumeGenerations = resolve));
    try {
        await edit();
    } finally {
        if (--kvEditsPending === 0) {
            kvEditsDone = undefined;
            resumeGenerations?.();
        }
    }
}

/** The sequence, its token generation made to wait at each token while a KV cache edit is pending. */
function pausedForKvEdits(sequence: Nlc.LlamaContextSequence): Nlc.LlamaContextSequence {
    const evaluate = sequence.evaluate.bind(sequence);
    sequence.evaluate = (tokens, options) => pausingGenerator(evaluate(tokens, options));
    return sequence;
}

async function* pausingGenerator<T, N>(inner: AsyncGenerator<T, void, N>): AsyncGenerator<T, void, N> {
    try {
        let input: N | undefined;
        for (;;) {
            if (kvEditsDone) await kvEditsDone;
            const step = await (input === undefined ? inner.next() : inner.next(input));
            if (step.done) return;
            input = yield step.value;
        }
    } finally {
        await inner.return();
    }
}

/**
 * The next batch step's plan (batchPlan.ts), or none while a sequence of
 * the last step has yet to queue its next token (StepGate: node-llama-cpp
 * then decodes nothing and asks again). The sequence ids come from
 * node-llama-cpp's queue of decodes, which is internal: where it cannot be
 * read, the plan keeps the order it came in and nothing is held back.
 */
function planNextStep({ items, size }: { items: readonly Nlc.BatchItem[]; size: number }): Nlc.PrioritizedBatchItem[] {
    const queued = (context as unknown as { _queuedDecodes?: Array<{ tokens: unknown; sequenceId: unknown }> } | undefined)?._queuedDecodes;
    const ids = new Map<unknown, number>();
    for (const q of Array.isArray(queued) ? queued : []) if (typeof q.sequenceId === 'number') ids.set(q.tokens, q.sequenceId);
    if (stepGate.holds(new Set(ids.values()))) return [];
    const plan = planBatch(items, { size, promptTokensPerStep: decodesOnGpu ? size : PROMPT_TOKENS_PER_STEP_CPU, sequenceIdOf: (item) => ids.get(item.tokens) });
    stepGate.planned(plan.flatMap((p) => ids.get(p.item.tokens) ?? []));
    if (plan.every((p) => p.item.tokens.length === 1)) {
        decodeSteps.generating++;
        decodeSteps.sequences += plan.length;
    }
    return plan;
}

/** Tokens at the start of `a` that `b` starts with too. */
function commonPrefix(a: readonly Nlc.Token[], b: readonly Nlc.Token[]): number {
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    return i;
}

/**
 * A free sequence for this prompt: the one whose KV cache already holds the
 * longest prefix of it (a conversation's next turn lands where its history
 * is); among equals the lowest sequence id, so that the sequences in use
 * tend to have neighbouring ids, which llama.cpp decodes in fewer graphs
 * (batchPlan.ts). Waits, in arrival order, when none is
 * free; null when the queue is full, the wait ran out or the request was
 * aborted (the reason is in the reject sent).
 */
function acquire(id: number, prompt: readonly Nlc.Token[], signal: AbortSignal): Promise<Nlc.LlamaContextSequence | null> {
    if (freeSequences.length > 0) {
        let best = 0;
        let bestShared = -1;
        for (let i = 0; i < freeSequences.length; i++) {
            const shared = commonPrefix(freeSequences[i].contextTokens, prompt);
            const lower = (sequenceIds.get(freeSequences[i]) ?? 0) < (sequenceIds.get(freeSequences[best]) ?? 0);
            if (shared > bestShared || (shared === bestShared && lower)) [best, bestShared] = [i, shared];
        }
        return Promise.resolve(freeSequences.splice(best, 1)[0]);
    }
    if (signal.aborted) {
        send({ op: 'reject', id, status: 499, message: 'aborted before start' });
        return Promise.resolve(null);
    }
    const busy = `all ${context!.totalSequences} engine sequences are busy`;
    if (waiting.length >= admission.maxQueued || admission.queueTimeoutMs === 0) {
        send({ op: 'reject', id, status: 429, message: `${busy} and ${waiting.length} requests are already waiting (the most allowed): try again shortly` });
        return Promise.resolve(null);
    }
    return new Promise((resolve) => {
        const leave = (answer: Nlc.LlamaContextSequence | null) => {
            clearTimeout(timer);
            signal.removeEventListener('abort', onAbort);
            waiting.splice(waiting.indexOf(waiter), 1);
            resolve(answer);
        };
        const waiter: Waiter = { grant: (s) => leave(s) };
        const timer = setTimeout(() => {
            send({ op: 'reject', id, status: 429, message: `${busy}: no sequence came free within ${admission.queueTimeoutMs} ms; try again shortly` });
            leave(null);
        }, admission.queueTimeoutMs);
        const onAbort = () => {
            send({ op: 'reject', id, status: 499, message: 'aborted while waiting for a free sequence' });
            leave(null);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiting.push(waiter);
    });
}

function release(s: Nlc.LlamaContextSequence) {
    const next = waiting[0];
    if (next) next.grant(s);
    else freeSequences.push(s);
}

/** A request's messages as node-llama-cpp's chat history: an assistant's tool calls carry their results, from the tool messages that answer them. */
function toHistory(messages: ChatMessage[]): Nlc.ChatHistoryItem[] {
    const results = new Map<string, { index: number; content: string }>();
    messages.forEach((m, index) => {
        if (m.role !== 'tool') return;
        if (results.has(m.toolCallId ?? '')) throw new RequestError(`messages.${index}.tool_call_id: ${m.toolCallId} is answered twice (tool call ids must be unique)`);
        results.set(m.toolCallId ?? '', { index, content: m.content });
    });
    const answered = new Set<string>();
    const history: Nlc.ChatHistoryItem[] = [];
    messages.forEach((m, i) => {
        if (m.role === 'tool') return;
        if (m.role === 'user') history.push({ type: 'user', text: m.content });
        else if (m.role !== 'assistant') history.push({ type: 'system', text: m.content });
        else {
            const response: Nlc.ChatModelResponse['response'] = m.content ? [m.content] : [];
            for (const call of m.toolCalls ?? []) {
                const result = results.get(call.id);
                if (!result) throw new RequestError(`messages.${i}.tool_calls: no tool message answers the call ${call.id}`);
                let params: unknown;
                try {
                    params = JSON.parse(call.function.arguments || '{}');
                } catch {
                    throw new RequestError(`messages.${i}.tool_calls: the arguments of ${call.id} are not JSON`);
                }
                answered.add(call.id);
                // A result that is JSON goes to the template as the value it is, not as a quoted string.
                response.push({ type: 'functionCall', name: call.function.name, params, result: parses(result.content) ?? result.content });
            }
            history.push({ type: 'model', response });
        }
    });
    for (const [id, r] of results) if (!answered.has(id)) throw new RequestError(`messages.${r.index}.tool_call_id: answers no earlier tool call (${id})`);
    // LlamaChat completes the last model item: open a fresh one for the answer, unless the last holds the calls the
    // latest tool results answer (the model goes on from them, as its template expects).
    if (messages.at(-1)?.role !== 'tool') history.push({ type: 'model', response: [] });
    return history;
}

/** Something in the request the engine cannot serve: answered with a 400 before anything is generated. */
class RequestError extends Error {}

/** The tools as node-llama-cpp's functions. */
function functionsOf(tools: NonNullable<ChatCommand['tools']>): Nlc.ChatModelFunctions {
    return Object.fromEntries(tools.map((t) => [t.name, { description: t.description, params: t.parameters as never }]));
}

/**
 * The grammar of a call the request demands (tool_choice "required" or a
 * named function): the named function's arguments, or, among several
 * functions, an object naming one and holding its arguments.
 */
function forcedCallSchema(cmd: ChatCommand): { schema: Record<string, unknown>; named?: string } | undefined {
    const tools = cmd.tools ?? [];
    const choice = cmd.toolChoice;
    const argsOf = (t: (typeof tools)[number]) => t.parameters ?? { type: 'object', properties: {} };
    if (typeof choice === 'object') {
        const t = tools.find((x) => x.name === choice.name);
        if (!t) throw new RequestError(`tool_choice.function.name: names no tool of the request`);
        return { schema: argsOf(t), named: t.name };
    }
    if (choice !== 'required') return undefined;
    if (tools.length === 1) return { schema: argsOf(tools[0]), named: tools[0].name };
    return { schema: { oneOf: tools.map((t) => ({ type: 'object', properties: { name: { const: t.name }, arguments: argsOf(t) } })) } };
}

/** The JSON value of `text`, or undefined when it does not parse (a call cut short). */
function parses(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return undefined;
    }
}

function callId(): string {
    return `call_${randomBytes(12).toString('hex')}`;
}

type SamplingOptions = Pick<Nlc.LLamaChatGenerateResponseOptions, 'grammar' | 'tokenBias' | 'repeatPenalty'>;

/**
 * The request's grammar, logit biases and penalties as node-llama-cpp takes
 * them. Penalties follow OpenAI: subtracted once (presence) or per
 * occurrence (frequency) from the logits of the tokens generated so far, with
 * no classic repeat penalty on top. Throws (a 400) for what it cannot honour.
 */
async function sampling(cmd: ChatCommand | TextCommand): Promise<SamplingOptions> {
    const out: SamplingOptions = {};
    const grammar = 'grammar' in cmd ? cmd.grammar : undefined;
    if (grammar?.kind === 'json') out.grammar = await llama!.getGrammarFor('json');
    else if (grammar?.kind === 'schema') {
        try {
            // Checked and translated by jsonSchemaGrammar.ts; a schema read at run time has no static type to satisfy the generic.
            out.grammar = await llama!.createGrammarForJsonSchema(grammar.schema as never);
        } catch (e) {
            throw new Error(`response_format.json_schema.schema: the embedded engine cannot enforce it (${(e as Error).message})`);
        }
    }
    if (cmd.logitBias && Object.keys(cmd.logitBias).length > 0) {
        const bias = new lib!.TokenBias(model!.tokenizer);
        for (const [id, value] of Object.entries(cmd.logitBias)) {
            const token = Number(id);
            if (token >= vocabularySize) throw new Error(`logit_bias.${id}: not a token of this model (its vocabulary has ${vocabularySize})`);
            if (value !== 0) bias.set(token as Nlc.Token, value <= -100 ? 'never' : { logit: value });
        }
        out.tokenBias = bias;
    }
    if (cmd.presencePenalty || cmd.frequencyPenalty) {
        out.repeatPenalty = {
            penalty: 1,
            presencePenalty: cmd.presencePenalty ?? 0,
            frequencyPenalty: cmd.frequencyPenalty ?? 0,
            // The whole answer so far, as OpenAI counts it.
            lastTokens: cmd.maxTokens,
            penalizeNewLine: true,
            punishTokensFilter: (tokens) => tokens,
        };
    }
    return out;
}

function finishReasonOf(stopReason: string): FinishReason {
    if (stopReason === 'maxTokens') return 'length';
    if (stopReason === 'abort') return 'aborted';
    return 'stop'; // eogToken, stopGenerationTrigger, customStopTrigger, functionCalls
}

async function chat(cmd: ChatCommand) {
    if (!lib || !model || !context || !chatWrapper) {
        send({ op: 'reject', id: cmd.id, status: 503, message: 'model not loaded' });
        return;
    }
    const controller = new AbortController();
    aborts.set(cmd.id, controller);
    let sequence: Nlc.LlamaContextSequence | null = null;
    let llamaChat: Nlc.LlamaChat | undefined;
    let promptTokens = 0;
    let cachedTokens = 0;
    let completionTokens = 0;
    let reasoningTokens = 0;
    let started = false;
    // A demanded call's generated JSON (see below), and whether a named call has started streaming.
    let callText = '';
    let namedStarted = false;
    let heldBack = false;
    // What was generated of a held-back call that will not become one (an error, an abort, cut short) goes out as text: it is paid for.
    const flushCallText = () => {
        if (heldBack && callText !== '') send({ op: 'delta', id: cmd.id, tokens: 0, content: callText });
        callText = '';
    };
    try {
        let history: Nlc.ChatHistoryItem[];
        let forced: ReturnType<typeof forcedCallSchema>;
        try {
            history = toHistory(cmd.messages);
            forced = forcedCallSchema(cmd);
        } catch (e) {
            if (!(e instanceof RequestError)) throw e;
            send({ op: 'reject', id: cmd.id, status: 400, message: e.message });
            return;
        }
        const functions = cmd.tools && cmd.tools.length > 0 ? functionsOf(cmd.tools) : undefined;
        heldBack = forced !== undefined && forced.named === undefined;
        // A demanded call is generated under its grammar, the tools documented in the system prompt as the
        // chat template documents them when the model may choose.
        if (forced) history = [...chatWrapper.addAvailableFunctionsSystemMessageToHistory(history, functions, { documentParams: true })];
        let contextText: Nlc.LlamaText;
        try {
            ({ contextText } = chatWrapper.generateContextState({ chatHistory: history, availableFunctions: forced ? undefined : functions, documentFunctionParams: true }));
        } catch (e) {
            throw new RequestError(`messages: the model's chat template cannot render them (${(e as Error).message})`);
        }
        const prompt = contextText.tokenize(model.tokenizer);
        promptTokens = prompt.length;
        if (cmd.promptBound !== undefined && promptTokens > cmd.promptBound) {
            send({
                op: 'reject',
                id: cmd.id,
                status: 400,
                message: `${functions ? 'tools' : 'messages'}: this engine's chat template makes the prompt ${promptTokens} tokens, more than the ${cmd.promptBound} the request may be billed for`,
            });
            return;
        }
        // Refused before it waits for a sequence: LlamaChat would silently drop
        // old messages to fit (context shift), and a paid request must be
        // answered as sent or refused.
        const unfit = contextMisfit(promptTokens, cmd.maxTokens, context.contextSize);
        if (unfit) {
            send({ op: 'reject', id: cmd.id, status: 400, message: unfit });
            return;
        }
        let constraints: SamplingOptions;
        try {
            constraints = await sampling(forced ? { ...cmd, grammar: { kind: 'schema', schema: forced.schema } } : cmd);
        } catch (e) {
            send({
                op: 'reject',
                id: cmd.id,
                status: 400,
                message: forced
                    ? `tools: the embedded engine cannot enforce the call's parameters (${(e as Error).message.replace(/^response_format\.json_schema\.schema: the embedded engine cannot enforce it /, '')})`
                    : (e as Error).message,
            });
            return;
        }
        sequence = await acquire(cmd.id, prompt, controller.signal);
        if (!sequence) return;
        running++;
        if (controller.signal.aborted) {
            send({ op: 'reject', id: cmd.id, status: 499, message: 'aborted before start' });
            return;
        }
        // Keep the cached prefix of the prompt and evaluate the rest, always at
        // least the last prompt token (its logits give the first answer token),
        // as LlamaChat would; erasing the rest here, not in LlamaChat, lets the
        // erase pause the other generations (editKvCache) instead of waiting for them.
        cachedTokens = Math.min(commonPrefix(sequence.contextTokens, prompt), promptTokens - 1);
        const held = sequence.nextTokenIndex;
        if (cachedTokens < held) await editKvCache(() => sequence!.eraseContextTokenRanges([{ start: cachedTokens, end: held }]));
        llamaChat = new lib.LlamaChat({ contextSequence: sequence, autoDisposeSequence: false, chatWrapper });
        send({ op: 'started', id: cmd.id, promptTokens });
        started = true;
        const generatedBefore = sequence.tokenMeter.usedOutputTokens;
        // A demanded call of a named function streams as that call's arguments; among several functions the JSON names
        // the function first, so it is held back (callText) and delivered as the call once complete, else as text.
        const callIdNow = callId();
        const common = {
            maxTokens: cmd.maxTokens,
            temperature: cmd.temperature,
            topP: cmd.topP,
            seed: cmd.seed,
            customStopTriggers: cmd.stop && cmd.stop.length > 0 ? cmd.stop : undefined,
            tokenBias: constraints.tokenBias,
            repeatPenalty: constraints.repeatPenalty,
            signal: controller.signal,
            stopOnAbortSignal: true,
            onResponseChunk(chunk: Nlc.LlamaChatResponseChunk) {
                const n = chunk.tokens.length;
                completionTokens += n;
                if (chunk.type === 'segment') {
                    if (chunk.segmentType === 'thought') reasoningTokens += n;
                    send({ op: 'delta', id: cmd.id, tokens: n, reasoning: chunk.text });
                } else if (forced?.named) {
                    const first = !namedStarted;
                    namedStarted = true;
                    callText += chunk.text;
                    send({ op: 'delta', id: cmd.id, tokens: n, toolCalls: [first ? { index: 0, id: callIdNow, name: forced.named, arguments: chunk.text } : { index: 0, arguments: chunk.text }] });
                } else if (forced) {
                    callText += chunk.text;
                    send({ op: 'delta', id: cmd.id, tokens: n });
                } else {
                    send({ op: 'delta', id: cmd.id, tokens: n, content: chunk.text });
                }
            },
        };
        // The model may choose to call a function (tools offered, no call demanded), or generates under the grammar, if any.
        let chosen: Array<{ functionName: string; params: unknown }> = [];
        let stopReason: string;
        if (functions && !forced) {
            const res = await llamaChat.generateResponse(history, { ...common, functions, documentFunctionParams: true, maxParallelFunctionCalls: cmd.parallelToolCalls === false ? 1 : undefined });
            chosen = res.functionCalls ?? [];
            stopReason = res.metadata.stopReason;
        } else stopReason = (await llamaChat.generateResponse(history, { ...common, grammar: constraints.grammar })).metadata.stopReason;
        // Tokens of a call the model chose to make are generated but not reported as response chunks: counted here
        // (only then: otherwise what was not reported was not delivered, such as a stop sequence).
        // Never past max_tokens: the client refuses a receipt that counts more than it allowed.
        const unreported = chosen.length > 0 ? Math.min(sequence.tokenMeter.usedOutputTokens - generatedBefore, cmd.maxTokens) - completionTokens : 0;
        if (unreported > 0) {
            completionTokens += unreported;
            send({ op: 'delta', id: cmd.id, tokens: unreported });
        }
        let calls: ToolCallDelta[] = [];
        let called = false;
        if (forced?.named) {
            // Already delivered as it came; a call cut short (max_tokens, a stop sequence) keeps its finish reason.
            called = namedStarted && parses(callText) !== undefined;
        } else if (forced) {
            const parsed = controller.signal.aborted ? undefined : parses(callText);
            if (parsed && typeof parsed === 'object')
                calls = [{ index: 0, id: callIdNow, name: (parsed as { name: string }).name, arguments: JSON.stringify((parsed as { arguments: unknown }).arguments) }];
            else flushCallText();
        } else if (chosen.length > 0) {
            calls = chosen.map((c, index) => ({ index, id: callId(), name: c.functionName, arguments: JSON.stringify(c.params ?? {}) }));
        }
        if (calls.length > 0) send({ op: 'delta', id: cmd.id, tokens: 0, toolCalls: calls });
        const finishReason = controller.signal.aborted ? 'aborted' : called || calls.length > 0 ? 'tool_calls' : finishReasonOf(stopReason);
        send({
            op: 'end',
            id: cmd.id,
            finishReason,
            usage: { promptTokens, cachedTokens, completionTokens, reasoningTokens, estimated: false },
        });
    } catch (e) {
        const message = (e as Error).message;
        if (started) flushCallText();
        if (!started) send({ op: 'reject', id: cmd.id, status: e instanceof RequestError ? 400 : 503, message });
        else
            send({
                op: 'end',
                id: cmd.id,
                finishReason: 'error',
                usage: { promptTokens, cachedTokens, completionTokens, reasoningTokens, estimated: false },
                error: message,
            });
    } finally {
        aborts.delete(cmd.id);
        llamaChat?.dispose();
        if (sequence) {
            running--;
            release(sequence);
        }
    }
}

/**
 * A text completion on a sequence of its own, as a chat request runs
 * (admission, cached prefix, batching, token meter), with node-llama-cpp's
 * LlamaCompletion in place of LlamaChat. A prompt that does not fit is
 * refused (LlamaCompletion would cut its beginning off).
 */
async function text(cmd: TextCommand) {
    if (!lib || !model || !context) {
        send({ op: 'reject', id: cmd.id, status: 503, message: 'model not loaded' });
        return;
    }
    const controller = new AbortController();
    aborts.set(cmd.id, controller);
    let sequence: Nlc.LlamaContextSequence | null = null;
    let completion: Nlc.LlamaCompletion | undefined;
    let completionTokens = 0;
    let started = false;
    // The tokens LlamaCompletion evaluates: the beginning-of-text token the model wants, then the prompt.
    const bos = model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
    const prompt = [...(bos !== null ? [bos] : []), ...model.tokenize(cmd.prompt, false, bos !== null ? 'trimLeadingSpace' : undefined)];
    const promptTokens = prompt.length;
    let cachedTokens = 0;
    try {
        const unfit = contextMisfit(promptTokens, cmd.maxTokens, context.contextSize);
        if (unfit) {
            send({ op: 'reject', id: cmd.id, status: 400, message: unfit.replace(/^messages:/, 'prompt:') });
            return;
        }
        let constraints: SamplingOptions;
        try {
            constraints = await sampling(cmd);
        } catch (e) {
            send({ op: 'reject', id: cmd.id, status: 400, message: (e as Error).message });
            return;
        }
        sequence = await acquire(cmd.id, prompt, controller.signal);
        if (!sequence) return;
        running++;
        if (controller.signal.aborted) {
            send({ op: 'reject', id: cmd.id, status: 499, message: 'aborted before start' });
            return;
        }
        cachedTokens = Math.min(commonPrefix(sequence.contextTokens, prompt), promptTokens - 1);
        const held = sequence.nextTokenIndex;
        if (cachedTokens < held) await editKvCache(() => sequence!.eraseContextTokenRanges([{ start: cachedTokens, end: held }]));
        completion = new lib.LlamaCompletion({ contextSequence: sequence });
        send({ op: 'started', id: cmd.id, promptTokens });
        started = true;
        const res = await completion.generateCompletionWithMeta(prompt.slice(bos !== null ? 1 : 0), {
            maxTokens: cmd.maxTokens,
            temperature: cmd.temperature,
            topP: cmd.topP,
            seed: cmd.seed,
            customStopTriggers: cmd.stop && cmd.stop.length > 0 ? cmd.stop : undefined,
            ...constraints,
            signal: controller.signal,
            stopOnAbortSignal: true,
            // Counted as the tokens come; their text follows in onTextChunk.
            onToken(tokens) {
                completionTokens += tokens.length;
                send({ op: 'delta', id: cmd.id, tokens: tokens.length });
            },
            onTextChunk(chunk) {
                send({ op: 'delta', id: cmd.id, tokens: 0, content: chunk });
            },
        });
        const finishReason = controller.signal.aborted ? 'aborted' : finishReasonOf(res.metadata.stopReason);
        send({ op: 'end', id: cmd.id, finishReason, usage: { promptTokens, cachedTokens, completionTokens, reasoningTokens: 0, estimated: false } });
    } catch (e) {
        const message = (e as Error).message;
        if (!started) send({ op: 'reject', id: cmd.id, status: 503, message });
        else send({ op: 'end', id: cmd.id, finishReason: 'error', usage: { promptTokens, cachedTokens, completionTokens, reasoningTokens: 0, estimated: false }, error: message });
    } finally {
        aborts.delete(cmd.id);
        completion?.dispose();
        if (sequence) {
            running--;
            release(sequence);
        }
    }
}

/** Embeds each input in turn with the model's embedding context; one too long for it is refused before any is embedded. */
async function embed(cmd: EmbedCommand) {
    if (!model || !loadOptions) {
        send({ op: 'reject', id: cmd.id, status: 503, message: 'model not loaded' });
        return;
    }
    let ctx: Nlc.LlamaEmbeddingContext;
    const contextSize = Math.min(loadOptions.contextSize, model.trainContextSize);
    try {
        embeddingContext ??= model.createEmbeddingContext({ contextSize, threads: loadOptions.threads });
        ctx = await embeddingContext;
    } catch (e) {
        embeddingContext = undefined;
        send({ op: 'reject', id: cmd.id, status: 503, message: `cannot make an embedding context: ${(e as Error).message}` });
        return;
    }
    const inputs = cmd.inputs.map((x) => (typeof x === 'string' ? x : (x as Nlc.Token[])));
    let promptTokens = 0;
    for (let i = 0; i < inputs.length; i++) {
        const n = ctx.calculateInputLength(inputs[i]);
        if (n >= contextSize) {
            send({ op: 'reject', id: cmd.id, status: 400, message: `input.${i}: ${n} tokens, more than the embedding context holds (${contextSize - 1})` });
            return;
        }
        promptTokens += n;
    }
    try {
        const vectors: number[][] = [];
        for (const input of inputs) vectors.push([...(await ctx.getEmbeddingFor(input)).vector]);
        send({ op: 'embedded', id: cmd.id, vectors, promptTokens });
    } catch (e) {
        send({ op: 'reject', id: cmd.id, status: 503, message: (e as Error).message });
    }
}

/** Why a request cannot be answered within one sequence's context, naming the field to change; undefined when it fits. */
function contextMisfit(promptTokens: number, maxTokens: number, contextSize: number): string | undefined {
    if (promptTokens >= contextSize) return `messages: the prompt is ${promptTokens} tokens, which leaves no room for an answer in a request's context of ${contextSize} tokens`;
    if (promptTokens + maxTokens > contextSize)
        return `max_tokens: ${maxTokens} plus the prompt's ${promptTokens} tokens exceeds a request's context of ${contextSize} tokens (at most ${contextSize - promptTokens} fits)`;
    return undefined;
}

if (require.main === module && process.send) {
    process.on('message', (cmd: HostCommand) => {
        switch (cmd.op) {
            case 'load':
                void load(cmd);
                break;
            case 'chat':
                void chat(cmd);
                break;
            case 'embed':
                void embed(cmd);
                break;
            case 'text':
                void text(cmd);
                break;
            case 'abort':
                aborts.get(cmd.id)?.abort();
                break;
            case 'ping':
                send({
                    op: 'pong',
                    id: cmd.id,
                    busy: running,
                    queued: waiting.length,
                    sequences: context?.totalSequences ?? 0,
                    generatingSteps: decodeSteps.generating,
                    sequencesInGeneratingSteps: decodeSteps.sequences,
                });
                break;
        }
    });
    // The parent is gone: nobody can be billed or served any more.
    process.on('disconnect', () => process.exit(0));
}
