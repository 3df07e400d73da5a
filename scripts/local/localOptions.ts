import { join, resolve } from 'node:path';
import { DEFAULT_MODEL_NAME } from '../../wrappers/devnet';

/**
 * What `npm start` runs, read from the environment. Kept apart from
 * localNetwork.ts, which needs the compiled contracts: the options and the
 * port check come before the build.
 */

/** What serves the model: the demo GGUF (default), another GGUF file, or an OpenAI-compatible server. */
export type ModelSource = { kind: 'demo' } | { kind: 'gguf'; path: string } | { kind: 'openai'; baseUrl: string; upstreamModel: string };

/** Where the start-up reports to the user: a numbered phase, or a detail line of the current phase. */
export interface StartupReport {
    phase(what: string): void;
    note(text: string): void;
}

export interface LocalNetworkOptions {
    /** Working directory for the chain, the worker and the gateway (default temp/local). */
    dir: string;
    devnetPort: number;
    workerPort: number;
    /** The worker's operator interface (its dashboard). */
    operatorPort: number;
    gatewayPort: number;
    /** The chain file; undefined keeps the chain in memory only. */
    statePath?: string;
    model: ModelSource;
    /** The name apps ask for (the Registry's display name of the model). */
    modelName: string;
    /** Worker prices, nanoTON per million tokens: prompt, cached, completion, reasoning. */
    prices: [bigint, bigint, bigint, bigint];
    /** Inference threads of the embedded engine. */
    threads: number;
    /** Progress for the user. */
    report: StartupReport;
    /** Aborting it during start-up stops whatever has started (Ctrl-C before the network is up). */
    signal?: AbortSignal;
    /** Each complete line a child prints (default: appended to <dir>/logs/<child>.log only). */
    childLine?: (name: string, line: string) => void;
}

/** The ports `npm start` listens on, with the variable that moves each. */
export function localPorts(o: LocalNetworkOptions): Array<{ what: string; port: number; env: string }> {
    return [
        { what: 'the devnet', port: o.devnetPort, env: 'COCOON_DEVNET_PORT' },
        { what: 'the worker', port: o.workerPort, env: 'COCOON_WORKER_PORT' },
        { what: "the worker's dashboard", port: o.operatorPort, env: 'COCOON_OPERATOR_PORT' },
        { what: 'the gateway', port: o.gatewayPort, env: 'COCOON_GATEWAY_PORT' },
    ];
}

function portFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
    const text = env[name];
    if (text === undefined || text === '') return fallback;
    const port = Number(text);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${name} must be a TCP port (1-65535), got "${text}"`);
    return port;
}

export function defaultOptions(env: NodeJS.ProcessEnv, report: StartupReport): LocalNetworkOptions {
    const dir = resolve(env.COCOON_LOCAL_DIR ?? 'temp/local');
    const stateEnv = env.COCOON_DEVNET_STATE;
    let model: ModelSource = { kind: 'demo' };
    if (env.COCOON_MODEL_PATH) model = { kind: 'gguf', path: resolve(env.COCOON_MODEL_PATH) };
    if (env.COCOON_UPSTREAM_URL) model = { kind: 'openai', baseUrl: env.COCOON_UPSTREAM_URL, upstreamModel: env.COCOON_UPSTREAM_MODEL ?? 'default' };
    const priceText = env.COCOON_PRICES ?? '100000000000,50000000000,200000000000,200000000000';
    const prices = priceText.split(',');
    if (prices.length !== 4 || prices.some((p) => !/^\d+$/.test(p.trim())))
        throw new Error(`COCOON_PRICES takes four whole numbers of nanoTON per million tokens: prompt,cached,completion,reasoning (got "${priceText}")`);
    const threads = Number(env.COCOON_THREADS ?? 1);
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`COCOON_THREADS must be a positive whole number, got "${env.COCOON_THREADS}"`);
    return {
        dir,
        devnetPort: portFrom(env, 'COCOON_DEVNET_PORT', 8081),
        workerPort: portFrom(env, 'COCOON_WORKER_PORT', 8090),
        operatorPort: portFrom(env, 'COCOON_OPERATOR_PORT', 8091),
        gatewayPort: portFrom(env, 'COCOON_GATEWAY_PORT', 8080),
        statePath: stateEnv === 'memory' ? undefined : resolve(stateEnv ?? join(dir, 'devnet-state.json')),
        model,
        modelName: env.COCOON_MODEL_NAME ?? (model.kind === 'demo' ? DEFAULT_MODEL_NAME : model.kind === 'gguf' ? 'local-gguf' : model.upstreamModel),
        prices: prices.map((p) => BigInt(p.trim())) as LocalNetworkOptions['prices'],
        threads,
        report,
    };
}
