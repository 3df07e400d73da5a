import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { corkPerTurn } from '../../../helpers/corkPerTurn';
import { ENVELOPE_MEDIA_TYPE, ResponseSealer, frameToText } from '../../../helpers/hpke';
import { textLogprobs, textLogprobsOf } from '../../../protocol/completions';
import { DeliveredToolCall, ReceiptWire, TokenLogprob, mergeToolCallDeltas } from '../../../protocol/paidRequest';
import { ChatDelta, ChatEvent, ToolCallDelta, Usage, zeroUsage } from '../inference/types';
import type { WorkerMetrics } from '../metrics';
import { Refusal } from '../refusal';
import { DeltaBatch } from './deltaBatch';

/**
 * Writing an admitted generation to the client, sealed: as one final frame,
 * or as an event stream of data frames ending with a final frame that holds
 * the receipt. What is charged is what was handed to the transport.
 */

export interface GenerationEnd {
    usage: Usage;
    finishReason: string;
    error?: string;
}

/** The API the answer speaks: chat completions, or text completions (`text_completion` objects, choices with `text`). */
export type ResponseShape = 'chat' | 'text';

export interface Generation {
    /** The completion id and creation time every chunk repeats. */
    id: string;
    created: number;
    model: string;
    shape: ResponseShape;
    /** The backend's events, from the first one on. */
    events: AsyncIterable<ChatEvent>;
    sealer: ResponseSealer;
    /** Stops the backend (the stream still ends with usage). */
    abort: () => void;
    /** Signs and stores the receipt for what was delivered (null when it costs nothing); throws when it cannot be stored. */
    settle: (end: GenerationEnd, delivered: Delivered) => Promise<ReceiptWire | null>;
    /** Charges nothing: the admission's reservation ends. */
    release: () => void;
    /** When the request arrived (performance.now()). */
    t0: number;
    /** The request asked for log probabilities. */
    logprobs: boolean;
    metrics: WorkerMetrics;
    logger: Logger;
}

/** What reached the client: the receipt's response hash commits to it. */
export interface Delivered {
    content: string;
    reasoning: string;
    toolCalls: DeliveredToolCall[];
    /** The tokens' log probabilities, when the request asked for them. */
    logprobs: TokenLogprob[];
}

function deliver(d: Delivered, content: string | undefined, reasoning: string | undefined, toolCalls: unknown, logprobs: readonly TokenLogprob[] | undefined) {
    d.content += content ?? '';
    d.reasoning += reasoning ?? '';
    mergeToolCallDeltas(d.toolCalls, toolCalls);
    if (logprobs) d.logprobs.push(...logprobs);
}

/** Tool-call pieces as OpenAI streams them. */
function toolCallDeltasJson(calls: ToolCallDelta[]) {
    return calls.map((c) => ({
        index: c.index,
        ...(c.id !== undefined ? { id: c.id, type: 'function' } : {}),
        function: { ...(c.name !== undefined ? { name: c.name } : {}), ...(c.arguments !== undefined ? { arguments: c.arguments } : {}) },
    }));
}

/** A tool-calling answer's message fields (content null when the model only called tools). */
function messageJson(d: Delivered) {
    if (d.toolCalls.length === 0) return { content: d.content, ...(d.reasoning ? { reasoning_content: d.reasoning } : {}) };
    return {
        content: d.content === '' ? null : d.content,
        ...(d.reasoning ? { reasoning_content: d.reasoning } : {}),
        tool_calls: d.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
    };
}

function usageJson(u: Usage) {
    return {
        prompt_tokens: u.promptTokens,
        completion_tokens: u.completionTokens,
        total_tokens: u.promptTokens + u.completionTokens,
        prompt_tokens_details: { cached_tokens: u.cachedTokens },
        completion_tokens_details: { reasoning_tokens: u.reasoningTokens },
        estimated: u.estimated,
    };
}

