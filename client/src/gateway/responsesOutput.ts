import { randomBytes } from 'node:crypto';
import type { ResponsesRequest } from './responsesRequest';

/**
 * The Responses API's answer, built from a paid chat completion: the
 * Response object (`object: "response"`, output items, usage) and, when
 * streaming, its events in OpenAI's order (`response.created`, items added,
 * text and argument deltas, items done, `response.completed`), each with its
 * `sequence_number`.
 */

export function newId(prefix: 'resp' | 'msg' | 'fc' | 'rs'): string {
    return `${prefix}_${randomBytes(16).toString('hex')}`;
}

type Item = Record<string, any>;

/** The usage of a chat answer in the Responses API's names. */
export function responsesUsage(chatUsage: any) {
    const u = chatUsage ?? {};
    const input = u.prompt_tokens ?? 0;
    const output = u.completion_tokens ?? 0;
    return {
        input_tokens: input,
        input_tokens_details: { cached_tokens: u.prompt_tokens_details?.cached_tokens ?? 0 },
        output_tokens: output,
        output_tokens_details: { reasoning_tokens: u.completion_tokens_details?.reasoning_tokens ?? 0 },
        total_tokens: u.total_tokens ?? input + output,
    };
}

/** How the chat answer's finish reason ends the response. */
function endOf(finishReason: string | null | undefined, error: { message?: string } | undefined) {
    if (finishReason === 'stop' || finishReason === 'tool_calls') return { status: 'completed', incomplete_details: null, error: null };
    if (finishReason === 'length') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, error: null };
    return {
        status: 'failed',
        incomplete_details: null,
        error: { code: 'server_error', message: `the generation broke off (${finishReason ?? 'no finish reason'})${error?.message ? `: ${error.message}` : ''}` },
    };
}

/** A Response as the request describes it, with no output yet. */
export function responseShell(id: string, createdAt: number, r: ResponsesRequest, previousResponseId: string | null) {
    return {
        id,
        object: 'response',
        created_at: createdAt,
        status: 'in_progress' as string,
        error: null as { code: string; message: string } | null,
        incomplete_details: null as { reason: string } | null,
        instructions: r.instructions ?? null,
        max_output_tokens: r.max_output_tokens ?? null,
        model: r.model,
        output: [] as Item[],
        parallel_tool_calls: r.parallel_tool_calls ?? true,
        previous_response_id: previousResponseId,
        reasoning: { effort: null, summary: null },
        store: r.store ?? true,
        temperature: r.temperature ?? null,
        text: { format: r.text?.format ?? { type: 'text' } },
        tool_choice: r.tool_choice ?? 'auto',
        tools: (r.tools ?? []).map((t) => ({ type: 'function', name: t.name, description: t.description ?? null, parameters: t.parameters ?? null, strict: t.strict ?? null })),
        top_p: r.top_p ?? null,
        truncation: 'disabled',
        usage: null as ReturnType<typeof responsesUsage> | null,
        user: r.user ?? null,
        metadata: r.metadata ?? {},
    };
}

export type ResponseObject = ReturnType<typeof responseShell>;

/** The output items of a whole chat answer: its reasoning, its text, then its tool calls. */
export function outputItems(message: { content?: string | null; reasoning_content?: string | null; tool_calls?: any[] | null }): Item[] {
    const out: Item[] = [];
    if (message.reasoning_content) out.push(reasoningItem(newId('rs'), message.reasoning_content));
    if (message.content) out.push(messageItem(newId('msg'), message.content, 'completed'));
    for (const c of message.tool_calls ?? []) out.push(functionCallItem(newId('fc'), c.id, c.function?.name ?? '', c.function?.arguments ?? '', 'completed'));
    return out;
}

function reasoningItem(id: string, text: string): Item {
    return { type: 'reasoning', id, summary: [], content: [{ type: 'reasoning_text', text }] };
}

function messageItem(id: string, text: string, status: string): Item {
    return { type: 'message', id, status, role: 'assistant', content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] };
}

function functionCallItem(id: string, callId: string, name: string, args: string, status: string): Item {
    return { type: 'function_call', id, call_id: callId, name, arguments: args, status };
}

/** The finished Response of a whole (non-streamed) chat completion. */
export function completedResponse(shell: ResponseObject, completion: any): ResponseObject {
    const choice = completion.choices?.[0] ?? {};
    return { ...shell, ...endOf(choice.finish_reason, completion.error), output: outputItems(choice.message ?? {}), usage: responsesUsage(completion.usage) };
}

/**
 * Streams a response: `start()` once, `chunk()` for each chat chunk, then
 * `finish()` with the last chunk (finish reason, usage). Items stay open
 * while the chunks come (parallel tool calls may interleave) and are closed
 * in output order at the end.
 */
export class ResponseEvents {
    private sequence = 0;
    private readonly items: Item[] = [];
    private reasoning?: Item;
    private message?: Item;
    private readonly calls = new Map<number, Item>();

