import { createHash } from 'node:crypto';
import { Address, Cell, beginCell } from '@ton/core';
import { z } from 'zod';
import { loadVoucher } from '../build/PaymentChannel/PaymentChannel_PaymentChannel';
import { Prices, receiptMaxCost } from '../wrappers/receipt';
import { SignedVoucher, voucherCell } from '../wrappers/voucher';
import { ResponseOpener, frameFromText, sealRequest } from '../helpers/hpke';

/**
 * The paid-request protocol between a Cocoon client and a worker, shared by
 * worker/ and client/ so both sides parse exactly the same shapes.
 *
 * Transport: `POST /v1/chat/completions` with `content-type:
 * application/vnd.cocoon.hpke.v1` and, as the body, an HPKE request envelope
 * (helpers/hpke.ts) whose plaintext is a `PaidRequest` (JSON, UTF-8):
 *
 *     { "version": 1,
 *       "channel": "<PaymentChannel address>",
 *       "voucher": "<base64 BOC of the client's newest signed voucher>" | absent,
 *       "request": { ...an OpenAI chat completion request... } }
 *
 * Answer when served: non-streaming, one final response frame (binary body)
 * whose plaintext is an OpenAI `chat.completion` object with an extra
 * `receipt`; streaming (`request.stream: true`), `text/event-stream` with one
 * base64 frame per `data:` line: data frames hold OpenAI
 * `chat.completion.chunk` objects and the final frame holds the last chunk
 * (finish reason, usage) with the `receipt`.
 *
 * Payment rules the worker applies before serving: the channel is open and
 * names this worker and its key; the voucher (if sent) verifies with the
 * channel's client key and is not older than one the worker holds; the
 * newest voucher leaves at most `maxUnpaidReceipts` (default 1) receipts
 * uncovered; the deposit covers every receipt plus this request's maximum
 * cost (max_tokens at the worker's prices in force).
 *
 * Refusals (nothing served, nothing charged) are plain JSON
 * `{ error: { message, type, code } }` with an HTTP status; their messages
 * never repeat request content.
 */

export const PROTOCOL_VERSION = 1;

/** Signed voucher on the wire: cell { signature: bits512, ^voucher cell }. */
export function encodeVoucher(v: SignedVoucher): string {
    if (v.signature.length !== 64) throw new Error('an Ed25519 signature is 64 bytes');
    return beginCell().storeBuffer(v.signature).storeRef(voucherCell(v.channel, v.total)).endCell().toBoc().toString('base64');
}

export function decodeVoucher(text: string): SignedVoucher {
    let cell: Cell;
    try {
        cell = Cell.fromBase64(text);
    } catch {
        throw new Error('voucher is not a base64 BOC');
    }
    const s = cell.beginParse();
    if (s.remainingBits !== 512 || s.remainingRefs !== 1) throw new Error('voucher cell must hold a 64-byte signature and one reference');
    const signature = s.loadBuffer(64);
    const inner = s.loadRef().beginParse();
    const v = loadVoucher(inner);
    if (inner.remainingBits !== 0 || inner.remainingRefs !== 0) throw new Error('voucher cell has trailing data');
    return { channel: v.channel, total: v.total, signature };
}

const textPart = z.object({ type: z.literal('text'), text: z.string() }).strict();

/**
 * An image in a user message: an https URL (the backend fetches it) or a
 * data URL of a PNG, JPEG, WebP or GIF. Backends that take images get it as
 * the API spells it; the others refuse it by name.
 */
const imagePart = z
    .object({
        type: z.literal('image_url'),
        image_url: z
            .object({
                url: z
                    .string()
                    .max(8 << 20)
                    .regex(/^(https:\/\/\S+|data:image\/(png|jpeg|webp|gif);base64,[A-Za-z0-9+/]+=*)$/, 'an https URL or a base64 data URL of a PNG, JPEG, WebP or GIF image'),
                detail: z.enum(['auto', 'low', 'high']).optional(),
            })
            .strict(),
    })
    .strict();

/**
 * The most prompt tokens one image may count: vision models turn an image
 * into a number of tokens that grows with its size up to a cap of their own
 * (Qwen2.5-VL's default cap is 16,384; Llama 3.2 Vision's and GPT-4o's are
 * lower). Admission and the client's receipt rule bound each image by it.
 */
export const IMAGE_TOKENS_BOUND = 16_384;

