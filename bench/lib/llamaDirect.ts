import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type * as Nlc from 'node-llama-cpp';

/**
 * The baseline of the embedded-engine benchmark: node-llama-cpp called
 * directly, in a process of its own, on the same model with the same
 * options the worker's engine host uses (CPU, 1 thread, the same context
 * size, the model's chat template, LlamaChat.generateResponse). Forked
 * with an IPC channel: `{op:'run'}` answers one generation's completion
 * tokens and times, `{op:'memory'}` the process's resident memory (current
 * and peak, KiB).
 *
 * Argument: '<{"modelPath","contextSize","threads","maxTokens","messages","temperature","seed"}>'
 */

const nativeImport = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

export function rssKiB(pid: number | 'self' = 'self'): { rss: number; hwm: number } {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

async function main() {
    const o = JSON.parse(process.argv[2]);
    const lib = (await nativeImport(pathToFileURL(require.resolve('node-llama-cpp')).href)) as typeof Nlc;
    const llama = await lib.getLlama({ gpu: false, build: 'never', logLevel: lib.LlamaLogLevel.error, progressLogs: false });
    const model = await llama.loadModel({ modelPath: o.modelPath });
    const context = await model.createContext({ contextSize: Math.min(o.contextSize, model.trainContextSize), sequences: 1, threads: o.threads });
    const sequence = context.getSequence();
    const chatWrapper = lib.resolveChatWrapper(model);
    const run = async () => {
        const chat = new lib.LlamaChat({ contextSequence: sequence, autoDisposeSequence: false, chatWrapper });
        const history: Nlc.ChatHistoryItem[] = o.messages.map((m: { role: string; content: string }) =>
            m.role === 'user' ? { type: 'user', text: m.content } : m.role === 'assistant' ? { type: 'model', response: [m.content] } : { type: 'system', text: m.content },
        );
        history.push({ type: 'model', response: [] });
        const t0 = performance.now();
        let first = -1;
        let tokens = 0;
        await chat.generateResponse(history, {
            maxTokens: o.maxTokens,
            temperature: o.temperature,
            seed: o.seed,
            onResponseChunk(chunk) {
                if (first < 0) first = performance.now() - t0;
                tokens += chunk.tokens.length;
            },
        });
        chat.dispose();
        return { tokens, firstMs: first, totalMs: performance.now() - t0 };
    };
    // Driven over IPC one run at a time, so the benchmark can interleave
    // these runs with the worker backend's (both see the same machine load).
    process.on('message', (cmd: { op: string }) => {
        if (cmd.op === 'run') void run().then((r) => process.send!({ op: 'result', ...r }));
        else if (cmd.op === 'memory') process.send!({ op: 'memory', ...rssKiB() });
        else if (cmd.op === 'exit') void context.dispose().then(() => process.exit(0));
    });
    process.on('disconnect', () => process.exit(0));
    process.send!({ op: 'ready' });
}

if (require.main === module) {
    main().catch((e) => {
        console.error(e);
        process.exit(1);
    });
}
