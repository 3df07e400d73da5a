import { z } from 'zod';
import { LOGIT_BIAS_MAX_ENTRIES, PROTOCOL_VERSION, TokenLogprob, tokenLogprobsOf } from './paidRequest';

/**
 * Paid text completions (`POST /v1/completions` on the worker, OpenAI's
 * legacy completions API): a prompt continued as it is, with no chat
 * template. The protocol of paid chat completions (./paidRequest.ts): the
 * same envelope, channel, voucher, admission, frames and receipt; the sealed
 * plaintext names its endpoint (`"endpoint": "completions"`), so a receipt
 * commits to the kind of request. Answers are OpenAI `text_completion`
 * objects (streamed: one per data frame, the last with the finish reason,
 * usage and receipt); the receipt's response hash commits to the text
 * delivered as a chat answer's does.
 */

export const COMPLETIONS_ENDPOINT = 'completions';

/** OpenAI's default for max_tokens on this API (the chat API has none). */
export const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

/** The OpenAI completions request a worker serves; any other field, or a value asking for what the protocol does not carry, is refused by name. */
export const completionsRequestSchema = z
    .object({
        model: z.string().min(1).max(256),
        // One prompt per paid request: the gateway serves several prompts, and n, as that many requests.
        prompt: z.union([z.string(), z.array(z.string()).length(1, 'one prompt per paid request (the gateway sends several as requests of their own)')]),
        suffix: z.string().nullish(),
        max_tokens: z.number().int().min(1).max(1_000_000).nullish(),
        temperature: z.number().min(0).max(2).nullish(),
        top_p: z.number().min(0).max(1).nullish(),
        seed: z.number().int().nullish(),
        stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
        presence_penalty: z.number().min(-2).max(2).nullish(),
        frequency_penalty: z.number().min(-2).max(2).nullish(),
        logit_bias: z
            .record(z.string().regex(/^(0|[1-9][0-9]{0,8})$/, 'token ids are decimal integers'), z.number().min(-100).max(100))
            .refine((b) => Object.keys(b).length <= LOGIT_BIAS_MAX_ENTRIES, `at most ${LOGIT_BIAS_MAX_ENTRIES} tokens`)
            .nullish(),
        // The log probability of each token delivered and of the `logprobs` likeliest at each place (OpenAI's limit, 5).
        logprobs: z.number().int().min(0).max(5).nullish(),
        best_of: z
            .number()
            .refine((v) => v === 1, 'must be 1')
            .nullish(),
        n: z
            .number()
            .refine((v) => v === 1, 'must be 1 per paid request (the gateway serves n as that many requests)')
            .nullish(),
        stream: z.boolean().nullish(),
        stream_options: z.object({ include_usage: z.boolean().optional() }).strict().nullish(),
        user: z.string().max(256).optional(),
    })
    .strict();

// `echo` (the prompt repeated before the completion) is the gateway's: it has the prompt, so no worker sends it back, and a receipt commits to what was generated only.

export type CompletionsRequest = z.infer<typeof completionsRequestSchema>;

export const paidCompletionsRequestSchema = z
    .object({
        version: z.literal(PROTOCOL_VERSION),
        endpoint: z.literal(COMPLETIONS_ENDPOINT),
        channel: z.string().min(1).max(100),
        voucher: z.string().min(1).max(4096).optional(),
        request: completionsRequestSchema,
    })
    .strict();

export type PaidCompletionsRequest = z.infer<typeof paidCompletionsRequestSchema>;

/** The prompt text. */
export function promptOf(r: Pick<CompletionsRequest, 'prompt'>): string {
    return typeof r.prompt === 'string' ? r.prompt : r.prompt[0];
}

/** The most completion tokens: the request's max_tokens, else OpenAI's default for this API. */
export function completionsMaxTokens(r: Pick<CompletionsRequest, 'max_tokens'>): number {
    return r.max_tokens ?? COMPLETIONS_DEFAULT_MAX_TOKENS;
}

/**
 * The most prompt tokens a completions request can be billed for: no
 * tokenizer makes more tokens than the text has bytes (prompt and suffix),
 * plus 16 for the special tokens a model adds.
 */
export function completionsPromptBound(r: Pick<CompletionsRequest, 'prompt' | 'suffix'>): number {
    return Buffer.byteLength(promptOf(r), 'utf8') + Buffer.byteLength(r.suffix ?? '', 'utf8') + 16;
}

/** Legacy completions' log probabilities, as a choice carries them. */
export interface TextLogprobs {
    tokens: string[];
    token_logprobs: number[];
    top_logprobs: Array<Record<string, number>>;
    text_offset: number[];
}

/**
 * A text completion's log probabilities (`{ tokens, token_logprobs,
 * top_logprobs, text_offset }`) as the token entries a response digest
 * commits to (./paidRequest.ts), read alike by the worker from what it sends
 * and by the client from what it receives; anything else reads as none.
 */
export function textLogprobsOf(raw: unknown): TokenLogprob[] {
    // Some servers (llama.cpp's) answer text completions with chat's shape, `{ content: [...] }`.
    if (Array.isArray((raw as { content?: unknown } | null | undefined)?.content)) return tokenLogprobsOf(raw);
    const l = raw as Partial<TextLogprobs> | null | undefined;
    if (!l || !Array.isArray(l.tokens)) return [];
    const bytes = (t: string) => [...Buffer.from(t, 'utf8')];
    const lp = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : -9999);
    return l.tokens.map((t, i) => {
        const token = String(t);
        const top = l.top_logprobs?.[i];
        return {
            token,
            logprob: lp(l.token_logprobs?.[i]),
            bytes: bytes(token),
            top_logprobs: top && typeof top === 'object' ? Object.entries(top).map(([k, v]) => ({ token: k, logprob: lp(v), bytes: bytes(k) })) : [],
        };
    });
}

/** Token entries in a text completion's shape, `offset` the characters of completion before them. */
export function textLogprobs(list: readonly TokenLogprob[], offset = 0): TextLogprobs {
    const text_offset: number[] = [];
    let at = offset;
    for (const e of list) {
        text_offset.push(at);
        at += e.token.length;
    }
    return {
        tokens: list.map((e) => e.token),
        token_logprobs: list.map((e) => e.logprob),
        top_logprobs: list.map((e) => Object.fromEntries(e.top_logprobs.map((t) => [t.token, t.logprob]))),
        text_offset,
    };
}
