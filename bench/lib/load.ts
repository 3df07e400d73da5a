import { Agent, request } from 'node:http';

/**
 * The load client of the overhead benchmark: `concurrency` streaming chat
 * completions in flight at all times until `requests` have completed (after
 * `warmup` unmeasured ones). Plain node:http with keep-alive, so the client
 * itself adds as little as possible and the same client measures both paths.
 *
 * Per request it records the latency (request written -> stream ended) and
 * the time to first token (-> the first SSE chunk whose delta has content).
 * Run as a script: `load.ts '<LoadOptions JSON>'` prints one LoadResult JSON
 * line (the benchmark runs it in its own process).
 */

export interface LoadOptions {
    url: string; // .../v1/chat/completions
    apiKey?: string;
    concurrency: number;
    requests: number;
    warmup: number;
    body: Record<string, unknown>;
}

export interface LoadResult {
    concurrency: number;
    requests: number;
    errors: number;
    firstError?: string;
    seconds: number;
    rps: number;
    latencyMs: { p50: number; p99: number; mean: number };
    ttftMs: { p50: number; p99: number; mean: number };
    contentBytes: number;
    /** This load process's CPU time (user + system) over the measured requests, ms. */
    cpuMs: number;
}

interface One {
    latency: number;
    ttft: number;
    bytes: number;
}

function oneRequest(agent: Agent, o: LoadOptions, payload: Buffer): Promise<One> {
    return new Promise((resolve, reject) => {
        const u = new URL(o.url);
        const t0 = performance.now();
        let ttft = -1;
        let bytes = 0;
        let buf = '';
        let sawDone = false;
        const req = request(
            {
                agent,
                host: u.hostname,
                port: u.port,
                path: u.pathname,
                method: 'POST',
                headers: { 'content-type': 'application/json', 'content-length': payload.length, ...(o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {}) },
            },
            (res) => {
                if (res.statusCode !== 200) {
                    let text = '';
                    res.setEncoding('utf8');
                    res.on('data', (d) => (text += d));
                    res.on('end', () => reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`)));
                    return;
                }
                res.setEncoding('utf8');
                res.on('data', (d: string) => {
                    buf += d;
                    let i: number;
                    while ((i = buf.indexOf('\n\n')) >= 0) {
                        const block = buf.slice(0, i);
                        buf = buf.slice(i + 2);
                        if (!block.startsWith('data: ')) continue;
                        const data = block.slice(6);
                        if (data === '[DONE]') {
                            sawDone = true;
                            continue;
                        }
                        const json = JSON.parse(data);
                        if (json.error) return reject(new Error(`stream error: ${JSON.stringify(json.error)}`));
                        const c = json.choices?.[0]?.delta?.content;
                        if (typeof c === 'string' && c.length > 0) {
                            if (ttft < 0) ttft = performance.now() - t0;
                            bytes += Buffer.byteLength(c);
                        }
                    }
                });
                res.on('end', () => {
                    if (!sawDone) return reject(new Error('stream ended without [DONE]'));
                    resolve({ latency: performance.now() - t0, ttft, bytes });
                });
                res.on('error', reject);
            },
        );
        req.on('error', reject);
        req.end(payload);
    });
}

function pct(sorted: number[], p: number): number {
    if (sorted.length === 0) return NaN;
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[i];
}

function stats(xs: number[]) {
    const s = [...xs].sort((a, b) => a - b);
    return { p50: pct(s, 50), p99: pct(s, 99), mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length) };
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
    const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
    const payload = Buffer.from(JSON.stringify(o.body));
    let errors = 0;
    let firstError: string | undefined;
    const run = async (total: number, record: One[] | null) => {
        let next = 0;
        const loop = async () => {
            while (next < total) {
                next++;
                try {
                    const r = await oneRequest(agent, o, payload);
                    record?.push(r);
                } catch (e) {
                    errors++;
                    firstError ??= (e as Error).message;
                }
            }
        };
        await Promise.all(Array.from({ length: o.concurrency }, loop));
    };
    await run(o.warmup, null);
    errors = 0;
    firstError = undefined;
    const done: One[] = [];
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await run(o.requests, done);
    const cpu = process.cpuUsage(cpu0);
    const seconds = (performance.now() - t0) / 1000;
    agent.destroy();
    return {
        concurrency: o.concurrency,
        requests: done.length,
        errors,
        firstError,
        seconds,
        rps: done.length / seconds,
        latencyMs: stats(done.map((d) => d.latency)),
        ttftMs: stats(done.map((d) => d.ttft)),
        contentBytes: done.length ? done[0].bytes : 0,
        cpuMs: (cpu.user + cpu.system) / 1000,
    };
}

if (require.main === module) {
    runLoad(JSON.parse(process.argv[2]))
        .then((r) => {
            console.log(JSON.stringify(r));
            process.exit(0);
        })
        .catch((e) => {
            console.error(e);
            process.exit(1);
        });
}
