import { ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDemoModel } from '../worker/src/inference/demoModel';
import { EmbeddedBackend } from '../worker/src/inference/embedded';
import { ROOT } from './lib/network';
import { rssKiB } from './lib/llamaDirect';

/**
 * Embedded engine: tokens/s and memory of the worker's embedded backend
 * (node-llama-cpp in its engine child process, driven over IPC) against
 * node-llama-cpp called directly, on the same generated demo model, with the
 * same prompt, max tokens, sampling and seed, CPU and 1 thread. Each side
 * runs in a process of its own, so resident memory is comparable: the
 * engine child's RSS for the worker, the whole process's for direct.
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

export interface EmbeddedResult {
    model: { bytes: number; layers: number; vocabSize: number; embeddingLength: number };
    maxTokens: number;
    runs: number;
    worker: EngineSide;
    direct: EngineSide;
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

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export async function runEmbedded(o: { maxTokens: number; runs: number; log?: (l: string) => void }): Promise<EmbeddedResult> {
    const log = o.log ?? (() => undefined);
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-bench-engine-'));
    let backend: EmbeddedBackend | undefined;
    let direct: ChildProcess | undefined;
    try {
        const modelPath = join(dir, 'demo.gguf');
        const info = writeDemoModel(modelPath, { seed: 42 });
        const common = { temperature: 0.8, seed: 7 };
        backend = await EmbeddedBackend.start({ modelPath, threads: 1, contextSize: 1024, gpu: false });
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
            for await (const ev of backend!.chatStream({ model: backend!.modelId, messages: MESSAGES as any, maxTokens: o.maxTokens, ...common })) {
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
        return { model: { bytes: info.bytes, layers: info.layers, vocabSize: info.vocabSize, embeddingLength: info.embeddingLength }, maxTokens: o.maxTokens, runs: o.runs, worker, direct: dside };
    } finally {
        direct?.kill();
        await backend?.close();
        rmSync(dir, { recursive: true, force: true });
    }
}

if (require.main === module) {
    runEmbedded({ maxTokens: Number(process.env.BENCH_ENGINE_TOKENS ?? 512), runs: Number(process.env.BENCH_ENGINE_RUNS ?? 7), log: (l) => console.log(l) })
        .then((r) => console.log(JSON.stringify(r, null, 2)))
        .catch((e) => {
            console.error(e);
            process.exit(1);
        });
}
