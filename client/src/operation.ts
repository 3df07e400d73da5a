import { COMPLETIONS_ENDPOINT, CompletionsRequest, completionsMaxTokens, completionsPromptBound } from '../../protocol/completions';
import { EMBEDDINGS_ENDPOINT, EmbeddingsRequest, embeddingsTokenBound } from '../../protocol/embeddings';
import { ChatCompletionRequest, promptTokenBound } from '../../protocol/paidRequest';

/**
 * What a paid call asks a worker for: a chat completion, a text completion or embeddings. Each
 * kind has its route on the worker, its envelope (embeddings name their
 * endpoint in the sealed plaintext) and the bounds a receipt for it is
 * judged by.
 */
export type PaidOperation = { kind: 'chat'; request: ChatCompletionRequest } | { kind: 'completions'; request: CompletionsRequest } | { kind: 'embeddings'; request: EmbeddingsRequest };

/** The most prompt tokens and completion tokens (null: the worker's own default) a receipt for it may count. */
export interface OperationBounds {
    promptBound: number;
    maxTokens: number | null;
}

export function operationBounds(op: PaidOperation): OperationBounds {
    if (op.kind === 'embeddings') return { promptBound: embeddingsTokenBound(op.request.input), maxTokens: 0 };
    if (op.kind === 'completions') return { promptBound: completionsPromptBound(op.request), maxTokens: completionsMaxTokens(op.request) };
    return { promptBound: promptTokenBound(op.request), maxTokens: op.request.max_completion_tokens ?? op.request.max_tokens ?? null };
}

/** The worker route it goes to. */
export function operationPath(op: PaidOperation): string {
    return op.kind === 'embeddings' ? '/v1/embeddings' : op.kind === 'completions' ? '/v1/completions' : '/v1/chat/completions';
}

/** The fields of the sealed plaintext beyond version, channel and voucher. */
export function operationEnvelope(op: PaidOperation): Record<string, unknown> {
    if (op.kind === 'embeddings') return { endpoint: EMBEDDINGS_ENDPOINT, request: op.request };
    if (op.kind === 'completions') return { endpoint: COMPLETIONS_ENDPOINT, request: op.request };
    return { request: op.request };
}

/** Whether the answer streams. */
export function operationStreams(op: PaidOperation): boolean {
    return op.kind !== 'embeddings' && op.request.stream === true;
}