    constructor(
        private readonly shell: ResponseObject,
        private readonly send: (event: Record<string, unknown>) => void,
        /** Pads each delta with random characters (`obfuscation`), so that the sizes of encrypted events do not tell the lengths of tokens. */
        private readonly obfuscate: boolean,
    ) {}

    private emit(type: string, fields: Record<string, unknown>) {
        this.send({ type, sequence_number: this.sequence++, ...fields });
    }

    private padding(): Record<string, string> {
        return this.obfuscate ? { obfuscation: randomBytes(1 + (randomBytes(1)[0] % 16)).toString('base64url') } : {};
    }

    start(): void {
        this.emit('response.created', { response: { ...this.shell, output: [] } });
        this.emit('response.in_progress', { response: { ...this.shell, output: [] } });
    }

    private open(item: Item): number {
        this.items.push(item);
        const index = this.items.length - 1;
        this.emit('response.output_item.added', { output_index: index, item: structuredClone(item) });
        return index;
    }

    chunk(chunk: any): void {
        const delta = chunk?.choices?.[0]?.delta ?? {};
        if (typeof delta.reasoning_content === 'string' && delta.reasoning_content) {
            if (!this.reasoning) {
                this.reasoning = { type: 'reasoning', id: newId('rs'), summary: [], content: [] };
                const index = this.open(this.reasoning);
                this.reasoning.content.push({ type: 'reasoning_text', text: '' });
                this.emit('response.content_part.added', { item_id: this.reasoning.id, output_index: index, content_index: 0, part: { type: 'reasoning_text', text: '' } });
            }
            this.reasoning.content[0].text += delta.reasoning_content;
            this.emit('response.reasoning_text.delta', {
                item_id: this.reasoning.id,
                output_index: this.items.indexOf(this.reasoning),
                content_index: 0,
                delta: delta.reasoning_content,
                ...this.padding(),
            });
        }
        if (typeof delta.content === 'string' && delta.content) {
            if (!this.message) {
                this.message = { type: 'message', id: newId('msg'), status: 'in_progress', role: 'assistant', content: [] };
                const index = this.open(this.message);
                const part = { type: 'output_text', text: '', annotations: [], logprobs: [] };
                this.message.content.push(part);
                this.emit('response.content_part.added', { item_id: this.message.id, output_index: index, content_index: 0, part: { ...part } });
            }
            this.message.content[0].text += delta.content;
            this.emit('response.output_text.delta', {
                item_id: this.message.id,
                output_index: this.items.indexOf(this.message),
                content_index: 0,
                delta: delta.content,
                logprobs: [],
                ...this.padding(),
            });
        }
        for (const d of Array.isArray(delta.tool_calls) ? delta.tool_calls : []) {
            const key = typeof d?.index === 'number' ? d.index : this.calls.size;
            let call = this.calls.get(key);
            if (!call) {
                call = functionCallItem(newId('fc'), String(d.id ?? ''), String(d.function?.name ?? ''), '', 'in_progress');
                this.calls.set(key, call);
                this.open(call);
            }
            const piece = typeof d.function?.arguments === 'string' ? d.function.arguments : '';
            if (!piece) continue;
            call.arguments += piece;
            this.emit('response.function_call_arguments.delta', { item_id: call.id, output_index: this.items.indexOf(call), delta: piece, ...this.padding() });
        }
    }

    /** Closes every item and ends the response with `last` (the chat answer's last chunk); returns the Response as completed. */
    finish(last: any, extras: Record<string, unknown>): ResponseObject & Record<string, unknown> {
        this.items.forEach((item, index) => {
            if (item.type === 'reasoning') {
                this.emit('response.reasoning_text.done', { item_id: item.id, output_index: index, content_index: 0, text: item.content[0].text });
                this.emit('response.content_part.done', { item_id: item.id, output_index: index, content_index: 0, part: { ...item.content[0] } });
            } else if (item.type === 'message') {
                item.status = 'completed';
                const part = item.content[0];
                this.emit('response.output_text.done', { item_id: item.id, output_index: index, content_index: 0, text: part.text, logprobs: [] });
                this.emit('response.content_part.done', { item_id: item.id, output_index: index, content_index: 0, part: { ...part } });
            } else {
                item.status = 'completed';
                this.emit('response.function_call_arguments.done', { item_id: item.id, output_index: index, name: item.name, arguments: item.arguments });
            }
            this.emit('response.output_item.done', { output_index: index, item: structuredClone(item) });
        });
        const end = endOf(last?.choices?.[0]?.finish_reason, last?.error);
        const response = { ...this.shell, ...end, output: this.items, usage: responsesUsage(last?.usage), ...extras };
        const type = end.status === 'completed' ? 'response.completed' : end.status === 'incomplete' ? 'response.incomplete' : 'response.failed';
        this.emit(type, { response });
        return response;
    }

    /** The response broke off after it started: an `error` event, then `response.failed`. */
    fail(code: string, message: string): void {
        this.emit('error', { code, message, param: null });
        this.emit('response.failed', { response: { ...this.shell, status: 'failed', error: { code: 'server_error', message }, output: this.items } });
    }
}