/**
 * Fields of the OpenAI chat request this protocol does not carry (yet), with
 * the value that asks for nothing: a request that sends the neutral value
 * (or null) loses nothing, so the field is dropped; any other value is
 * refused by name. Nothing a client sends is silently ignored.
 */
const NEUTRAL_REQUEST_FIELDS: Record<string, (v: unknown) => boolean> = {
    functions: (v) => Array.isArray(v) && v.length === 0,
    function_call: (v) => v === 'none' || v === 'auto',
    // Plain text is what every answer is anyway.
    response_format: (v) => typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'text' && Object.keys(v).length === 1,
    store: (v) => v === false,
    metadata: (v) => typeof v === 'object' && v !== null && Object.keys(v).length === 0,
    modalities: (v) => Array.isArray(v) && v.length === 1 && v[0] === 'text',
    // Neutral only when null.
    audio: () => false,
    prediction: () => false,
    reasoning_effort: () => false,
    service_tier: () => false,
    web_search_options: () => false,
};

/** Fields an assistant message carries when an app sends a previous answer back as history. */
const NEUTRAL_MESSAGE_FIELDS: Record<string, (v: unknown) => boolean> = {
    refusal: () => false,
    annotations: (v) => Array.isArray(v) && v.length === 0,
    tool_calls: (v) => Array.isArray(v) && v.length === 0,
    function_call: () => false,
    audio: () => false,
    // The openai SDK's reading of the content (its parse helpers and tool runner send the message back with it): the content says it all.
    parsed: () => true,
};

/** Drops the fields of `neutral` that are null or neutral; the rest stay for the strict schema to judge. */
function withoutNeutral(neutral: Record<string, (v: unknown) => boolean>) {
    return (input: unknown) => {
        if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
        const out: Record<string, unknown> = { ...(input as Record<string, unknown>) };
        for (const [field, isNeutral] of Object.entries(neutral)) {
            if (field in out && (out[field] === null || out[field] === undefined || isNeutral(out[field]))) delete out[field];
        }
        return out;
    };
}

const toolName = z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only');

/** A function the model may call (OpenAI's tool definition). */
const toolSchema = z
    .object({
        type: z.literal('function'),
        function: z
            .object({
                name: toolName,
                description: z.string().max(8192).optional(),
                parameters: z.record(z.unknown()).optional(),
                strict: z.boolean().nullish(),
            })
            .strict(),
    })
    .strict();

/** A call the model made, as an assistant message sent back as history carries it. */
const toolCallSchema = z
    .object({
        id: z.string().min(1).max(256),
        type: z.literal('function'),
        // parsed_arguments: the openai SDK's reading of `arguments`, sent back by its tool runner; the arguments say it all.
        function: z.preprocess(withoutNeutral({ parsed_arguments: () => true }), z.object({ name: toolName, arguments: z.string().max(1 << 20) }).strict()),
    })
    .strict();

export type ToolCall = z.infer<typeof toolCallSchema>;

/** The most entries a logit_bias may hold (OpenAI's own limit). */
export const LOGIT_BIAS_MAX_ENTRIES = 300;

/**
 * response_format: an answer that is a JSON object, or one that follows a
 * JSON schema. The schema is the app's: how much of JSON Schema a backend can
 * enforce is the backend's to say (it refuses what it cannot, by keyword).
 */
const responseFormatSchema = z.discriminatedUnion('type', [
    z.object({ type: z.literal('json_object') }).strict(),
    z
        .object({
            type: z.literal('json_schema'),
            json_schema: z
                .object({
                    name: z
                        .string()
                        .min(1)
                        .max(64)
                        .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only'),
                    description: z.string().max(4096).optional(),
                    schema: z.record(z.unknown()).optional(),
                    strict: z.boolean().nullish(),
                })
                .strict(),
        })
        .strict(),
]);

