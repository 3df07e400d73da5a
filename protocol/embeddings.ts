import { z } from 'zod';
import { PROTOCOL_VERSION } from './paidRequest';

/**
 * Paid embeddings (`POST /v1/embeddings` on the worker), in the protocol of
 * paid chat completions (./paidRequest.ts): the same HPKE envelope, channel,
 * voucher, admission and signed receipt. The plaintext says what it is
 * (`"endpoint": "embeddings"`), so a receipt's request hash commits to the
 * kind of request as well as to its content, and an envelope posted to the
 * other route is refused. The answer is one final frame: OpenAI's
 * embeddings list with `usage` (prompt tokens only; `completion_tokens` 0)
 * and the `receipt`. Only prompt tokens are charged, at the worker's prompt
 * price.
 */

export const EMBEDDINGS_ENDPOINT = 'embeddings';

/** Most inputs one request may embed (OpenAI's own limit). */
export const EMBEDDINGS_MAX_INPUTS = 2048;

const tokenIds = z
    .array(z.number().int().min(0).max(0xffffffff))
    .min(1)
    .max(1 << 17);

/** The OpenAI embeddings request; any other field is refused by name. */
export const embeddingsRequestSchema = z
    .object({
        model: z.string().min(1).max(256),
        input: z.union([
            z.string().min(1, 'an empty string has nothing to embed'),
            z.array(z.string().min(1, 'an empty string has nothing to embed')).min(1).max(EMBEDDINGS_MAX_INPUTS),
            tokenIds,
            z.array(tokenIds).min(1).max(EMBEDDINGS_MAX_INPUTS),
        ]),
        encoding_format: z.enum(['float', 'base64']).nullish(),
        dimensions: z
            .number()
            .int()
            .min(1)
            .max(1 << 16)
            .nullish(),
        user: z.string().max(256).optional(),
    })
    .strict();

export type EmbeddingsRequest = z.infer<typeof embeddingsRequestSchema>;

export const paidEmbeddingsRequestSchema = z
    .object({
        version: z.literal(PROTOCOL_VERSION),
        endpoint: z.literal(EMBEDDINGS_ENDPOINT),
        channel: z.string().min(1).max(100),
        voucher: z.string().min(1).max(4096).optional(),
        request: embeddingsRequestSchema,
    })
    .strict();

export type PaidEmbeddingsRequest = z.infer<typeof paidEmbeddingsRequestSchema>;

/** The inputs as a list: texts, or token id arrays. */
export function embeddingInputs(input: EmbeddingsRequest['input']): string[] | number[][] {
    if (typeof input === 'string') return [input];
    if (input.length > 0 && typeof input[0] === 'number') return [input as number[]];
    return input as string[] | number[][];
}

/**
 * The most prompt tokens an embeddings request can be billed for: no
 * tokenizer makes more tokens than a text has bytes, a token array is its
 * length, and each input may get up to 16 special tokens (BOS, EOS, a
 * prefix the model adds). The worker admits by it; the client refuses a
 * receipt counting more.
 */
export function embeddingsTokenBound(input: EmbeddingsRequest['input']): number {
    return embeddingInputs(input).reduce<number>((n, x) => n + (typeof x === 'string' ? Buffer.byteLength(x, 'utf8') : x.length) + 16, 16);
}

/** One embedding as it is answered: floats, or (encoding_format base64) their float32 little-endian bytes in base64, as OpenAI sends them. */
export interface EmbeddingItem {
    object: 'embedding';
    index: number;
    embedding: number[] | string;
}

export function embeddingItems(vectors: readonly (readonly number[])[], format: 'float' | 'base64'): EmbeddingItem[] {
    return vectors.map((v, index) => ({
        object: 'embedding' as const,
        index,
        embedding: format === 'base64' ? Buffer.from(Float32Array.from(v).buffer).toString('base64') : Array.from(v, (x) => Math.fround(x)),
    }));
}

/**
 * The text a receipt's response hash commits to for embeddings (in the
 * place of a chat answer's content): the `data` array as delivered, as JSON.
 * JSON.parse then JSON.stringify gives back the same text (numbers print
 * the shortest way that reads back the same), so the client computes it from
 * what it received.
 */
export function embeddingsResponseText(data: unknown): string {
    return JSON.stringify(data ?? null);
}
