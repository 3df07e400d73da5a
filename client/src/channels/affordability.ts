import { fromNano } from '@ton/core';
import { requestMaxCost } from '../../../protocol/paidRequest';
import { CocoonError } from '../cocoonError';
import type { WorkerInfo } from '../discovery';
import type { OperationBounds } from '../operation';

/**
 * Refuses, before any money moves, a request that no channel the client
 * would hold can pay for: the worker admits a request only when the
 * channel's unspent deposit covers its most possible cost, so topping up or
 * opening for it would lock Toncoin and still end in a refusal. A 400 (not a
 * 5xx) so that OpenAI clients do not retry it. Without `max_tokens` the
 * worker's own default bounds the answer: priced when the worker states it
 * (WorkerInfo.limits), else only the prompt is judged.
 */
export function unaffordable(w: WorkerInfo, bounds: OperationBounds, deposit: bigint): CocoonError | undefined {
    const cost = requestCostBound(w, bounds);
    if (cost <= deposit) return undefined;
    const answer = answerBound(w, bounds);
    const what =
        bounds.maxTokens === 0
            ? `up to ${bounds.promptBound} input tokens`
            : bounds.maxTokens !== null
              ? `up to ${bounds.promptBound} prompt tokens and max_tokens ${answer}`
              : answer > 0
                ? `up to ${bounds.promptBound} prompt tokens and the worker's default of ${answer} completion tokens`
                : `up to ${bounds.promptBound} prompt tokens`;
    return new CocoonError(
        400,
        'request_unaffordable',
        `this request can cost up to ${fromNano(cost)} TON at the worker's prices (${what}), more than the ${fromNano(deposit)} TON a channel holds: ` +
            (bounds.maxTokens === 0 ? 'send less input at once' : 'lower max_tokens or shorten the prompt') +
            ', or raise the channel deposit',
    );
}

/**
 * The most a request can cost at `w`'s prices, as the worker bounds it at
 * admission (every prompt byte a token, max_tokens generated, within the
 * worker's cap); without max_tokens, the worker's stated default, or the
 * prompt alone where the worker states none.
 */
export function requestCostBound(w: WorkerInfo, bounds: OperationBounds): bigint {
    return requestMaxCost(w.prices, bounds.promptBound, answerBound(w, bounds));
}

/** The completion tokens the worker will allow the request: max_tokens (or its default) within its cap. */
function answerBound(w: WorkerInfo, bounds: OperationBounds): number {
    const asked = bounds.maxTokens ?? w.limits?.defaultMaxTokens ?? 0;
    return w.limits ? Math.min(asked, w.limits.maxTokens) : asked;
}
