import type { Address } from '@ton/core';
import type { CocoonClient } from '../client';
import type { WorkerInfo } from '../discovery';
import { measure, rankWorkers } from './ranking';

/**
 * Which workers the gateway tries for a request, in which order, and what
 * it learns from each try. Only what this client measured ranks a worker
 * (./ranking.ts), never the on-chain earned/claims counters.
 */
export class Router {
    constructor(private readonly client: Pick<CocoonClient, 'workers' | 'statsOf'>) {}

    /**
     * Candidate workers of `model` in the order they are tried: within
     * `maxPrice` (nanoTON per million tokens, prompt and completion), only
     * `only` when the app named a worker.
     */
    async candidates(model: string, maxPrice: bigint | undefined, only: Address | undefined, refresh = false): Promise<WorkerInfo[]> {
        let list = await this.client.workers(model, refresh);
        if (list.length === 0) list = await this.client.workers(model, true);
        if (only) list = list.filter((w) => w.workerStake.equals(only));
        // The named worker may have come (back) since the list was cached: look again once.
        if (only && list.length === 0 && !refresh) return this.candidates(model, maxPrice, only, true);
        if (maxPrice !== undefined) list = list.filter((w) => w.prices.prompt <= maxPrice && w.prices.completion <= maxPrice);
        return rankWorkers(list, (w) => this.client.statsOf(w));
    }

    /** Counts a try of `w`: served (in `ms`, its first chunk after `ttftMs` when streamed), or failed. */
    record(w: WorkerInfo, ok: boolean, ms?: number, ttftMs?: number) {
        measure(this.client.statsOf(w), ok, ms, ttftMs);
    }
}
