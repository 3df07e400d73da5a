import { CocoonError } from '../cocoonError';

/**
 * Several answers to one app request: `n` choices (and, for text
 * completions, several prompts) are served as that many paid requests, each
 * with its own receipt, and put together here as OpenAI puts choices
 * together: indexed in order, their usage summed.
 */

/** The most paid requests one app request may ask for (choices times prompts). */
export const MAX_CHOICES = 8;

/** Takes `n` out of a request body: the number of choices asked for (1 when absent). */
export function takeChoiceCount(body: Record<string, unknown>): { count: number; rest: Record<string, unknown> } {
    const { n, ...rest } = body;
    if (n === undefined || n === null) return { count: 1, rest };
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_CHOICES)
        throw new CocoonError(400, 'invalid_request', `n: must be an integer from 1 to ${MAX_CHOICES} (each choice is a paid request of its own)`);
    return { count: n, rest };
}

/** An answer's usage in OpenAI's shape, every count present. */
export function usageOfFinal(final: any) {
    const u = final?.usage ?? {};
    return {
        prompt_tokens: u.prompt_tokens ?? 0,
        completion_tokens: u.completion_tokens ?? 0,
        total_tokens: u.total_tokens ?? (u.prompt_tokens ?? 0) + (u.completion_tokens ?? 0),
        prompt_tokens_details: { cached_tokens: u.prompt_tokens_details?.cached_tokens ?? 0 },
        completion_tokens_details: { reasoning_tokens: u.completion_tokens_details?.reasoning_tokens ?? 0 },
    };
}

/** The usage of several answers together. */
export function sumUsage(list: ReadonlyArray<ReturnType<typeof usageOfFinal>>) {
    const sum = (f: (u: ReturnType<typeof usageOfFinal>) => number) => list.reduce((a, u) => a + f(u), 0);
    return {
        prompt_tokens: sum((u) => u.prompt_tokens),
        completion_tokens: sum((u) => u.completion_tokens),
        total_tokens: sum((u) => u.total_tokens),
        prompt_tokens_details: { cached_tokens: sum((u) => u.prompt_tokens_details.cached_tokens) },
        completion_tokens_details: { reasoning_tokens: sum((u) => u.completion_tokens_details.reasoning_tokens) },
    };
}

/** What several paid requests cost, with each one's receipt and worker, in order. */
export function paidFor(results: ReadonlyArray<{ cost: bigint; receipt: unknown; worker: { workerStake: { toString(): string } } }>) {
    return { cost: results.reduce((a, r) => a + r.cost, 0n).toString(), receipts: results.map((r) => r.receipt), workers: results.map((r) => r.worker.workerStake.toString()) };
}

/**
 * Waits for every one of several paid requests. If any failed, the app is
 * answered with that failure, saying how many were served and paid (nothing
 * is paid twice, and nothing served is unpaid); with none served, the
 * failure as it is.
 */
export function allServed<T extends { cost: bigint }>(settled: ReadonlyArray<PromiseSettledResult<T>>, count: number): T[] {
    const failed = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
    const results = settled.flatMap((x) => (x.status === 'fulfilled' ? [x.value] : []));
    if (!failed) return results;
    if (results.length === 0) throw failed.reason;
    const paid = results.reduce((a, r) => a + r.cost, 0n);
    const err = failed.reason instanceof CocoonError ? failed.reason : new CocoonError(502, 'worker_failed', (failed.reason as Error).message);
    throw new CocoonError(err.status, err.code, `${err.message} (${results.length} of ${count} choices were served and paid, ${paid} nanoTON)`, err.delivered);
}
