import { Address } from '@ton/core';
import type { FastifyBaseLogger } from 'fastify';
import { unaffordable } from '../channels/affordability';
import type { CallResult, CocoonClient } from '../client';
import { CocoonError } from '../cocoonError';
import type { WorkerInfo } from '../discovery';
import { PaidOperation, operationBounds } from '../operation';
import type { Router } from './router';

/**
 * One paid operation for an app (a chat completion, whatever API it came in
 * by, or embeddings): the workers that serve the model, within the
 * app's `max_price` and `worker`, that a channel can pay for the request,
 * tried best first. A worker that fails before anything reached the app is
 * replaced by the next one; one that fails after cannot be (the app already
 * has part of its answer), and nothing is paid twice: every payment is a
 * voucher for a verified receipt of one worker's channel.
 */

/** The gateway's own request fields: which workers the app allows. */
export interface Selection {
    /** nanoTON per million tokens: a worker whose prompt or completion price is higher is not used. */
    maxPrice?: bigint;
    /** A WorkerStake address: use only that worker. */
    only?: Address;
}

/** Takes the gateway's own fields (`max_price`, `worker`) out of a request body; the rest is the API's request. */
export function takeSelection(body: Record<string, unknown>): { selection: Selection; rest: Record<string, unknown> } {
    const { max_price: maxPrice, worker, ...rest } = body;
    const selection: Selection = {};
    if (maxPrice !== undefined && maxPrice !== null) {
        try {
            selection.maxPrice = BigInt(maxPrice as string | number);
        } catch {
            selection.maxPrice = -1n;
        }
        if (selection.maxPrice < 0n) throw new CocoonError(400, 'invalid_max_price', 'max_price must be a non-negative integer (nanoTON per million tokens)');
    }
    if (worker !== undefined && worker !== null) {
        try {
            selection.only = Address.parse(String(worker));
        } catch {
            throw new CocoonError(400, 'invalid_worker', 'worker must be a WorkerStake address');
        }
    }
    return { selection, rest };
}

export interface DispatchContext {
    client: CocoonClient;
    router: Router;
    /** Workers tried per request. */
    maxAttempts: number;
    log: FastifyBaseLogger;
}

/**
 * Serves `op` from the best worker that can (see above). `onChunk`
 * gets each streamed chunk (a chat request with stream true). Throws a CocoonError the
 * app can be answered with; when `signal` aborted (the app went away), the
 * error thrown is whatever the call ended with, and the caller answers
 * nobody.
 */
export async function dispatch(d: DispatchContext, op: PaidOperation, selection: Selection, onChunk: ((chunk: any) => void) | undefined, signal: AbortSignal): Promise<CallResult> {
    const { client, router } = d;
    const model = op.request.model;
    const bounds = operationBounds(op);
    let list: WorkerInfo[];
    try {
        list = await router.candidates(model, selection.maxPrice, selection.only);
    } catch (e) {
        throw new CocoonError(503, 'discovery_failed', `cannot read the workers from the chain: ${(e as Error).message}`);
    }
    if (list.length === 0)
        throw new CocoonError(404, 'no_worker', `no verified worker serves ${model}${selection.maxPrice !== undefined ? ' within max_price' : ''}${selection.only ? ' as the named worker' : ''}`);
    // Only workers a channel can pay for this request: the rest would refuse it after a top-up.
    const affordable = list.filter((w) => !unaffordable(w, bounds, client.o.deposit));
    if (affordable.length === 0) throw unaffordable(list[0], bounds, client.o.deposit)!;
    list = affordable;

    let delivered = false;
    let started = 0;
    let firstChunkMs: number | undefined;
    const relay = onChunk
        ? (chunk: any) => {
              if (!delivered) firstChunkMs = performance.now() - started;
              delivered = true;
              onChunk(chunk);
          }
        : undefined;
    let lastError: CocoonError | undefined;
    let refreshed = false;
    const tried = new Set<string>();
    for (let i = 0; i < list.length && tried.size < d.maxAttempts; i++) {
        const w = list[i];
        tried.add(w.workerStake.toString());
        started = performance.now();
        try {
            const r = await client.pay(w, op, relay, signal);
            router.record(w, true, r.latencyMs, firstChunkMs);
            return r;
        } catch (e) {
            if (signal.aborted) throw e; // nobody to answer, and not the worker's failure
            router.record(w, false);
            const err = e instanceof CocoonError ? e : new CocoonError(502, 'worker_failed', (e as Error).message);
            lastError = err;
            d.log.warn({ worker: w.workerStake.toString(), code: err.code }, 'worker failed');
            if (delivered || err.delivered) throw err; // part of an answer is out: no retry on another worker
            if (i === list.length - 1 && !refreshed) {
                // Every known worker failed: the cached list may be stale; look again once.
                refreshed = true;
                const fresh = await router.candidates(model, selection.maxPrice, selection.only, true).catch(() => [] as WorkerInfo[]);
                list = [...list, ...fresh.filter((x) => !tried.has(x.workerStake.toString()) && !unaffordable(x, bounds, client.o.deposit))];
            }
        }
    }
    throw lastError ?? new CocoonError(502, 'worker_failed', 'no worker answered');
}