/** The subset of the OpenAI chat completion request a worker serves; any other field is refused by name. */
export const chatRequestSchema = z.preprocess(
    withoutNeutral(NEUTRAL_REQUEST_FIELDS),
    z
        .object({
            model: z.string().min(1).max(256),
            messages: z
                .array(
                    z.preprocess(
                        withoutNeutral(NEUTRAL_MESSAGE_FIELDS),
                        z
                            .discriminatedUnion('role', [
                                z
                                    .object({
                                        role: z.enum(['system', 'developer']),
                                        content: z.union([z.string(), z.array(textPart).min(1)]),
                                        name: z.string().max(256).optional(),
                                    })
                                    .strict(),
                                // The user's turn, images included.
                                z
                                    .object({
                                        role: z.literal('user'),
                                        content: z.union([z.string(), z.array(z.discriminatedUnion('type', [textPart, imagePart])).min(1)]),
                                        name: z.string().max(256).optional(),
                                    })
                                    .strict(),
                                // An earlier answer: its text, or the tools it called (content then null), or both.
                                z
                                    .object({
                                        role: z.literal('assistant'),
                                        content: z.union([z.string(), z.array(textPart).min(1)]).nullish(),
                                        name: z.string().max(256).optional(),
                                        tool_calls: z.array(toolCallSchema).min(1).max(128).optional(),
                                    })
                                    .strict(),
                                // What a called tool returned.
                                z
                                    .object({
                                        role: z.literal('tool'),
                                        content: z.union([z.string(), z.array(textPart).min(1)]),
                                        tool_call_id: z.string().min(1).max(256),
                                    })
                                    .strict(),
                            ])
                            .superRefine((m, ctx) => {
                                if (m.role === 'assistant' && (m.content ?? null) === null && m.tool_calls === undefined)
                                    ctx.addIssue({ code: 'custom', path: ['content'], message: 'an assistant message needs content or tool_calls' });
                            }),
                    ),
                )
                .min(1)
                .max(4096),
            max_tokens: z.number().int().min(1).max(1_000_000).nullish(),
            max_completion_tokens: z.number().int().min(1).max(1_000_000).nullish(),
            temperature: z.number().min(0).max(2).nullish(),
            top_p: z.number().min(0).max(1).nullish(),
            seed: z.number().int().nullish(),
            presence_penalty: z.number().min(-2).max(2).nullish(),
            frequency_penalty: z.number().min(-2).max(2).nullish(),
            // Token ids (as OpenAI sends them: decimal strings) to a bias added to their logits; -100 bans a token.
            logit_bias: z
                .record(z.string().regex(/^(0|[1-9][0-9]{0,8})$/, 'token ids are decimal integers'), z.number().min(-100).max(100))
                .refine((b) => Object.keys(b).length <= LOGIT_BIAS_MAX_ENTRIES, `at most ${LOGIT_BIAS_MAX_ENTRIES} tokens`)
                .nullish(),
            response_format: responseFormatSchema.nullish(),
            tools: z.array(toolSchema).max(128).nullish(),
            tool_choice: z.union([z.enum(['none', 'auto', 'required']), z.object({ type: z.literal('function'), function: z.object({ name: toolName }).strict() }).strict()]).nullish(),
            parallel_tool_calls: z.boolean().nullish(),
            stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
            // The log probability of each token delivered, and of the `top_logprobs` likeliest at each place.
            logprobs: z.boolean().nullish(),
            top_logprobs: z.number().int().min(0).max(20).nullish(),
            n: z.literal(1).nullish(),
            stream: z.boolean().nullish(),
            stream_options: z.object({ include_usage: z.boolean().optional() }).strict().nullish(),
            user: z.string().max(256).optional(),
        })
        .strict()
        .superRefine((r, ctx) => {
            const names = new Set((r.tools ?? []).map((t) => t.function.name));
            if (names.size !== (r.tools ?? []).length) ctx.addIssue({ code: 'custom', path: ['tools'], message: 'two tools share a name' });
            const choice = r.tool_choice;
            if ((choice === 'required' || typeof choice === 'object') && names.size === 0)
                ctx.addIssue({ code: 'custom', path: ['tool_choice'], message: 'asks for a tool call, but no tools were sent' });
            if (typeof choice === 'object' && choice && names.size > 0 && !names.has(choice.function.name))
                ctx.addIssue({ code: 'custom', path: ['tool_choice', 'function', 'name'], message: 'names no tool of the request' });
            if ((r.top_logprobs ?? 0) > 0 && r.logprobs !== true) ctx.addIssue({ code: 'custom', path: ['top_logprobs'], message: 'needs logprobs: true' });
        }),
);

export type ChatCompletionRequest = z.infer<typeof chatRequestSchema>;
export type ChatMessageInput = ChatCompletionRequest['messages'][number];

export const paidRequestSchema = z
    .object({
        version: z.literal(PROTOCOL_VERSION),
        channel: z.string().min(1).max(100),
        voucher: z.string().min(1).max(4096).optional(),
        request: chatRequestSchema,
    })
    .strict();

export type PaidRequest = z.infer<typeof paidRequestSchema>;

