import { ChildProcess, spawn } from 'node:child_process';
import { promises as fs, writeFileSync } from 'node:fs';
import { AddressInfo, Server, Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, toNano } from '@ton/core';
import type { KeyPair } from '@ton/crypto';
import { TonClient } from '@ton/ton';
import { RunningDevnet, startDevnet } from '../../devnet/server';
import { readDeployment } from '../../scripts/lib/deployment';
import { DEVNET_MNEMONIC } from '../../wrappers/devnet';
import { tonClientOpener } from '../../worker/src/chain';
import { main as workerCli } from '../../worker/src/cli';
import { WorkerConfig, loadConfig } from '../../worker/src/config';
import { OperatorWallet } from '../../worker/src/wallet';
import { CocoonClient, ClientOptions } from '../../client/src/client';
import { ClientStore } from '../../client/src/store';
import { Upstream, startUpstream } from '../worker/helpers';
import { eventually, freePort } from '../helpers/poll';

/**
 * A whole Cocoon network on loopback for the fault suites: a devnet with
 * the network deployed by the real deploy script, reached by everything
 * else through a TCP relay that a test can cut (the chain endpoint becomes
 * unreachable: connections refused, open ones reset) and restore (the same
 * chain, its state intact, on the same address); a fake upstream; workers
 * registered through their own CLI and run as child processes (so they can
 * be SIGKILLed); the gateway as a child process; SDK clients in-process.
 */

export const ROOT = join(__dirname, '..', '..');
export const MODEL = 'cocoon-dev-model';

/** A TCP relay to the devnet that can be cut and restored. */
export class ChainLink {
    private server?: Server;
    private readonly sockets = new Set<Socket>();
    constructor(
        readonly port: number,
        private readonly target: number,
    ) {}

    get endpoint(): string {
        return `http://127.0.0.1:${this.port}/api/v2/jsonRPC`;
    }

    get up(): boolean {
        return this.server !== undefined;
    }

    async restore(): Promise<void> {
        if (this.server) return;
        const server = createServer((s) => {
            const u = connect(this.target, '127.0.0.1');
            for (const x of [s, u]) {
                this.sockets.add(x);
                x.on('close', () => this.sockets.delete(x));
                x.on('error', () => {
                    s.destroy();
                    u.destroy();
                });
            }
            s.pipe(u);
            u.pipe(s);
        });
        await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.port, '127.0.0.1', () => resolve()));
        this.server = server;
    }

    /** The chain becomes unreachable: new connections are refused, open ones reset. */
    async cut(): Promise<void> {
        const server = this.server;
        if (!server) return;
        this.server = undefined;
        const closed = new Promise<void>((r) => server.close(() => r()));
        for (const s of this.sockets) s.destroy();
        await closed;
    }
}

export interface Network {
    dir: string;
    devnet: RunningDevnet;
    link: ChainLink;
    upstream: Upstream;
    contracts: Record<string, string>;
    /** TonClient through the link (what workers, gateway and SDK use). */
    ton: TonClient;
    /** TonClient straight to the devnet (the test's own view, unaffected by a cut). */
    direct: TonClient;
    close(): Promise<void>;
}

