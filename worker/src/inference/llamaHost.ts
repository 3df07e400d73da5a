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
 */
import { pathToFileURL } from 'node:url';
import type * as Nlc from 'node-llama-cpp';
import type { ChatMessage, FinishReason, Usage } from './types';

export interface LoadCommand {
    op: 'load';
    modelPath: string;
    gpu: 'auto' | false;
    threads: number;
    contextSize: number;
    sequences: number;
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
}
export type HostCommand = LoadCommand | ChatCommand | { op: 'abort'; id: number } | { op: 'ping'; id: number };

export type HostReply =
    | { op: 'loaded'; trainContextSize: number; contextSize: number; gpu: string | false }
    | { op: 'load-error'; message: string }
    | { op: 'started'; id: number; promptTokens: number }
    | { op: 'reject'; id: number; status: number; message: string }
    | { op: 'delta'; id: number; tokens: number; content?: string; reasoning?: string }
    | { op: 'end'; id: number; finishReason: FinishReason; usage: Usage; error?: string }
    | { op: 'pong'; id: number; busy: number };

// A real dynamic import: TypeScript's CommonJS output would turn `import()` into `require()`.
const nativeImport = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

type Lib = typeof Nlc;
let lib: Lib | undefined;
let model: Nlc.LlamaModel | undefined;
let context: Nlc.LlamaContext | undefined;
let chatWrapper: Nlc.ChatWrapper | undefined;
const freeSequences: Nlc.LlamaContextSequence[] = [];
const waiting: Array<(s: Nlc.LlamaContextSequence) => void> = [];
const aborts = new Map<number, AbortController>();

function send(reply: HostReply) {
    process.send?.(reply);
}

async function load(cmd: LoadCommand) {
    try {
        lib = (await nativeImport(pathToFileURL(require.resolve('node-llama-cpp')).href)) as Lib;
        // build: 'never' -- use the prebuilt binaries shipped in the npm package;
        // never try to download or compile llama.cpp on a worker.
        const llama = await lib.getLlama({ gpu: cmd.gpu, build: 'never', logLevel: lib.LlamaLogLevel.error, progressLogs: false });
        model = await llama.loadModel({ modelPath: cmd.modelPath });
        context = await model.createContext({
            contextSize: Math.min(cmd.contextSize, model.trainContextSize),
            sequences: cmd.sequences,
            threads: cmd.threads,
        });
        for (let i = 0; i < cmd.sequences; i++) freeSequences.push(context.getSequence());
        // Resolving the chat template (matching its Jinja against known
        // formats) takes ~1 s: do it once here, not in every request.
        chatWrapper = lib.resolveChatWrapper(model);
        send({ op: 'loaded', trainContextSize: model.trainContextSize, contextSize: context.contextSize, gpu: llama.gpu });
    } catch (e) {
        send({ op: 'load-error', message: (e as Error).message });
    }
}

function acquire(): Promise<Nlc.LlamaContextSequence> {
    const s = freeSequences.pop();
    if (s) return Promise.resolve(s);
    return new Promise((resolve) => waiting.push(resolve));
}

function release(s: Nlc.LlamaContextSequence) {
    const next = waiting.shift();
    if (next) next(s);
    else freeSequences.push(s);
}

function toHistory(messages: ChatMessage[]): Nlc.ChatHistoryItem[] {
    const history: Nlc.ChatHistoryItem[] = messages.map((m) => {
        if (m.role === 'assistant') return { type: 'model', response: [m.content] };
        if (m.role === 'user') return { type: 'user', text: m.content };
        return { type: 'system', text: m.content };
    });
    // LlamaChat completes the last model item: open a fresh one for the answer.
    history.push({ type: 'model', response: [] });
    return history;
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
    const sequence = await acquire();
    const llamaChat = new lib.LlamaChat({ contextSequence: sequence, autoDisposeSequence: false, chatWrapper });
    let promptTokens = 0;
    let cachedTokens = 0;
    let completionTokens = 0;
    let reasoningTokens = 0;
    let started = false;
    try {
        const history = toHistory(cmd.messages);
        const { contextText } = llamaChat.chatWrapper.generateContextState({ chatHistory: history });
        promptTokens = contextText.tokenize(model.tokenizer).length;
        // LlamaChat would silently drop old messages to fit (context shift); a
        // paid request must be answered as sent or refused.
        if (promptTokens + cmd.maxTokens > context.contextSize) {
            send({
                op: 'reject',
                id: cmd.id,
                status: 400,
                message: `prompt (${promptTokens} tokens) plus max_tokens (${cmd.maxTokens}) exceeds the context (${context.contextSize})`,
            });
            return;
        }
        if (controller.signal.aborted) {
            send({ op: 'reject', id: cmd.id, status: 499, message: 'aborted before start' });
            return;
        }
        send({ op: 'started', id: cmd.id, promptTokens });
        started = true;
        const inputBefore = sequence.tokenMeter.usedInputTokens;
        const res = await llamaChat.generateResponse(history, {
            maxTokens: cmd.maxTokens,
            temperature: cmd.temperature,
            topP: cmd.topP,
            seed: cmd.seed,
            customStopTriggers: cmd.stop && cmd.stop.length > 0 ? cmd.stop : undefined,
            signal: controller.signal,
            stopOnAbortSignal: true,
            onResponseChunk(chunk) {
                const n = chunk.tokens.length;
                completionTokens += n;
                if (chunk.type === 'segment') {
                    if (chunk.segmentType === 'thought') reasoningTokens += n;
                    send({ op: 'delta', id: cmd.id, tokens: n, reasoning: chunk.text });
                } else {
                    send({ op: 'delta', id: cmd.id, tokens: n, content: chunk.text });
                }
            },
        });
        // Tokens the engine had to evaluate for the prompt; the rest of the
        // prompt was reused from the sequence's KV cache.
        const evaluated = sequence.tokenMeter.usedInputTokens - inputBefore;
        cachedTokens = Math.max(0, Math.min(promptTokens, promptTokens - evaluated));
        const finishReason = controller.signal.aborted ? 'aborted' : finishReasonOf(res.metadata.stopReason);
        send({
            op: 'end',
            id: cmd.id,
            finishReason,
            usage: { promptTokens, cachedTokens, completionTokens, reasoningTokens, estimated: false },
        });
    } catch (e) {
        const message = (e as Error).message;
        if (!started) send({ op: 'reject', id: cmd.id, status: 503, message });
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
        llamaChat.dispose();
        release(sequence);
    }
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
            case 'abort':
                aborts.get(cmd.id)?.abort();
                break;
            case 'ping':
                send({ op: 'pong', id: cmd.id, busy: aborts.size });
                break;
        }
    });
    // The parent is gone: nobody can be billed or served any more.
    process.on('disconnect', () => process.exit(0));
}
