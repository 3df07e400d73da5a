import type { WorkerInfo } from '../discovery';

/**
 * The order workers are tried in. Reputation is only what this client
 * measured itself: first the share of its calls to the worker that failed,
 * then its latency, and only then price (prompt + completion per million
 * tokens). A worker not yet measured ranks as neither failed nor slow, so it
 * gets tried.
 *
 * Deliberately not used: the WorkerStake's `earned` and `claims` counters.
 * They count value paid through channels, including self-payment: an
 * operator can inflate them by paying its own worker through its own
 * channel (protocol fees under 0.001 TON are waived), so they say nothing
 * about how well a worker serves others.
 */

export interface MeasuredStats {
    ok: number;
    failed: number;
    /** Smoothed latency of successful calls, ms (0: none measured). */
    latencyMs: number;
    /** Smoothed time to the first streamed chunk of successful streamed calls, ms (0 or absent: none measured). */
    ttftMs?: number;
}

/** Counts one call to a worker: a success (and its latency, smoothed) or a failure. */
export function measure(s: MeasuredStats, ok: boolean, ms?: number, ttftMs?: number): void {
    const smooth = (was: number | undefined, now: number) => (!was ? now : 0.8 * was + 0.2 * now);
    if (ok) {
        s.ok++;
        if (ms !== undefined) s.latencyMs = smooth(s.latencyMs, ms);
        if (ttftMs !== undefined) s.ttftMs = smooth(s.ttftMs, ttftMs);
    } else s.failed++;
}

/** Latency tier: latencies within about 25% of each other are alike, so price decides between them. */
function latencyTier(ms: number): number {
    return ms <= 0 ? 0 : Math.max(0, Math.floor(Math.log(ms) / Math.log(1.25)));
}

function priceScore(w: WorkerInfo): bigint {
    return w.prices.prompt + w.prices.completion;
}

/** `workers` sorted best first (a new array). */
export function rankWorkers(workers: readonly WorkerInfo[], statsOf: (w: WorkerInfo) => MeasuredStats): WorkerInfo[] {
    const key = (w: WorkerInfo) => {
        const s = statsOf(w);
        return { failure: s.failed / (s.ok + s.failed + 1), tier: latencyTier(s.latencyMs), price: priceScore(w) };
    };
    const keys = new Map(workers.map((w) => [w, key(w)] as const));
    return [...workers].sort((a, b) => {
        const ka = keys.get(a)!;
        const kb = keys.get(b)!;
        if (ka.failure !== kb.failure) return ka.failure - kb.failure;
        if (ka.tier !== kb.tier) return ka.tier - kb.tier;
        if (ka.price !== kb.price) return ka.price < kb.price ? -1 : 1;
        return 0;
    });
}
