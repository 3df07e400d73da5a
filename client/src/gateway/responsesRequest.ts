import { z } from 'zod';
import type { ChatCompletionRequest, ChatMessageInput } from '../../../protocol/paidRequest';

/**
 * The OpenAI Responses API request (`POST /v1/responses`) as this gateway
 * serves it: translated into one paid chat completion. Every field is either
 * honoured or refused by name; a field whose value asks for nothing (null,
 * `[]`, false, the default) is dropped.
 */

/** Fields whose value asks for nothing when it is null or as given here; any other value is refused by name. */
const NEUTRAL_FIELDS: Record<string, (v: unknown) => boolean> = {
    truncation: (v) => v === 'disabled',
    background: (v) => v === false,
    include: (v) => Array.isArray(v) && v.length === 0,
    reasoning: (v) => typeof v === 'object' && v !== null && Object.values(v).every((x) => x === null || x === undefined),
    service_tier: (v) => v === 'auto' || v === 'default',
    top_logprobs: (v) => v === 0,
    // Neutral only when null.
    max_tool_calls: () => false,
    prompt: () => false,
    conversation: () => false,
    prompt_cache_key: () => false,
    safety_identifier: () => false,
};

/** Fields of items an app sends back from an earlier response's output: the status and id it was given. */
function withoutNeutral(input: unknown): unknown {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
    const out: Record<string, unknown> = { ...(input as Record<string, unknown>) };
    for (const [field, isNeutral] of Object.entries(NEUTRAL_FIELDS)) {
        if (field in out && (out[field] === null || out[field] === undefined || isNeutral(out[field]))) delete out[field];
    }
    return out;
}

const name = z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only');
const itemId = z.string().max(256).optional();
const itemStatus = z.enum(['in_progress', 'completed', 'incomplete']).optional();

const inputText = z.object({ type: z.literal('input_text'), text: z.string() }).strict();
// An earlier answer's text, as the app got it in `output` (annotations and logprobs are what was delivered: they do not go to the model).
const outputText = z.object({ type: z.literal('output_text'), text: z.string(), annotations: z.array(z.unknown()).optional(), logprobs: z.array(z.unknown()).optional() }).strict();
const refusalPart = z.object({ type: z.literal('refusal'), refusal: z.string() }).strict();
// An image by URL (https or a data URL; judged by the chat request's rules), in a user message.
const inputImage = z.object({ type: z.literal('input_image'), image_url: z.string(), detail: z.enum(['auto', 'low', 'high']).optional() }).strict();

const message = z
    .object({
        type: z.literal('message').optional(),
        id: itemId,
        status: itemStatus,
        role: z.enum(['user', 'system', 'developer', 'assistant']),
        content: z.union([z.string(), z.array(z.discriminatedUnion('type', [inputText, inputImage, outputText, refusalPart])).min(1)]),
    })
    .strict();

const functionCall = z.object({ type: z.literal('function_call'), id: itemId, status: itemStatus, call_id: z.string().min(1).max(256), name, arguments: z.string().max(1 << 20) }).strict();

const functionCallOutput = z
    .object({
        type: z.literal('function_call_output'),
        id: itemId,
        status: itemStatus,
        call_id: z.string().min(1).max(256),
        output: z.union([z.string(), z.array(inputText).min(1)]),
    })
    .strict();

// Reasoning an earlier response showed. Chat templates leave earlier turns' reasoning out of the prompt, so it is not sent on (as OpenAI's own models do with reasoning not followed by a tool call).
const reasoning = z
    .object({
        type: z.literal('reasoning'),
        id: itemId,
        status: itemStatus,
        summary: z.array(z.unknown()),
        content: z.array(z.unknown()).optional(),
        encrypted_content: z.null().optional(),
    })
    .strict();

const inputItem = z.union([message, functionCall, functionCallOutput, reasoning]);

const functionTool = z
    .object({
        type: z.literal('function'),
        name,
        description: z.string().max(8192).nullish(),
        parameters: z.record(z.unknown()).nullish(),
        strict: z.boolean().nullish(),
    })
    .strict();

const textFormat = z.discriminatedUnion('type', [
    z.object({ type: z.literal('text') }).strict(),
    z.object({ type: z.literal('json_object') }).strict(),
    z
        .object({
            type: z.literal('json_schema'),
            name,
            schema: z.record(z.unknown()),
            description: z.string().max(4096).nullish(),
            strict: z.boolean().nullish(),
        })
        .strict(),
]);