/** Observes the time to first token once. */
function firstTokenClock(g: Generation): () => void {
    let seen = false;
    return () => {
        if (seen) return;
        seen = true;
        g.metrics.ttft.observe((performance.now() - g.t0) / 1000);
    };
}

function served(g: Generation) {
    g.metrics.requests.inc({ status: '200' });
    g.metrics.latency.observe((performance.now() - g.t0) / 1000);
}

export async function streamCompletion(reply: FastifyReply, g: Generation): Promise<FastifyReply> {
    reply.hijack();
    const raw = reply.raw;
    let clientGone = false;
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    raw.on('close', () => {
        if (!raw.writableFinished) {
            clientGone = true;
            g.abort();
        }
    });
    // Frames written in one turn leave in one syscall.
    const cork = corkPerTurn(raw);
    const write = (frame: Buffer) => {
        if (clientGone || raw.destroyed) return;
        cork();
        raw.write(`data: ${frameToText(frame)}\n\n`);
    };
    const firstToken = firstTokenClock(g);
    const delivered: Delivered = { content: '', reasoning: '', toolCalls: [], logprobs: [] };
    const pendingLogprobs: TokenLogprob[] = [];
    let end: GenerationEnd = { usage: zeroUsage(true), finishReason: 'error', error: 'stream ended without usage' };
    // Counted into the response hash only once it is handed to the transport.
    const send = (ev: ChatDelta) => {
        if (clientGone) return;
        if (g.shape === 'text') {
            // A text completion has text (and, when asked, its log probabilities) alone: nothing else is counted into the response hash.
            // Log probabilities of tokens that brought no text yet (a split character, a held-back stop) go with the next text.
            if (g.logprobs && ev.logprobs) pendingLogprobs.push(...ev.logprobs);
            if (!ev.content) return;
            const logprobs = g.logprobs ? textLogprobs(pendingLogprobs.splice(0), delivered.content.length) : null;
            deliver(delivered, ev.content, undefined, undefined, logprobs ? textLogprobsOf(logprobs) : undefined);
            const chunk = { id: g.id, object: 'text_completion', created: g.created, model: g.model, choices: [{ text: ev.content, index: 0, logprobs, finish_reason: null }] };
            write(g.sealer.data(Buffer.from(JSON.stringify(chunk))));
            return;
        }
        const toolCalls = ev.toolCalls && ev.toolCalls.length > 0 ? toolCallDeltasJson(ev.toolCalls) : undefined;
        deliver(delivered, ev.content, ev.reasoning, toolCalls, ev.logprobs);
        const delta = { ...(ev.content ? { content: ev.content } : {}), ...(ev.reasoning ? { reasoning_content: ev.reasoning } : {}), ...(toolCalls ? { tool_calls: toolCalls } : {}) };
        const chunk = {
            id: g.id,
            object: 'chat.completion.chunk',
            created: g.created,
            model: g.model,
            choices: [{ index: 0, delta, ...(ev.logprobs ? { logprobs: { content: ev.logprobs } } : {}), finish_reason: null }],
        };
        write(g.sealer.data(Buffer.from(JSON.stringify(chunk))));
    };
    // Deltas that arrive in one turn (the engine ahead of the worker) leave as one chunk.
    const batch = new DeltaBatch(send);
    for await (const ev of g.events) {
        if (ev.type === 'delta') {
            firstToken();
            if (clientGone) continue;
            batch.add(ev);
            // A slow reader slows the engine's reading, not the worker's memory.
            if (raw.writableNeedDrain && !raw.destroyed) await new Promise<void>((res) => raw.once('drain', res).once('close', res));
        } else {
            end = ev;
        }
    }
    batch.flush();
    if (pendingLogprobs.length > 0 && !clientGone) {
        // The last tokens' log probabilities, with no text after them: a chunk of their own, so they are delivered as a whole answer delivers them.
        const logprobs = textLogprobs(pendingLogprobs.splice(0), delivered.content.length);
        deliver(delivered, '', undefined, undefined, textLogprobsOf(logprobs));
        write(
            g.sealer.data(Buffer.from(JSON.stringify({ id: g.id, object: 'text_completion', created: g.created, model: g.model, choices: [{ text: '', index: 0, logprobs, finish_reason: null }] }))),
        );
    }
    // Stored (fsync, shared with concurrent requests) before the final frame goes out. If storing
    // fails, no final frame is sent: the client sees a truncated
    // stream rather than a receipt the worker does not hold.
    let receipt: ReceiptWire | null;
    try {
        receipt = await g.settle(end, delivered);
    } catch (e) {
        g.logger.error({ err: e }, 'could not store the receipt; cutting the stream');
        raw.destroy();
        g.metrics.requests.inc({ status: '500' });
        return reply;
    }
    const last = {
        id: g.id,
        object: g.shape === 'text' ? 'text_completion' : 'chat.completion.chunk',
        created: g.created,
        model: g.model,
        // 'stop', 'length' and 'tool_calls' are OpenAI's finish reasons; 'aborted' and 'error' are Cocoon's own.
        choices: [g.shape === 'text' ? { text: '', index: 0, logprobs: null, finish_reason: end.finishReason } : { index: 0, delta: {}, finish_reason: end.finishReason }],
        usage: usageJson(end.usage),
        receipt,
        ...(end.error ? { error: { message: end.error } } : {}),
    };
    write(g.sealer.final(Buffer.from(JSON.stringify(last))));
    cork.flush();
    if (!raw.destroyed) raw.end();
    served(g);
    return reply;
}

