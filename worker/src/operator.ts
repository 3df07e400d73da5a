import { timingSafeEqual } from 'node:crypto';
import type { Address } from '@ton/core';
import fastify, { FastifyInstance } from 'fastify';
import { loopbackGuard } from '../../helpers/loopbackGuard';
import { perMinute } from '../../helpers/perMinute';
import { registerWebPage } from '../../helpers/webPages';
import { hex256 } from '../../helpers/bytes';
import { STATUS_NAMES } from '../../wrappers/WorkerStake';
import type { ChainView } from './chain';
import type { InferenceBackend } from './inference/types';
import type { WorkerMetrics } from './metrics';
import { type WorkerStore, channelTotals } from './store/store';

/**
 * The operator's interface: the worker dashboard (`/`) and its JSON
 * (`/api/...`), on a listener of its own, apart from the public API the
 * clients reach (by default on 127.0.0.1 only). With a token set, the JSON
 * needs it as a bearer key; the page itself holds no data.
 *
 * It shows earnings and unclaimed value over time (sampled here every few
 * seconds, and from the receipts issued), the claims and the channels they
 * came from, requests and tokens per second, the stake and attestation as
 * the chain records them, the backend's health and the latest refusals.
 */

export interface OperatorDeps {
    store: WorkerStore;
    metrics: WorkerMetrics;
    backend: InferenceBackend;
    chain: ChainView;
    workerStake: Address;
    /** The attestation's end as the served evidence states it (unix s), null before attestation. */
    attestationNotAfter: () => number | null;
    /** Where the public API listens. */
    publicUrl: () => string;
    /** The devnet explorer's address, when the worker runs on a devnet. */
    explorer?: string;
    /** Bearer token the JSON needs (none: anyone who reaches the listener). */
    token?: string;
    /** Without a token, host names answered on a loopback address besides the loopback ones. */
    allowedHosts?: string[];
    /** Seconds between samples (default 5). */
    sampleEverySec?: number;
}

interface Sample {
    at: number;
    requests: number;
    tokens: number;
    earned: bigint;
    unclaimed: bigint;
    claimed: bigint;
}

const SAMPLES_KEPT = 720;
const HISTORY_WINDOW_S = 24 * 3600;

async function counterTotal(
    metric: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number | undefined> }> }> },
    keep: (labels: Record<string, string | number | undefined>) => boolean = () => true,
): Promise<number> {
    return (await metric.get()).values.filter((v) => keep(v.labels)).reduce((a, v) => a + v.value, 0);
}

export interface OperatorServer {
    app: FastifyInstance;
    /** Takes a sample now (the timer does it every few seconds). */
    sample(): Promise<void>;
    close(): Promise<void>;
}

export function buildOperatorServer(deps: OperatorDeps): OperatorServer {
    const app = fastify({ logger: false });
    const samples: Sample[] = [];
    const token = deps.token ? Buffer.from(deps.token) : undefined;

    async function sample() {
        const { earned, unclaimed, claimed } = channelTotals(deps.store.listChannels());
        samples.push({
            at: Math.floor(Date.now() / 1000),
            requests: await counterTotal(deps.metrics.requests, (l) => l.status === '200'),
            tokens: await counterTotal(deps.metrics.tokens, (l) => l.class === 'prompt' || l.class === 'completion'),
            earned,
            unclaimed,
            claimed,
        });
        if (samples.length > SAMPLES_KEPT) samples.shift();
    }
    const timer = setInterval(() => void sample().catch(() => undefined), (deps.sampleEverySec ?? 5) * 1000);
    timer.unref();
    void sample().catch(() => undefined);

    // Without a token, a page elsewhere could read it through DNS rebinding: only this machine's names are answered.
    app.addHook('onRequest', loopbackGuard({ open: () => !token, allowedHosts: deps.allowedHosts, setting: 'operator.allowedHosts' }));
    app.addHook('onRequest', async (req, reply) => {
        // Judged by the route matched, never the raw URL (which may spell the same route otherwise).
        if (!token || !(req.routeOptions.url ?? '').startsWith('/api/')) return;
        const given = Buffer.from(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
        if (given.length !== token.length || !timingSafeEqual(given, token)) return reply.code(401).send({ error: { message: 'the operator token is missing or wrong' } });
    });

    app.get('/api/summary', async () => {
        const channels = deps.store.listChannels();
        const [health, ws] = await Promise.all([deps.backend.health().catch((e: Error) => ({ ok: false, error: e.message })), deps.chain.workerStake(deps.workerStake).catch(() => null)]);
        const att = ws?.attestation;
        return {
            workerStake: deps.workerStake.toString(),
            publicUrl: deps.publicUrl(),
            explorer: deps.explorer ?? null,
            now: Math.floor(Date.now() / 1000),
            money: Object.fromEntries(Object.entries(channelTotals(channels)).map(([k, v]) => [k, v.toString()])),
            stake: ws
                ? {
                      status: STATUS_NAMES[Number(ws.state.status)] ?? String(ws.state.status),
                      active: ws.isActive,
                      stake: ws.state.stake.toString(),
                      slashes: ws.state.slashes.toString(),
                      slashedTotal: ws.state.slashedTotal.toString(),
                      prices: { prompt: ws.prices.prompt.toString(), cached: ws.prices.cached.toString(), completion: ws.prices.completion.toString(), reasoning: ws.prices.reasoning.toString() },
                  }
                : null,
            attestation: {
                onChainExpiresAt: att ? Number(att.expiresAt) : null,
                imageHash: att ? hex256(att.imageHash) : null,
                evidenceNotAfter: deps.attestationNotAfter(),
            },
            backend: health,
            channels: channels.map((c) => ({
                address: c.address,
                state: c.state,
                earned: c.receiptTotal.toString(),
                vouched: c.voucherTotal.toString(),
                claimed: c.claimedTotal.toString(),
                unclaimed: c.unclaimed.toString(),
                unpaid: c.unpaid.toString(),
                receipts: c.receipts,
            })),
            claims: deps.store.claims(50).map((c) => ({ channel: c.channel, total: c.total.toString(), gained: c.gained.toString(), at: c.at })),
            refusals: { recent: [...deps.metrics.recentRefusals].reverse().slice(0, 30), byCode: Object.fromEntries(deps.metrics.refusalCounts) },
        };
    });

    app.get('/api/series', async () => {
        // Rates between consecutive samples; money as sampled.
        const rates = samples.slice(1).map((s, i) => {
            const dt = Math.max(1, s.at - samples[i].at);
            return { at: s.at, requestsPerSec: (s.requests - samples[i].requests) / dt, tokensPerSec: (s.tokens - samples[i].tokens) / dt };
        });
        // Earnings by the minute from the receipts issued (survives restarts, unlike the samples).
        const since = Math.floor(Date.now() / 1000) - HISTORY_WINDOW_S;
        const earned = perMinute(deps.store.receiptsSince(since).map((r) => ({ at: r.at, amount: r.cost })));
        return {
            samples: samples.map((s) => ({ at: s.at, earned: s.earned.toString(), unclaimed: s.unclaimed.toString(), claimed: s.claimed.toString() })),
            rates,
            earnedPerMinute: earned.map((m) => ({ at: m.at, earned: m.amount.toString() })),
        };
    });

    registerWebPage(app, 'worker', '/');

    return {
        app,
        sample,
        async close() {
            clearInterval(timer);
            await app.close();
        },
    };
}
