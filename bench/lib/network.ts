import type { ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, Transaction } from '@ton/core';
import { TonClient } from '@ton/ton';
import { RunningDevnet, startDevnet } from '../../devnet/server';
import { BINS, Daemon as CommandDaemon, ROOT } from '../../scripts/lib/daemon';
import { freePort } from '../../helpers/poll';
import { deployNetworkTo, registerWorker as registerWorkerWithCli } from '../../scripts/local/devnetNetwork';

export { ROOT };

/**
 * Set-up shared by the benchmarks: a devnet with the network deployed by
 * its real deployment script, workers registered through their own CLI
 * (the pattern of tests/client/e2e.spec.ts), and worker / gateway daemons
 * started as separate processes through their bins, as an operator and an
 * app developer would run them. Deployment and registration are the test
 * fixtures' (scripts/local/devnetNetwork.ts); processes run through
 * scripts/lib/daemon.ts.
 */

export interface Prices {
    prompt: bigint;
    cached: bigint;
    completion: bigint;
    reasoning: bigint;
}

/** `cocoon-worker init --prices` default (worker/src/cli.ts), nanoTON per million tokens. */
export const DEFAULT_PRICES: Prices = { prompt: 100_000_000n, cached: 50_000_000n, completion: 200_000_000n, reasoning: 200_000_000n };

export interface BenchNetwork {
    devnet: RunningDevnet;
    ton: TonClient;
    contracts: Record<string, string>;
    dir: string;
    close(): Promise<void>;
}

/** A devnet with the whole network deployed by `npx blueprint run deployNetwork`. */
export async function startNetwork(): Promise<BenchNetwork> {
    const dir = await fs.mkdtemp(join(tmpdir(), 'cocoon-bench-'));
    const devnet = await startDevnet({ port: 0, logLevel: 'silent' });
    let contracts: Record<string, string>;
    try {
        ({ contracts } = await deployNetworkTo(devnet.endpoint, dir));
    } catch (e) {
        await devnet.close();
        throw e;
    }
    return {
        devnet,
        ton: new TonClient({ endpoint: devnet.endpoint }),
        contracts,
        dir,
        close: async () => {
            await devnet.close();
            await fs.rm(dir, { recursive: true, force: true });
        },
    };
}

export interface WorkerSetup {
    name: string;
    upstreamUrl: string;
    prices?: Prices;
    /** Worker config `payments` overrides (nanoTON amounts as strings). */
    payments?: Record<string, unknown>;
    /** Worker config `http` overrides (e.g. maxConcurrent). */
    http?: Record<string, unknown>;
}

/** Registers a worker (openai backend over `upstreamUrl`) through its CLI; returns its config file and port. */
export async function registerWorker(net: BenchNetwork, o: WorkerSetup): Promise<{ configFile: string; port: number; dir: string }> {
    const dir = join(net.dir, o.name);
    const { configFile, port } = await registerWorkerWithCli({
        dir,
        endpoint: net.devnet.endpoint,
        staking: net.contracts.staking,
        backend: { upstreamUrl: o.upstreamUrl },
        prices: o.prices ?? DEFAULT_PRICES,
        configure: (cfg) => {
            if (o.payments) cfg.payments = { ...(cfg.payments ?? {}), ...o.payments };
            if (o.http) cfg.http = { ...(cfg.http ?? {}), ...o.http };
        },
    });
    return { configFile, port, dir };
}

export interface Daemon {
    child: ChildProcess;
    url: string;
    stop(): Promise<void>;
}

/** Starts a bin (`node <bin> ...args`) and waits until it prints a line matching `ready`; returns that line. */
export async function startDaemon(bin: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; line: string; stop(): Promise<void> }> {
    // BENCH_CPU_PROF=<dir>: each daemon writes a V8 CPU profile there when it exits (to see where the time goes).
    const nodeArgs = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
    const d = CommandDaemon.spawn(bin, bin, args, { env, nodeArgs });
    const lineOf = new RegExp(`^.*(?:${ready.source}).*$`, 'm');
    try {
        const line = (await d.waitFor(lineOf, `${bin} to start`, 120_000))[0];
        return { child: d.child, line, stop: async () => void (await d.stop()) };
    } catch (e) {
        await d.kill();
        throw e;
    }
}

/** `cocoon-worker start -c <config>` as its own process. */
export async function startWorkerDaemon(configFile: string, port: number): Promise<Daemon> {
    const d = await startDaemon(BINS.worker, ['start', '-c', configFile], /listening on/);
    return { child: d.child, url: `http://127.0.0.1:${port}`, stop: d.stop };
}

/** `cocoon-client gateway` as its own process, paying from the devnet's v4 wallet. */
export async function startGatewayDaemon(net: BenchNetwork, o: { dir: string; apiKey: string; deposit?: string; topUpBelow?: string; channelsPerWorker?: number }): Promise<Daemon> {
    const port = await freePort();
    const args = ['gateway', '--endpoint', net.devnet.endpoint, '--staking', net.contracts.staking, '-d', o.dir, '--port', String(port), '--api-key', o.apiKey];
    if (o.deposit) args.push('--deposit', o.deposit);
    if (o.topUpBelow) args.push('--top-up-below', o.topUpBelow);
    if (o.channelsPerWorker !== undefined) args.push('--channels-per-worker', String(o.channelsPerWorker));
    const d = await startDaemon(BINS.client, args, /gateway listening on/);
    return { child: d.child, url: `http://127.0.0.1:${port}/v1`, stop: d.stop };
}

/**
 * Every transaction the devnet executed in blocks after `fromSeqno`, with
 * the block each belongs to (one block = one external message and its whole
 * message chain, or one faucet transfer).
 */
export function transactionsSince(net: BenchNetwork, fromSeqno: number): Array<{ block: number; tx: Transaction }> {
    const chain = net.devnet.chain;
    const out: Array<{ block: number; tx: Transaction }> = [];
    for (let s = fromSeqno + 1; s <= chain.seqno; s++) {
        const b = chain.block(s);
        if (!b) continue;
        for (const t of b.txs) {
            const rec = chain.transactions(Address.parse(t.account), { limit: 1, lt: BigInt(t.lt) })[0];
            if (rec && rec.lt === BigInt(t.lt)) out.push({ block: s, tx: rec.tx });
        }
    }
    return out;
}