/** A validation failure, described by paths and rules only (never by the values sent). */
export function describeIssues(error: z.ZodError): string {
    return error.issues
        .slice(0, 5)
        .map((i): string => {
            // Of the shapes a value could take, the one it came closest to (whose error lies deepest) says best what is wrong.
            if (i.code === 'invalid_union') {
                const deepest = i.unionErrors.reduce((a, b) => (depth(b) > depth(a) ? b : a));
                if (depth(deepest) > i.path.length) return describeIssues(deepest);
            }
            const path = i.path.join('.') || '(root)';
            switch (i.code) {
                case 'invalid_type':
                    return `${path}: expected ${i.expected}, got ${i.received}`;
                case 'unrecognized_keys':
                    return i.keys
                        .map((k) => `${path === '(root)' ? '' : path + '.'}${k.slice(0, 40)}: not supported (no backend of this network is asked for it: the field is refused rather than ignored)`)
                        .join('; ');
                case 'invalid_literal':
                    return `${path}: must be ${JSON.stringify(i.expected)}`;
                case 'invalid_union_discriminator':
                    return `${path}: must be ${i.options.map((o) => JSON.stringify(o)).join(' or ')}`;
                case 'too_small':
                case 'too_big':
                case 'invalid_string':
                case 'not_multiple_of':
                case 'custom':
                    return `${path}: ${i.message}`;
                default:
                    return `${path}: invalid value`;
            }
        })
        .join('; ');
}

function depth(e: z.ZodError): number {
    return Math.max(0, ...e.issues.map((i) => i.path.length));
}

/** A message's content: text, or parts (text, and images in a user message). */
export type MessageContent = string | ReadonlyArray<{ type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string; detail?: string } }>;

/** Text of a message's content (text parts joined; images left out). */
export function contentText(content: MessageContent): string {
    return typeof content === 'string' ? content : content.map((p) => (p.type === 'text' ? p.text : '')).join('');
}

/** The images of a message's content. */
export function contentImages(content: MessageContent | null | undefined): number {
    return typeof content === 'string' || !content ? 0 : content.filter((p) => p.type === 'image_url').length;
}

/**
 * Prompt tokens a chat template may add when tools are offered, beyond the
 * tools' own JSON: its instructions for calling them (some hundreds of bytes
 * in Llama 3.1's, Qwen 2.5's and Hermes' templates, a date header included;
 * the embedded engine's generic instructions run to about 950 characters,
 * which a character-level vocabulary counts as as many tokens).
 */
export const TOOLS_TEMPLATE_TOKENS = 1024;

/**
 * The most prompt tokens a request can be billed for: no tokenizer makes more
 * tokens than the text has bytes, plus a chat template's overhead per message
 * and per request. Tools, tool calls and a response_format count as their
 * JSON text (a template puts them in the prompt), tools with the
 * instructions that come with them (TOOLS_TEMPLATE_TOKENS), and each image
 * as IMAGE_TOKENS_BOUND. The worker admits a request only if its
 * channel covers this many prompt tokens; the client refuses a receipt that
 * counts more.
 */
export function promptTokenBound(request: {
    messages: ReadonlyArray<{ content?: MessageContent | null; tool_calls?: readonly ToolCall[]; tool_call_id?: string }>;
    response_format?: unknown;
    tools?: unknown;
}): number {
    const json = (v: unknown) => (v ? Buffer.byteLength(JSON.stringify(v), 'utf8') + 16 : 0);
    return request.messages.reduce(
        (n, m) =>
            n +
            Buffer.byteLength(contentText(m.content ?? ''), 'utf8') +
            16 +
            contentImages(m.content) * IMAGE_TOKENS_BOUND +
            json(m.tool_calls) +
            (m.tool_call_id ? Buffer.byteLength(m.tool_call_id, 'utf8') : 0),
        16 + json(request.response_format) + json(request.tools) + (Array.isArray(request.tools) && request.tools.length > 0 ? TOOLS_TEMPLATE_TOKENS : 0),
    );
}

/**
 * The most a request can cost at `prices`: every prompt token uncached, and
 * up to `maxTokens` tokens both of completion and of reasoning. The worker
 * admits a request only if its channel's unspent deposit covers this; the
 * client refuses up front a request no channel it would hold can cover.
 */
export function requestMaxCost(prices: Prices, promptBound: number, maxTokens: number): bigint {
    const m = BigInt(maxTokens);
    return receiptMaxCost(prices, { prompt: BigInt(promptBound), cached: 0n, completion: m, reasoning: m });
}