/** Devnet + relay + deployed network + fake upstream, in a fresh temp directory. */
export async function startNetwork(name: string): Promise<Network> {
    const dir = await fs.mkdtemp(join(tmpdir(), `cocoon-${name}-`));
    const devnet = await startDevnet({ port: 0, logLevel: 'silent' });
    const link = new ChainLink(await freePort(), devnet.port);
    await link.restore();
    const upstream = await startUpstream();
    const file = join(dir, 'devnet.json');
    const child = spawn(
        'npx',
        ['blueprint', 'run', 'deployNetwork', '--custom', devnet.endpoint, '--custom-version', 'v2', '--custom-type', 'custom', '--mnemonic'],
        { cwd: ROOT, env: { ...process.env, WALLET_MNEMONIC: DEVNET_MNEMONIC, WALLET_VERSION: 'v4r2', COCOON_DEPLOYMENT: file }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    if (code !== 0) throw new Error(`deployNetwork exited with ${code}:\n${out}`);
    const contracts = (await readDeployment(file))!.contracts;
    return {
        dir,
        devnet,
        link,
        upstream,
        contracts,
        ton: new TonClient({ endpoint: link.endpoint }),
        direct: new TonClient({ endpoint: devnet.endpoint }),
        async close() {
            await link.cut();
            await upstream.close();
            await devnet.close();
            await fs.rm(dir, { recursive: true, force: true });
        },
    };
}

export type Prices = { prompt: bigint; cached: bigint; completion: bigint; reasoning: bigint };

export interface RegisteredWorker {
    name: string;
    configFile: string;
    config: WorkerConfig;
    port: number;
}

/** A worker created and registered through its own CLI (openai backend over the fake upstream), not started. */
export async function registerWorker(net: Network, name: string, prices: Prices, payments: Record<string, unknown> = {}): Promise<RegisteredWorker> {
    const io = { out: () => undefined, env: { ...process.env } };
    const wdir = join(net.dir, name);
    const port = await freePort();
    await workerCli(
        ['init', '-d', wdir, '--endpoint', net.link.endpoint, '--staking', net.contracts.staking, '--base-url', net.upstream.url, '--upstream-model', 'llama-3-8b', '--stake', '12',
            '--port', String(port), '--prices', [prices.prompt, prices.cached, prices.completion, prices.reasoning].join(',')],
        io,
    );
    const configFile = join(wdir, 'config.json');
    const cfg = JSON.parse(await fs.readFile(configFile, 'utf8'));
    // The workers' operator is the devnet's v5r1 wallet; clients pay from the v4 wallet.
    cfg.keys.walletVersion = 'v5r1';
    cfg.payments = { claimThreshold: toNano('1000').toString(), watchIntervalMs: 1000, claimRetryInitialMs: 500, claimRetryMaxMs: 2000, ...payments };
    cfg.log = { level: 'warn' };
    cfg.shutdownTimeoutMs = 20_000;
    writeFileSync(configFile, JSON.stringify(cfg), { mode: 0o600 });
    await workerCli(['register', '-c', configFile], io);
    return { name, configFile, config: loadConfig({ file: configFile, env: {} }), port };
}

export interface Child {
    child: ChildProcess;
    url: string;
    exited: Promise<number | null>;
    output(): string;
    /** SIGKILL: no shutdown code runs. Resolves once the process is gone. */
    kill(): Promise<void>;
    /** SIGTERM and wait for a clean exit code. */
    stop(): Promise<number | null>;
}

async function spawnChild(args: string[], env: NodeJS.ProcessEnv, listening: RegExp, what: string): Promise<Child> {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    let gone = false;
    void exited.then(() => (gone = true));
    const url = await eventually(what, async () => {
        if (gone) throw new Error(`${what}: exited early:\n${out}`);
        return listening.exec(out)?.[1];
    }, (u) => !!u, 90_000).catch((e) => {
        child.kill('SIGKILL');
        throw new Error(`${(e as Error).message}\n${out}`);
    });
    return {
        child,
        url: url!,
        exited,
        output: () => out,
        kill: async () => {
            child.kill('SIGKILL');
            await exited;
        },
        stop: async () => {
            child.kill('SIGTERM');
            return exited;
        },
    };
}

/** `cocoon-worker start -c <config>` as a child process. */
export function spawnWorker(w: RegisteredWorker): Promise<Child> {
    return spawnChild([join(ROOT, 'worker', 'bin', 'cocoon-worker.js'), 'start', '-c', w.configFile], {}, /listening on (http:\S+)/, `worker ${w.name} to listen`);
}

/** `cocoon-client gateway` as a child process, its ledger and channel key in `dir`. */
export function spawnGateway(net: Network, dir: string, extra: string[] = []): Promise<Child> {
    return spawnChild(
        // One channel per worker, so a test can follow the gateway's channel across restarts.
        [join(ROOT, 'client', 'bin', 'cocoon-client.js'), 'gateway', '-d', dir, '--port', '0', '--deposit', '5', '--top-up-below', '1', '--channels-per-worker', '1', ...extra],
        { COCOON_ENDPOINT: net.link.endpoint, COCOON_STAKING: net.contracts.staking },
        /listening on (http:\S+)/,
        'the gateway to listen',
    );
}

/** What the in-process SDK clients logged (printed by a failing test). */
export const sdkLog: string[] = [];

/** An in-process SDK client paying from the devnet's v4 wallet, its chain reads through the link. */
export async function sdkClient(net: Network, storePath: string, channelKey: KeyPair, over: Partial<ClientOptions> = {}): Promise<CocoonClient> {
    const wallet = await OperatorWallet.open(net.ton, DEVNET_MNEMONIC.split(' '), 'v4');
    return new CocoonClient({
        opener: tonClientOpener(net.ton),
        staking: Address.parse(net.contracts.staking),
        wallet: wallet.sender() as ReturnType<OperatorWallet['sender']> & { address: Address },
        channelKey,
        store: ClientStore.open(storePath),
        deposit: toNano('5'),
        topUpBelow: toNano('1'),
        connectTimeoutMs: 10_000,
        idleTimeoutMs: 20_000,
        log: (msg, extra) => sdkLog.push(`${msg} ${JSON.stringify(extra ?? {})}`),
        ...over,
    });
}

/** Reads an SSE body from the gateway: the text and the last JSON chunk. */
export async function readGatewayStream(res: Response): Promise<{ text: string; last: any; done: boolean }> {
    const body = await res.text();
    let text = '';
    let last: any;
    let done = false;
    for (const block of body.split('\n\n')) {
        const line = block.split('\n').find((l) => l.startsWith('data:'));
        if (!line) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') {
            done = true;
            continue;
        }
        last = JSON.parse(data);
        text += last.choices?.[0]?.delta?.content ?? '';
    }
    return { text, last, done };
}
