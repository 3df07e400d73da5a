import { randomBytes } from 'node:crypto';
import { Address } from '@ton/core';
import type { WorkerInfo } from '../../client/src/discovery';
import { MeasuredStats, rankWorkers } from '../../client/src/gateway/ranking';
import { PRICES } from './standIn';

/**
 * Worker ranking (client/src/gateway/ranking.ts, used by the gateway and the CLI):
 * what this client measured first (failures, latency), then price. The
 * WorkerStake's `earned` and `claims` counters are not reputation: an
 * operator inflates them by paying itself through its own channel.
 */

function worker(name: string, over: Partial<WorkerInfo> & Record<string, unknown> = {}): WorkerInfo {
    const a = new Address(0, randomBytes(32));
    return {
        workerStake: a,
        owner: a,
        workerKey: Buffer.alloc(32),
        encryptionKey: Buffer.alloc(32),
        endpoint: `http://${name}`,
        modelId: 1n,
        model: 'm',
        prices: PRICES,
        imageHash: 1n,
        expiresAt: 0,
        tee: 'simulated',
        ...over,
    };
}

describe('worker ranking', () => {
    it('does not prefer a worker with inflated earned/claims over one this client measured better', () => {
        // The self-dealing worker: enormous on-chain counters (even cheaper), but it failed and was slow for us.
        const inflated = worker('inflated', { earned: 10n ** 15n, claims: 1_000_000n, state: { earned: 10n ** 15n, claims: 1_000_000n } });
        const honest = worker('honest', { earned: 0n, claims: 0n, state: { earned: 0n, claims: 0n }, prices: { ...PRICES, completion: PRICES.completion * 2n } });
        const stats = new Map<WorkerInfo, MeasuredStats>([
            [inflated, { ok: 5, failed: 3, latencyMs: 4000 }],
            [honest, { ok: 8, failed: 0, latencyMs: 300 }],
        ]);
        expect(rankWorkers([inflated, honest], (w) => stats.get(w)!)).toEqual([honest, inflated]);
        // Same measured failures: the faster one still wins over the counters and the price.
        stats.set(inflated, { ok: 8, failed: 0, latencyMs: 4000 });
        expect(rankWorkers([inflated, honest], (w) => stats.get(w)!)).toEqual([honest, inflated]);
    });

    it('measured success first, then latency, then price; unmeasured workers get tried; alike latencies leave it to price', () => {
        const cheap = worker('cheap', { prices: { ...PRICES, prompt: 1n, completion: 1n } });
        const dear = worker('dear');
        const failing = worker('failing', { prices: { ...PRICES, prompt: 0n, completion: 0n } });
        const stats = new Map<WorkerInfo, MeasuredStats>([
            [cheap, { ok: 10, failed: 0, latencyMs: 510 }],
            [dear, { ok: 10, failed: 0, latencyMs: 500 }],
            [failing, { ok: 1, failed: 1, latencyMs: 10 }],
        ]);
        const fresh = worker('fresh');
        const of = (w: WorkerInfo) => stats.get(w) ?? { ok: 0, failed: 0, latencyMs: 0 };
        expect(rankWorkers([failing, dear, cheap, fresh], of)).toEqual([fresh, cheap, dear, failing]);
        stats.set(cheap, { ok: 10, failed: 0, latencyMs: 2000 });
        expect(rankWorkers([failing, dear, cheap], of)).toEqual([dear, cheap, failing]);
        // Nothing measured: price alone.
        expect(rankWorkers([dear, cheap], () => ({ ok: 0, failed: 0, latencyMs: 0 }))).toEqual([cheap, dear]);
    });
});