/** The receipt as it travels in the final frame. */
export interface ReceiptWire {
    /** base64 BOC of the evidence cell (SignedReceipt: signature + receipt), wrappers/receipt.ts. */
    boc: string;
    requestId: string;
    cost: string;
    cumulativeCost: string;
}

/** SHA-256 the receipt commits to for the request: the plaintext PaidRequest bytes as sent. */
export function requestDigest(plaintext: Buffer): Buffer {
    return createHash('sha256').update(plaintext).digest();
}

/** A tool call as delivered, its streamed pieces joined: what a response digest commits to. */
export interface DeliveredToolCall {
    id: string;
    name: string;
    arguments: string;
}

/** One token's log probability as OpenAI delivers it (`choices[].logprobs.content[]`). */
export interface TokenLogprob {
    token: string;
    logprob: number;
    bytes: number[] | null;
    top_logprobs: Array<{ token: string; logprob: number; bytes: number[] | null }>;
}

/**
 * SHA-256 the receipt commits to for the response: the reasoning text
 * delivered, a zero byte, then the content text delivered (UTF-8); when the
 * model called tools, then a zero byte and the calls as JSON
 * (`[{"id","name","arguments"}, ...]` in the order of their index); when
 * log probabilities were delivered, then a zero byte, `logprobs:` and
 * their JSON (the `content` entries in order).
 */
export function responseDigest(content: string, reasoning: string, toolCalls: readonly DeliveredToolCall[] = [], logprobs: readonly TokenLogprob[] = []): Buffer {
    const h = createHash('sha256')
        .update(Buffer.from(reasoning, 'utf8'))
        .update(Buffer.from([0]))
        .update(Buffer.from(content, 'utf8'));
    if (toolCalls.length > 0) h.update(Buffer.from([0])).update(Buffer.from(JSON.stringify(toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments }))), 'utf8'));
    if (logprobs.length > 0) h.update(Buffer.from([0])).update(Buffer.from(`logprobs:${JSON.stringify(logprobs)}`, 'utf8'));
    return h.digest();
}

/** The token log probabilities of a delivered choice (`logprobs.content`), kept to OpenAI's shape; anything else reads as none. */
export function tokenLogprobsOf(logprobs: unknown): TokenLogprob[] {
    const content = (logprobs as { content?: unknown } | null | undefined)?.content;
    if (!Array.isArray(content)) return [];
    const bytes = (v: unknown) => (Array.isArray(v) && v.every((b) => Number.isInteger(b) && b >= 0 && b < 256) ? (v as number[]) : null);
    const entry = (e: any) => ({ token: String(e?.token ?? ''), logprob: Number.isFinite(e?.logprob) ? Number(e.logprob) : -9999, bytes: bytes(e?.bytes) });
    return content.map((e: any) => ({ ...entry(e), top_logprobs: Array.isArray(e?.top_logprobs) ? e.top_logprobs.map(entry) : [] }));
}

/**
 * Joins streamed tool-call pieces (OpenAI's `delta.tool_calls`: by index, the
 * id and name once, the arguments in pieces) into `calls`.
 */
export function mergeToolCallDeltas(calls: DeliveredToolCall[], deltas: unknown): void {
    if (!Array.isArray(deltas)) return;
    for (const d of deltas as Array<{ index?: unknown; id?: unknown; function?: { name?: unknown; arguments?: unknown } }>) {
        const i = typeof d?.index === 'number' && Number.isInteger(d.index) && d.index >= 0 && d.index < 128 ? d.index : calls.length;
        while (calls.length <= i) calls.push({ id: '', name: '', arguments: '' });
        if (typeof d.id === 'string') calls[i].id = d.id;
        if (typeof d.function?.name === 'string') calls[i].name += d.function.name;
        if (typeof d.function?.arguments === 'string') calls[i].arguments += d.function.arguments;
    }
}

