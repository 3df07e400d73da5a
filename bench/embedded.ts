import { ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDemoModel } from '../worker/src/inference/demoModel';
import { EmbeddedBackend } from '../worker/src/inference/embedded';
import type { ChatRequest } from '../worker/src/inference/types';
import { ROOT } from './lib/network';
import { rssKiB } from './lib/llamaDirect';
import { median } from './lib/stats';

/**
 * Embedded engine: tokens/s and memory of the worker's embedded backend
 * (node-llama-cpp in its engine child process, driven over IPC) against
 * node-llama-cpp called directly, on the same generated demo model, with the
 * same prompt, max tokens, sampling and seed, CPU and 1 thread. Each side
 * runs in a process of its own, so resident memory is comparable: the
 * engine child's RSS for the worker, the whole process's for direct.
 *
 * Then the parallel part (runParallel): the same engine serving 8 and 16
 * requests at once against the same requests one at a time.
 */

export interface EngineRun {
    tokens: number;
    firstMs: number;
    totalMs: number;
}

export interface EngineSide {
    runs: EngineRun[];
    tokensPerSec: number;
    /** Decode rate: tokens after the first per second after the first token. */
    decodeTokensPerSec: number;
    firstTokenMs: number;
    rssMiB: number;
    peakRssMiB: number;
}

export interface ParallelBatch {
    /** Requests sent at once. */
    requests: number;
    completionTokens: number;
    /** From the first request sent to the last one answered, summed over the rounds. */
    wallMs: number;
    /** Completion tokens of all requests per second of wall time. */
    tokensPerSec: number;
    firstTokenMsP50: number;
    firstTokenMsMax: number;
}

export interface ParallelResult {
    /** Sequences the engine decodes together (its default for this machine and context). */
    sequences: number;
    maxTokens: number;
    rounds: number;
    /** The same requests, one at a time: tokens over the summed request times; median time to first token. */
    lone: { requests: number; completionTokens: number; tokensPerSec: number; firstTokenMs: number };
    concurrent8: ParallelBatch;
    concurrent16: ParallelBatch;
    /** concurrent8.tokensPerSec / lone.tokensPerSec. */
    speedup8: number;
    /** concurrent16.firstTokenMsP50 / lone.firstTokenMs. */
    ttftRatio16: number;
}

export interface EmbeddedResult {
    model: { bytes: number; layers: number; vocabSize: number; embeddingLength: number };
    maxTokens: number;
    runs: number;
    worker: EngineSide;
    direct: EngineSide;
    parallel: ParallelResult;
}

const MESSAGES = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Write a story about a fox.' },
];

/** Medians over the runs: the machine is shared, one slow run must not decide the figure. */
function summarize(runs: EngineRun[], mem: { rss: number; hwm: number }): EngineSide {
    return {
        runs,
        tokensPerSec: median(runs.map((r) => (1000 * r.tokens) / r.totalMs)),
        decodeTokensPerSec: median(runs.map((r) => (1000 * Math.max(0, r.tokens - 1)) / (r.totalMs - r.firstMs))),
        firstTokenMs: median(runs.map((r) => r.firstMs)),
        rssMiB: mem.rss / 1024,
        peakRssMiB: mem.hwm / 1024,
    };
}

/**
 * The engine under concurrent load. Every request has a prompt of its own
 * (a serial number ahead of the question, so only the shared system prompt
 * can come from a sequence's cache) and a seed of its own; each round sends
 * 8 of them one at a time (the lone baseline), then 8 others at once, then
 * 16 at once. One warm-up request per sequence first, so every sequence
 * holds the shared prefix and lone and concurrent requests reuse alike.
 */