export async function sendCompletion(reply: FastifyReply, g: Generation): Promise<FastifyReply> {
    let clientGone = false;
    reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) {
            clientGone = true;
            g.abort();
        }
    });
    const firstToken = firstTokenClock(g);
    const delivered: Delivered = { content: '', reasoning: '', toolCalls: [], logprobs: [] };
    let end: GenerationEnd | undefined;
    for await (const ev of g.events) {
        if (ev.type === 'delta') {
            firstToken();
            // A text completion's log probabilities as its answer will carry them (./routes/completions.ts).
            if (g.shape === 'text') deliver(delivered, ev.content, undefined, undefined, g.logprobs ? textLogprobsOf(textLogprobs(ev.logprobs ?? [])) : undefined);
            else deliver(delivered, ev.content, ev.reasoning, ev.toolCalls && toolCallDeltasJson(ev.toolCalls), ev.logprobs);
        } else end = ev;
    }
    if (clientGone || !end) {
        // Nothing was delivered: a non-streaming answer exists only as its single frame.
        g.release();
        g.metrics.requests.inc({ status: '499' });
        return reply;
    }
    let receipt: ReceiptWire | null;
    try {
        receipt = await g.settle(end, delivered);
    } catch (e) {
        // Nothing left this process yet: a receipt that cannot be stored is a clean refusal.
        if (e instanceof Refusal) throw e.retryableAfter(5);
        throw e;
    }
    const completion = {
        id: g.id,
        object: g.shape === 'text' ? 'text_completion' : 'chat.completion',
        created: g.created,
        model: g.model,
        choices: [
            g.shape === 'text'
                ? { text: delivered.content, index: 0, logprobs: g.logprobs ? textLogprobs(delivered.logprobs) : null, finish_reason: end.finishReason }
                : {
                      index: 0,
                      message: { role: 'assistant', ...messageJson(delivered) },
                      ...(g.logprobs ? { logprobs: { content: delivered.logprobs } } : {}),
                      finish_reason: end.finishReason,
                  },
        ],
        usage: usageJson(end.usage),
        receipt,
        ...(end.error ? { error: { message: end.error } } : {}),
    };
    served(g);
    return reply
        .code(200)
        .type(ENVELOPE_MEDIA_TYPE)
        .send(g.sealer.final(Buffer.from(JSON.stringify(completion))));
}
