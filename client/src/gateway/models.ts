import type { FastifyInstance, FastifyReply } from 'fastify';
import type { CocoonClient } from '../client';
import type { WorkerInfo } from '../discovery';

/**
 * `GET /v1/models` and `GET /v1/models/{id}`: the Registry's models that
 * have live verified workers, each with the price range of those workers
 * (nanoTON per million tokens), what they can serve (a capability is listed
 * when at least one of them has it, as its worker's own /v1/models says),
 * the smallest context length among them, and how many run on each kind of
 * hardware (`tee`: intel-tdx, amd-sev-snp, or simulated for development-key
 * evidence), as the chain's attestation records tell it.
 */

const CAPABILITIES = ['chat', 'completions', 'embeddings', 'tools', 'json_schema', 'logprobs', 'vision'] as const;
type Capability = (typeof CAPABILITIES)[number];

interface WorkerModel {
    capabilities: Partial<Record<Capability, boolean>>;
    contextLength: number | null;
}

export interface ModelsDeps {
    client: CocoonClient;
    /** Models offered when the Registry cannot be read. */
    fallback: string[];
    fail: (reply: FastifyReply, status: number, code: string, message: string) => FastifyReply;
}

/** The models list, as /v1/models answers it (cached 15 s); for the console. */
export type ModelEntries = () => Promise<unknown[]>;

export function registerModelRoutes(app: FastifyInstance, deps: ModelsDeps): ModelEntries {
    const { client } = deps;
    let cache: { at: number; data: unknown[] } | undefined;
    const described = new Map<string, { at: number; model: WorkerModel | undefined }>();

    /** What a worker says of the model it serves (cached a minute; undefined when it does not answer). */
    async function workerModel(w: WorkerInfo): Promise<WorkerModel | undefined> {
        const key = `${w.workerStake.toString()} ${w.model}`;
        const hit = described.get(key);
        if (hit && Date.now() - hit.at < 60_000) return hit.model;
        let model: WorkerModel | undefined;
        try {
            const res = await fetch(`${w.endpoint}/v1/models`, { signal: AbortSignal.timeout(5_000) });
            const list = ((await res.json()) as { data?: Array<Record<string, unknown>> }).data ?? [];
            const m = list.find((x) => x.id === w.model || (Array.isArray(x.aliases) && x.aliases.includes(w.model)));
            if (m) {
                const caps = (m.capabilities ?? {}) as Record<string, unknown>;
                model = {
                    capabilities: Object.fromEntries(CAPABILITIES.map((c) => [c, caps[c] === true])),
                    contextLength: typeof m.context_length === 'number' ? m.context_length : null,
                };
            }
        } catch {
            model = undefined;
        }
        described.set(key, { at: Date.now(), model });
        return model;
    }

    async function entries(): Promise<unknown[]> {
        if (cache && Date.now() - cache.at < 15_000) return cache.data;
        let names: string[];
        try {
            names = (await client.discovery.allowedModels()).map((m) => m.name);
        } catch {
            names = deps.fallback;
        }
        const data = [];
        for (const name of names) {
            const workers = await client.workers(name, true).catch(() => [] as WorkerInfo[]);
            if (workers.length === 0) continue;
            const range = (k: 'prompt' | 'cached' | 'completion' | 'reasoning') => ({
                min: workers.reduce((a, w) => (w.prices[k] < a ? w.prices[k] : a), workers[0].prices[k]).toString(),
                max: workers.reduce((a, w) => (w.prices[k] > a ? w.prices[k] : a), workers[0].prices[k]).toString(),
            });
            const known = (await Promise.all(workers.map(workerModel))).filter((m): m is WorkerModel => m !== undefined);
            const lengths = known.map((m) => m.contextLength).filter((n): n is number => n !== null);
            data.push({
                id: name,
                object: 'model',
                created: 0,
                owned_by: 'cocoon',
                workers: workers.length,
                tee: teeCounts(workers),
                capabilities: Object.fromEntries(CAPABILITIES.map((c) => [c, known.some((m) => m.capabilities[c] === true)])),
                context_length: lengths.length > 0 ? Math.min(...lengths) : null,
                pricing: { unit: 'nanoTON per million tokens', prompt: range('prompt'), cached: range('cached'), completion: range('completion'), reasoning: range('reasoning') },
            });
        }
        cache = { at: Date.now(), data };
        return data;
    }

    app.get('/v1/models', async () => ({ object: 'list', data: await entries() }));

    app.get('/v1/models/*', async (req, reply) => {
        // Model names may hold slashes (org/name), as OpenAI's own do not but Hugging Face's do.
        const id = (req.params as { '*': string })['*'];
        const model = (await entries()).find((m) => (m as { id: string }).id === id);
        if (!model) return deps.fail(reply, 404, 'model_not_found', 'no live verified worker serves a model of that id');
        return model;
    });
    return entries;
}

/** How many of the workers run on each kind of hardware, in a stable order. */
function teeCounts(workers: WorkerInfo[]): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const w of [...workers].sort((a, b) => a.tee.localeCompare(b.tee))) counts[w.tee] = (counts[w.tee] ?? 0) + 1;
    return counts;
}