export async function runParallel(backend: EmbeddedBackend, o: { maxTokens: number; rounds: number }): Promise<ParallelResult> {
    let serial = 0;
    const request = (seed: number) => ({
        model: backend.modelId,
        messages: [MESSAGES[0], { role: 'user' as const, content: `(${serial++}) ${MESSAGES[1].content}` }] as ChatRequest['messages'],
        maxTokens: o.maxTokens,
        temperature: 0.8,
        seed,
    });
    const one = async (r: ChatRequest, t0 = performance.now()): Promise<EngineRun> => {
        let first = -1;
        let tokens = 0;
        for await (const ev of backend.chatStream(r)) {
            if (ev.type === 'delta' && first < 0) first = performance.now() - t0;
            if (ev.type === 'end') {
                if (ev.finishReason === 'error') throw new Error(`engine failed: ${ev.error}`);
                tokens = ev.usage.completionTokens;
            }
        }
        return { tokens, firstMs: first, totalMs: performance.now() - t0 };
    };
    const together = async (n: number) => {
        const t0 = performance.now();
        const runs = await Promise.all(Array.from({ length: n }, (_, i) => one(request(7 + i), t0)));
        return { runs, wallMs: performance.now() - t0 };
    };
    await Promise.all(Array.from({ length: backend.sequences }, (_, i) => one({ ...request(i), maxTokens: 1 })));
    const lone: EngineRun[] = [];
    const batches: Record<8 | 16, Array<{ runs: EngineRun[]; wallMs: number }>> = { 8: [], 16: [] };
    for (let round = 0; round < o.rounds; round++) {
        for (let i = 0; i < 8; i++) lone.push(await one(request(7 + i)));
        batches[8].push(await together(8));
        batches[16].push(await together(16));
    }
    const batch = (n: 8 | 16): ParallelBatch => {
        const runs = batches[n].flatMap((b) => b.runs);
        const completionTokens = runs.reduce((a, r) => a + r.tokens, 0);
        const wallMs = batches[n].reduce((a, b) => a + b.wallMs, 0);
        const firsts = runs.map((r) => r.firstMs);
        return { requests: n, completionTokens, wallMs, tokensPerSec: (1000 * completionTokens) / wallMs, firstTokenMsP50: median(firsts), firstTokenMsMax: Math.max(...firsts) };
    };
    const loneTokens = lone.reduce((a, r) => a + r.tokens, 0);
    const loneSide = {
        requests: lone.length,
        completionTokens: loneTokens,
        tokensPerSec: (1000 * loneTokens) / lone.reduce((a, r) => a + r.totalMs, 0),
        firstTokenMs: median(lone.map((r) => r.firstMs)),
    };
    const concurrent8 = batch(8);
    const concurrent16 = batch(16);
    return {
        sequences: backend.sequences,
        maxTokens: o.maxTokens,
        rounds: o.rounds,
        lone: loneSide,
        concurrent8,
        concurrent16,
        speedup8: concurrent8.tokensPerSec / loneSide.tokensPerSec,
        ttftRatio16: concurrent16.firstTokenMsP50 / loneSide.firstTokenMs,
    };
}

/** The generated demo model (seed 42) written to a scratch folder, and the worker's engine over it (CPU, 1 thread, context 1024), for `fn`. */
async function withDemoEngine<T>(fn: (backend: EmbeddedBackend, modelPath: string, info: ReturnType<typeof writeDemoModel>) => Promise<T>): Promise<T> {
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-bench-engine-'));
    let backend: EmbeddedBackend | undefined;
    try {
        const modelPath = join(dir, 'demo.gguf');
        const info = writeDemoModel(modelPath, { seed: 42 });
        backend = await EmbeddedBackend.start({ modelPath, threads: 1, contextSize: 1024, gpu: false });
        return await fn(backend, modelPath, info);
    } finally {
        await backend?.close();
        rmSync(dir, { recursive: true, force: true });
    }
}