export const responsesRequestSchema = z.preprocess(
    withoutNeutral,
    z
        .object({
            model: z.string().min(1).max(256),
            input: z.union([z.string(), z.array(inputItem).min(1).max(4096)]),
            instructions: z.string().nullish(),
            previous_response_id: z.string().min(1).max(256).nullish(),
            store: z.boolean().nullish(),
            stream: z.boolean().nullish(),
            stream_options: z.object({ include_obfuscation: z.boolean().nullish() }).strict().nullish(),
            max_output_tokens: z.number().int().min(1).max(1_000_000).nullish(),
            temperature: z.number().min(0).max(2).nullish(),
            top_p: z.number().min(0).max(1).nullish(),
            tools: z.array(functionTool).max(128).nullish(),
            tool_choice: z.union([z.enum(['none', 'auto', 'required']), z.object({ type: z.literal('function'), name }).strict()]).nullish(),
            parallel_tool_calls: z.boolean().nullish(),
            text: z
                .object({ format: textFormat.nullish(), verbosity: z.literal('medium').nullish() })
                .strict()
                .nullish(),
            metadata: z
                .record(z.string().max(64), z.string().max(512))
                .refine((m) => Object.keys(m).length <= 16, 'at most 16 keys')
                .nullish(),
            user: z.string().max(256).nullish(),
        })
        .strict(),
);

export type ResponsesRequest = z.infer<typeof responsesRequestSchema>;

/** The text of message content or a tool's output. */
function textOf(content: string | ReadonlyArray<{ type: string; text?: string; refusal?: string; image_url?: unknown }>): string {
    return typeof content === 'string' ? content : content.map((p) => p.text ?? p.refusal ?? '').join('');
}

/**
 * The conversation as chat messages: an earlier response's `history`, then
 * the input items in order. Function calls that follow each other (and the
 * assistant text right before them) make one assistant message with
 * `tool_calls`, as chat templates expect.
 */
export function chatMessagesOf(input: ResponsesRequest['input'], history: readonly ChatMessageInput[] = []): ChatMessageInput[] {
    const out: ChatMessageInput[] = [...history];
    if (typeof input === 'string') {
        out.push({ role: 'user', content: input });
        return out;
    }
    for (const item of input) {
        if (item.type === 'reasoning') continue;
        if (item.type === 'function_call') {
            const call = { id: item.call_id, type: 'function' as const, function: { name: item.name, arguments: item.arguments } };
            const last = out.at(-1);
            if (last?.role === 'assistant') last.tool_calls = [...(last.tool_calls ?? []), call];
            else out.push({ role: 'assistant', content: null, tool_calls: [call] });
            continue;
        }
        if (item.type === 'function_call_output') {
            out.push({ role: 'tool', tool_call_id: item.call_id, content: textOf(item.output) });
            continue;
        }
        const text = textOf(item.content);
        // Images stay parts, in order (only a user message may carry them: the chat request's rules refuse them elsewhere, by name).
        if (Array.isArray(item.content) && item.content.some((p) => p.type === 'input_image'))
            out.push({
                role: item.role,
                content: item.content.map((p) =>
                    p.type === 'input_image'
                        ? { type: 'image_url' as const, image_url: { url: p.image_url, ...(p.detail ? { detail: p.detail } : {}) } }
                        : { type: 'text' as const, text: textOf([p]) },
                ),
            } as ChatMessageInput);
        else if (item.role === 'assistant') out.push({ role: 'assistant', content: text });
        else out.push({ role: item.role, content: text });
    }
    return out;
}

/** The chat completion request the Responses request asks for, over `messages` (the conversation without instructions). */
export function chatRequestOf(r: ResponsesRequest, messages: readonly ChatMessageInput[], stream: boolean): ChatCompletionRequest {
    const format = r.text?.format;
    const tools = r.tools && r.tools.length > 0 ? r.tools : undefined;
    const choice = r.tool_choice;
    return {
        model: r.model,
        messages: [...(r.instructions ? [{ role: 'system' as const, content: r.instructions }] : []), ...messages],
        ...(r.max_output_tokens ? { max_completion_tokens: r.max_output_tokens } : {}),
        ...(r.temperature !== undefined && r.temperature !== null ? { temperature: r.temperature } : {}),
        ...(r.top_p !== undefined && r.top_p !== null ? { top_p: r.top_p } : {}),
        ...(format && format.type !== 'text'
            ? {
                  response_format:
                      format.type === 'json_object'
                          ? { type: 'json_object' as const }
                          : {
                                type: 'json_schema' as const,
                                json_schema: { name: format.name, schema: format.schema, ...(format.description ? { description: format.description } : {}), strict: format.strict ?? null },
                            },
              }
            : {}),
        ...(tools
            ? {
                  tools: tools.map((t) => ({
                      type: 'function' as const,
                      function: {
                          name: t.name,
                          ...(t.description ? { description: t.description } : {}),
                          ...(t.parameters ? { parameters: t.parameters } : {}),
                          strict: t.strict ?? null,
                      },
                  })),
              }
            : {}),
        // Judged with the tools by the chat request's rules (a call asked for with no tools is refused there).
        ...(choice ? { tool_choice: typeof choice === 'string' ? choice : { type: 'function' as const, function: { name: choice.name } } } : {}),
        ...(r.parallel_tool_calls !== undefined && r.parallel_tool_calls !== null ? { parallel_tool_calls: r.parallel_tool_calls } : {}),
        ...(r.user ? { user: r.user } : {}),
        ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    };
}
