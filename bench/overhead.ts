import { execFile } from 'node:child_process';
import { openSqlite } from '../helpers/sqlite';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { BenchNetwork, DEFAULT_PRICES, ROOT, registerWorker, startDaemon, startGatewayDaemon, startNetwork, startWorkerDaemon } from './lib/network';
import type { LoadResult } from './lib/load';
import { CHUNKS, CHUNK_BYTES } from './lib/upstream';

/**
 * Protocol overhead, measured the way Cocoon's own benchmark does: the same
 * load against a fake OpenAI-compatible upstream (a) directly and (b)
 * through the Cocoon gateway and a worker (HPKE both ways, a signed receipt
 * stored with fsync per request, a voucher per request, channel state from
 * the chain). Four processes: the load client, the upstream, the worker
 * (`cocoon-worker start`) and the gateway (`cocoon-client gateway`); the
 * devnet runs in this one.
 */

const execFileP = promisify(execFile);
const API_KEY = 'sk-bench';

export interface OverheadOptions {
    levels: number[];
    requests: number;
    warmup: number;
    /** `cocoon-client gateway --channels-per-worker` (unset: the gateway's default). */
    channelsPerWorker?: number;
    /** The upstream paces its content chunks this many ms apart (0 or unset: back to back). */
    chunkDelayMs?: number;
    log?: (line: string) => void;
}

export interface OverheadLevel {
    concurrency: number;
    direct: LoadResult;
    cocoon: LoadResult;
    /** Cocoon's throughput over the direct path's. */
    ratio: number;
    /** What Cocoon adds to the direct path's p50 latency and p50 time to first token, ms. */
    addedP50Ms: number;
    addedTtftMs: number;
    /** Process CPU time per measured request (user + system, over the level's Cocoon run), ms. */
    cpuMsPerRequest: { worker: number; gateway: number };
    /** Means as the worker itself measured them (its /metrics), ms: the rest is the gateway and the hops. */
    worker: { requests: number; latencyMs: number; ttftMs: number };
    /**
     * CPU time per request of every process on the machine, ms: in the direct
     * run the load client and the upstream; in the Cocoon run those, the
     * worker, the gateway and this process (the devnet the daemons read).
     * Where the cores are the limit, throughput is about
     * cores x 1000 / their sum.
     */
    machineCpuMsPerRequest: { direct: MachineCpu; cocoon: MachineCpu };
}

export interface MachineCpu {
    load: number;
    upstream: number;
    worker?: number;
    gateway?: number;
    devnet?: number;
    total: number;
}