/** Error codes of refusals. */
export const RefusalCode = {
    BadEnvelope: 'bad_envelope',
    WrongKey: 'wrong_encryption_key',
    BadRequest: 'invalid_request',
    UnknownModel: 'model_not_found',
    UnknownChannel: 'unknown_channel',
    ChannelNotOpen: 'channel_not_open',
    WrongWorker: 'channel_of_another_worker',
    InsufficientDeposit: 'insufficient_deposit',
    StaleVoucher: 'stale_voucher',
    VoucherRequired: 'voucher_required',
    /** What the channel's requests in flight may cost, with what is served and not yet paid, would pass the worker's credit limit: retry when one ends. */
    CreditLimit: 'credit_limit',
    BadVoucher: 'invalid_voucher',
    OverCapacity: 'over_capacity',
    BackendDown: 'backend_unavailable',
    TooLarge: 'body_too_large',
    Unsupported: 'unsupported_media_type',
    ShuttingDown: 'shutting_down',
    /** The same sealed request (same HPKE ephemeral key) was already received: a network replay, not served again. */
    Replayed: 'replayed_request',
    /** The worker's own store cannot take writes (disk full, I/O error): a worker-side fault, nothing charged. */
    StorageUnavailable: 'storage_unavailable',
    /** The receipts query is not signed by the channel's client key, or its timestamp is too far off. */
    Unauthorized: 'unauthorized',
    /** A cooperative close was asked while a request on the channel is being served. */
    RequestInFlight: 'request_in_flight',
    /** The channel's client announced a new voucher key: no service until it is in force (vouchers of the old key stop counting then). */
    ClientKeyChanging: 'client_key_changing',
    /** The model asked for is not the one this worker's WorkerStake is attested for. */
    ModelNotAttested: 'model_not_attested',
    /** The worker's price read is too old to charge safely (chain endpoint down). */
    PricesUnavailable: 'prices_unavailable',
} as const;

/** Client side: seals a paid request to the worker's key. */
export async function sealPaidRequest(workerEncryptionKey: Buffer, req: PaidRequest) {
    const plaintext = Buffer.from(JSON.stringify(req), 'utf8');
    const sealed = await sealRequest(workerEncryptionKey, plaintext);
    return { ...sealed, plaintext };
}

/** Client side: reads an SSE body of frames through `opener`, returning each frame's JSON. */
export function openSseFrames(body: string, opener: ResponseOpener): Array<{ final: boolean; json: any }> {
    const out: Array<{ final: boolean; json: any }> = [];
    for (const block of body.split('\n\n')) {
        const line = block.split('\n').find((l) => l.startsWith('data:'));
        if (!line) continue;
        const f = opener.open(frameFromText(line.slice(5)));
        out.push({ final: f.final, json: JSON.parse(f.plaintext.toString('utf8')) });
    }
    return out;
}

export function addressEquals(a: string, b: Address): boolean {
    try {
        return Address.parse(a).equals(b);
    } catch {
        return false;
    }
}

/**
 * The uint256 model id receipts and the chain use for an advertised model
 * name: a 64-hex-digit name (a GGUF SHA-256) is the id itself; any other
 * name is hashed (SHA-256 of its UTF-8), e.g. "cocoon-demo".
 */
export function modelIdOf(name: string): bigint {
    if (/^(0x)?[0-9a-fA-F]{64}$/.test(name)) return BigInt('0x' + name.replace(/^0x/, ''));
    return BigInt('0x' + createHash('sha256').update(name, 'utf8').digest('hex'));
}

/**
 * Receipt recovery (`GET /v1/channels/:channel/receipts?after=<cumulative>`):
 * a client whose final frame was lost (worker killed between storing the
 * receipt and sending it, a cut connection) reads the receipts it is
 * missing. Usage metadata is private to the channel's client, so the query
 * is signed by the channel's client key (Ed25519, the key vouchers are
 * signed with) over `receiptsQueryDigest`, sent in these headers; the
 * timestamp (unix seconds) must be within `RECEIPTS_QUERY_MAX_SKEW_SEC` of
 * the worker's clock.
 */
export const RECEIPTS_TIMESTAMP_HEADER = 'x-cocoon-timestamp';
export const RECEIPTS_SIGNATURE_HEADER = 'x-cocoon-signature';
export const RECEIPTS_QUERY_MAX_SKEW_SEC = 300;
/** Most receipts one answer holds (ask again with the last cumulative for more). */
export const RECEIPTS_QUERY_MAX = 100;

/** SHA-256 over a domain tag, the channel (workchain, hash), `after` and the timestamp: what the client key signs. */
export function receiptsQueryDigest(channel: Address, after: bigint, timestamp: number): Buffer {
    const wc = Buffer.alloc(4);
    wc.writeInt32BE(channel.workChain);
    return createHash('sha256').update('cocoon/receipts-query/v1\0').update(wc).update(channel.hash).update(`\0${after.toString()}\0${timestamp}`).digest();
}

/** The answer: receipts with cumulative above `after`, in cumulative order. */
export interface ReceiptsAnswer {
    channel: string;
    receipts: ReceiptWire[];
    /** True when more receipts follow the last one returned. */
    more: boolean;
}