export function runEmbedded(o: { maxTokens: number; runs: number; parallelRounds?: number; log?: (l: string) => void }): Promise<EmbeddedResult> {
    const log = o.log ?? (() => undefined);
    return withDemoEngine(async (backend, modelPath, info) => {
        let direct: ChildProcess | undefined;
        try {
            const common = { temperature: 0.8, seed: 7 };
            const args = { modelPath, contextSize: 1024, threads: 1, maxTokens: o.maxTokens, messages: MESSAGES, ...common };
            const child = fork(join(__dirname, 'lib', 'llamaDirect.ts'), [JSON.stringify(args)], {
                cwd: ROOT,
                execArgv: ['-r', 'ts-node/register/transpile-only'],
                stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
            });
            direct = child;
            const ask = <T>(op: string, want: string) =>
                new Promise<T>((resolve, reject) => {
                    const onMsg = (m: any) => {
                        if (m?.op !== want) return;
                        child.off('message', onMsg);
                        child.off('exit', onExit);
                        resolve(m as T);
                    };
                    const onExit = (c: number | null) => reject(new Error(`llamaDirect exited (${c})`));
                    child.on('message', onMsg);
                    child.once('exit', onExit);
                    if (op) child.send({ op });
                });
            await ask('', 'ready');

            const workerRun = async (): Promise<EngineRun> => {
                const t0 = performance.now();
                let first = -1;
                let tokens = 0;
                for await (const ev of backend.chatStream({ model: backend.modelId, messages: MESSAGES as any, maxTokens: o.maxTokens, ...common })) {
                    if (ev.type === 'delta' && first < 0) first = performance.now() - t0;
                    if (ev.type === 'end') tokens = ev.usage.completionTokens;
                }
                return { tokens, firstMs: first, totalMs: performance.now() - t0 };
            };
            const directRun = async (): Promise<EngineRun> => {
                const r = await ask<EngineRun>('run', 'result');
                return { tokens: r.tokens, firstMs: r.firstMs, totalMs: r.totalMs };
            };
            // One unmeasured warm-up each, then the runs interleaved (worker,
            // direct, worker, ...) so both sides see the same machine load.
            await workerRun();
            await directRun();
            const wruns: EngineRun[] = [];
            const druns: EngineRun[] = [];
            for (let r = 0; r < o.runs; r++) {
                wruns.push(await workerRun());
                druns.push(await directRun());
            }
            const wmem = rssKiB(backend.pid!);
            const dmem = await ask<{ rss: number; hwm: number }>('memory', 'memory');
            const worker = summarize(wruns, wmem);
            const dside = summarize(druns, dmem);
            log(`worker embedded: ${worker.tokensPerSec.toFixed(1)} tok/s (median of runs), peak rss ${worker.peakRssMiB.toFixed(0)} MiB`);
            log(`direct node-llama-cpp: ${dside.tokensPerSec.toFixed(1)} tok/s (median of runs), peak rss ${dside.peakRssMiB.toFixed(0)} MiB`);
            child.kill();
            const parallel = await runParallel(backend, { maxTokens: o.maxTokens, rounds: o.parallelRounds ?? 3 });
            log(
                `parallel (${parallel.sequences} sequences): 8 at once ${parallel.concurrent8.tokensPerSec.toFixed(0)} tok/s, speedup ${parallel.speedup8.toFixed(2)}; ` +
                    `16 at once p50 first token ${parallel.concurrent16.firstTokenMsP50.toFixed(0)} ms, ${parallel.ttftRatio16.toFixed(2)} x alone`,
            );
            return {
                model: { bytes: info.bytes, layers: info.layers, vocabSize: info.vocabSize, embeddingLength: info.embeddingLength },
                maxTokens: o.maxTokens,
                runs: o.runs,
                worker,
                direct: dside,
                parallel,
            };
        } finally {
            direct?.kill();
        }
    });
}

/** The parallel part alone, on a fresh engine (BENCH_ENGINE_ONLY=parallel): for before/after runs of the engine's batching. */
export function runParallelAlone(o: { maxTokens: number; rounds: number }): Promise<ParallelResult> {
    return withDemoEngine((backend) => runParallel(backend, o));
}

if (require.main === module && process.env.BENCH_ENGINE_ONLY === 'parallel') {
    runParallelAlone({ maxTokens: Number(process.env.BENCH_ENGINE_TOKENS ?? 512), rounds: Number(process.env.BENCH_ENGINE_PARALLEL_ROUNDS ?? 3) })
        .then((r) => console.log(JSON.stringify(r, null, 2)))
        .catch((e) => {
            console.error(e);
            process.exit(1);
        });
} else if (require.main === module) {
    runEmbedded({
        maxTokens: Number(process.env.BENCH_ENGINE_TOKENS ?? 512),
        runs: Number(process.env.BENCH_ENGINE_RUNS ?? 7),
        parallelRounds: Number(process.env.BENCH_ENGINE_PARALLEL_ROUNDS ?? 3),
        log: (l) => console.log(l),
    })
        .then((r) => console.log(JSON.stringify(r, null, 2)))
        .catch((e) => {
            console.error(e);
            process.exit(1);
        });
}