/** `_sum` and `_count` of a Prometheus histogram in a /metrics text. */
function histogram(text: string, name: string): { sum: number; count: number } {
    const num = (suffix: string) => Number(new RegExp(`^${name}${suffix}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    return { sum: num('_sum'), count: num('_count') };
}

async function workerTimes(url: string) {
    const text = await (await fetch(`${url}/metrics`)).text();
    return { latency: histogram(text, 'cocoon_worker_request_duration_seconds'), ttft: histogram(text, 'cocoon_worker_time_to_first_token_seconds') };
}

export interface OverheadResult {
    levels: OverheadLevel[];
    chunks: number;
    chunkBytes: number;
    prices: Record<string, string>;
    channelDeposit: string;
    /** Devnet blocks (on-chain operations: top-ups, claims, anything) during the measured levels. */
    chainOpsDuringRun: number;
    /** The --channels-per-worker given to the gateway (undefined: its default). */
    channelsPerWorker?: number;
    /** ms between the upstream's content chunks (0: back to back). */
    chunkDelayMs: number;
    /** Channels the gateway had opened to the worker by the end (from its ledger). */
    channelsOpened: number;
    /** CPU cores the processes shared. */
    cores: number;
}

const tsNode = ['-r', 'ts-node/register/transpile-only'];

/** A process's CPU time so far (user + system), ms, from /proc (Linux); NaN where it cannot be read. */
function processCpuMs(pid: number | undefined): number {
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in clock ticks.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
    } catch {
        return NaN;
    }
}

function machineCpu(parts: Omit<MachineCpu, 'total'>): MachineCpu {
    return { ...parts, total: Object.values(parts).reduce((a, b) => a + (b ?? 0), 0) };
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times (100 on every mainstream kernel). */
const CLOCK_TICKS_PER_SECOND = 100;

/** Channels in the gateway's ledger (read-only; the gateway keeps running). */
function countChannels(file: string): number {
    const db = openSqlite(file, { readonly: true });
    try {
        return Number((db.prepare('SELECT COUNT(*) AS n FROM channels').get() as { n: number }).n);
    } finally {
        db.close();
    }
}

async function load(url: string, apiKey: string | undefined, concurrency: number, requests: number, warmup: number, model: string): Promise<LoadResult> {
    const opts = {
        url,
        apiKey,
        concurrency,
        requests,
        warmup,
        body: { model, stream: true, stream_options: { include_usage: true }, max_tokens: 64, messages: [{ role: 'user', content: 'Write about foxes.' }] },
    };
    const { stdout } = await execFileP(process.execPath, [...tsNode, join(__dirname, 'lib', 'load.ts'), JSON.stringify(opts)], { cwd: ROOT, maxBuffer: 16 << 20 });
    return JSON.parse(stdout.trim().split('\n').pop()!);
}

export async function runOverhead(o: OverheadOptions): Promise<OverheadResult> {
    const log = o.log ?? (() => undefined);
    let net: BenchNetwork | undefined;
    const stops: Array<() => Promise<void>> = [];
    try {
        const up = await startDaemon('node_modules/ts-node/dist/bin.js', ['--transpile-only', join(__dirname, 'lib', 'upstream.ts'), '0', String(o.chunkDelayMs ?? 0)], /upstream listening on/);
        stops.push(up.stop);
        const upstreamUrl = up.line.split(' ').pop()!.trim();
        log(`upstream ${upstreamUrl}`);
        net = await startNetwork();
        log('network deployed on the devnet');
        // The default prices of `cocoon-worker init`: a bench request costs
        // ~1.6e-5 TON, so the 2 TON default deposit outlasts the run (no top-up).
        const w = await registerWorker(net, {
            name: 'bench-worker',
            upstreamUrl,
            prices: DEFAULT_PRICES,
            // The default (4) is for a GPU; a proxy to an upstream takes more at once.
            http: { maxConcurrent: 256 },
        });
        const worker = await startWorkerDaemon(w.configFile, w.port);
        stops.push(worker.stop);
        log(`worker ${worker.url}`);
        const gatewayDir = join(net.dir, 'gateway');
        const gateway = await startGatewayDaemon(net, { dir: gatewayDir, apiKey: API_KEY, channelsPerWorker: o.channelsPerWorker });
        stops.push(gateway.stop);
        log(`gateway ${gateway.url}`);
        // Opens the channel on chain (not part of what is measured).
        await load(`${gateway.url}/chat/completions`, API_KEY, 1, 1, 0, 'cocoon-demo');
        const levels: OverheadLevel[] = [];
        await net.devnet.chain.idle();
        const seqnoBefore = net.devnet.chain.seqno;
        for (const c of o.levels) {
            // At least two requests per connection before measuring: every channel the gateway opens for this level is open by then.
            const warmup = Math.max(o.warmup, 2 * c);
            // The warm-up requests ran inside each measured window too.
            const served = o.requests + warmup;
            const upstreamBefore = processCpuMs(up.child.pid);
            const direct = await load(`${upstreamUrl}/v1/chat/completions`, undefined, c, o.requests, warmup, 'llama-3-8b');
            const upstreamDirect = processCpuMs(up.child.pid) - upstreamBefore;
            log(`c=${c} direct: ${direct.rps.toFixed(1)} req/s, p50 ${direct.latencyMs.p50.toFixed(2)} ms, ttft p50 ${direct.ttftMs.p50.toFixed(2)} ms, errors ${direct.errors}`);
            const before = await workerTimes(worker.url);
            const cpuBefore = { worker: processCpuMs(worker.child.pid), gateway: processCpuMs(gateway.child.pid), upstream: processCpuMs(up.child.pid), self: process.cpuUsage() };
            const cocoon = await load(`${gateway.url}/chat/completions`, API_KEY, c, o.requests, warmup, 'cocoon-demo');
            const cpuAfter = { worker: processCpuMs(worker.child.pid), gateway: processCpuMs(gateway.child.pid), upstream: processCpuMs(up.child.pid), self: process.cpuUsage(cpuBefore.self) };
            const after = await workerTimes(worker.url);
            const cpuMsPerRequest = { worker: (cpuAfter.worker - cpuBefore.worker) / served, gateway: (cpuAfter.gateway - cpuBefore.gateway) / served };
            const machineCpuMsPerRequest = {
                direct: machineCpu({ load: direct.cpuMs / o.requests, upstream: upstreamDirect / served }),
                cocoon: machineCpu({
                    load: cocoon.cpuMs / o.requests,
                    upstream: (cpuAfter.upstream - cpuBefore.upstream) / served,
                    ...cpuMsPerRequest,
                    devnet: (cpuAfter.self.user + cpuAfter.self.system) / 1000 / served,
                }),
            };
            const n = after.latency.count - before.latency.count;
            const wt = {
                requests: n,
                latencyMs: (1000 * (after.latency.sum - before.latency.sum)) / Math.max(1, n),
                ttftMs: (1000 * (after.ttft.sum - before.ttft.sum)) / Math.max(1, after.ttft.count - before.ttft.count),
            };
            log(
                `c=${c} cocoon: ${cocoon.rps.toFixed(1)} req/s, p50 ${cocoon.latencyMs.p50.toFixed(2)} ms, ttft p50 ${cocoon.ttftMs.p50.toFixed(2)} ms, errors ${cocoon.errors}${cocoon.firstError ? ` (${cocoon.firstError})` : ''}`,
            );
            log(`c=${c} worker-side means (incl. warm-up): latency ${wt.latencyMs.toFixed(2)} ms, ttft ${wt.ttftMs.toFixed(2)} ms`);
            log(`c=${c} CPU per request: worker ${cpuMsPerRequest.worker.toFixed(2)} ms, gateway ${cpuMsPerRequest.gateway.toFixed(2)} ms`);
            log(
                `c=${c} machine CPU per request: direct ${machineCpuMsPerRequest.direct.total.toFixed(2)} ms, Cocoon ${machineCpuMsPerRequest.cocoon.total.toFixed(2)} ms (${availableParallelism()} cores)`,
            );
            levels.push({
                concurrency: c,
                direct,
                cocoon,
                ratio: cocoon.rps / direct.rps,
                addedP50Ms: cocoon.latencyMs.p50 - direct.latencyMs.p50,
                addedTtftMs: cocoon.ttftMs.p50 - direct.ttftMs.p50,
                cpuMsPerRequest,
                worker: wt,
                machineCpuMsPerRequest,
            });
        }
        return {
            levels,
            chunks: CHUNKS,
            chunkBytes: CHUNK_BYTES,
            prices: Object.fromEntries(Object.entries(DEFAULT_PRICES).map(([k, v]) => [k, v.toString()])),
            channelDeposit: '2000000000',
            chainOpsDuringRun: net.devnet.chain.seqno - seqnoBefore,
            channelsPerWorker: o.channelsPerWorker,
            chunkDelayMs: o.chunkDelayMs ?? 0,
            channelsOpened: countChannels(join(gatewayDir, 'store.db')),
            cores: availableParallelism(),
        };
    } finally {
        for (const s of stops.reverse()) await s().catch(() => undefined);
        await net?.close().catch(() => undefined);
    }
}

if (require.main === module) {
    const quick = process.env.BENCH_QUICK === '1';
    runOverhead({
        levels: (process.env.BENCH_LEVELS ?? '1,8,32').split(',').map(Number),
        requests: quick ? 50 : 300,
        warmup: quick ? 5 : 30,
        channelsPerWorker: process.env.BENCH_CHANNELS ? Number(process.env.BENCH_CHANNELS) : undefined,
        chunkDelayMs: Number(process.env.BENCH_PACED_MS ?? 0),
        log: (l) => console.log(l),
    })
        .then((r) => console.log(JSON.stringify(r, null, 2)))
        .catch((e) => {
            console.error(e);
            process.exit(1);
        });
}
