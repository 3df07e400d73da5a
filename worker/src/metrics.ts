import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type WorkerStore, channelTotals } from './store/store';

/**
 * Prometheus metrics of one worker (a registry per worker, so tests can run
 * several in one process). Money gauges are read from the store at scrape
 * time, so they are right after a restart too.
 */
const RECENT_REFUSALS = 100;

export class WorkerMetrics {
    readonly registry = new Registry();
    readonly requests: Counter<'status'>;
    readonly tokens: Counter<'class'>;
    readonly latency: Histogram;
    readonly ttft: Histogram;
    readonly active: Gauge;
    readonly claims: Counter<'result'>;
    /** The newest refusals (oldest first, at most RECENT_REFUSALS), for the operator's dashboard. */
    readonly recentRefusals: Array<{ at: number; status: number; code: string; message: string }> = [];
    /** Refusals since start, by code. */
    readonly refusalCounts = new Map<string, number>();

    constructor(store: WorkerStore) {
        const registers = [this.registry];
        this.requests = new Counter({ name: 'cocoon_worker_requests_total', help: 'Chat completion requests by HTTP status', labelNames: ['status'], registers });
        this.tokens = new Counter({ name: 'cocoon_worker_tokens_total', help: 'Tokens served and charged, by class', labelNames: ['class'], registers });
        this.latency = new Histogram({
            name: 'cocoon_worker_request_duration_seconds',
            help: 'Time from request to the end of the response',
            buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
            registers,
        });
        this.ttft = new Histogram({
            name: 'cocoon_worker_time_to_first_token_seconds',
            help: 'Time from request to the first generated token',
            buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
            registers,
        });
        this.active = new Gauge({ name: 'cocoon_worker_active_requests', help: 'Requests being served', registers });
        this.claims = new Counter({ name: 'cocoon_worker_claims_total', help: 'Voucher claims by result', labelNames: ['result'], registers });
        new Gauge({
            name: 'cocoon_worker_earned_nanoton',
            help: 'nanoTON charged in receipts issued (all channels)',
            registers,
            collect() {
                this.set(Number(channelTotals(store.listChannels()).earned));
            },
        });
        new Gauge({
            name: 'cocoon_worker_unclaimed_nanoton',
            help: 'nanoTON covered by vouchers and not yet redeemed on chain',
            registers,
            collect() {
                this.set(Number(channelTotals(store.listChannels()).unclaimed));
            },
        });
        new Gauge({
            name: 'cocoon_worker_claimed_nanoton',
            help: 'nanoTON redeemed on chain (gross of the protocol fee)',
            registers,
            collect() {
                this.set(Number(channelTotals(store.listChannels()).claimed));
            },
        });
    }

    /** Notes a request the worker refused (any 4xx or 5xx it answered). */
    refused(status: number, code: string, message: string): void {
        this.recentRefusals.push({ at: Math.floor(Date.now() / 1000), status, code, message });
        if (this.recentRefusals.length > RECENT_REFUSALS) this.recentRefusals.shift();
        this.refusalCounts.set(code, (this.refusalCounts.get(code) ?? 0) + 1);
    }
}
