import { promises as fs } from 'node:fs';
import { Server, Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, toNano } from '@ton/core';
import type { KeyPair } from '@ton/crypto';
import { TonClient } from '@ton/ton';
import { RunningDevnet, startDevnet } from '../../devnet/server';
import { BINS, Daemon } from '../../scripts/lib/daemon';
import { DEVNET_MNEMONIC } from '../../wrappers/devnet';
import { tonClientOpener } from '../../wrappers/toncenter';
import { WorkerConfig, loadConfig } from '../../worker/src/config';
import { OperatorWallet } from '../../wrappers/wallet';
import { CocoonClient, ClientOptions } from '../../client/src/client';
import { ClientStore } from '../../client/src/store';
import { Upstream, startUpstream } from '../worker/helpers';
import { freePort } from '../../helpers/poll';
import { deployNetworkTo, registerWorker as registerWorkerWithCli } from '../../scripts/local/devnetNetwork';

/**
 * A whole Cocoon network on loopback for the fault suites: a devnet with
 * the network deployed by the real deploy script, reached by everything
 * else through a TCP relay that a test can cut (the chain endpoint becomes
 * unreachable: connections refused, open ones reset) and restore (the same
 * chain, its state intact, on the same address); a fake upstream; workers
 * registered through their own CLI and run as child processes (so they can
 * be SIGKILLed); the gateway as a child process; SDK clients in-process.
 */

export const MODEL = 'cocoon-demo';

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
    const { contracts } = await deployNetworkTo(devnet.endpoint, dir);
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
    // Chain access through the link, so a cut reaches the worker too.
    const { configFile, port } = await registerWorkerWithCli({
        dir: join(net.dir, name),
        endpoint: net.link.endpoint,
        staking: net.contracts.staking,
        backend: { upstreamUrl: net.upstream.url },
        prices,
        configure: (cfg: any) => {
            cfg.payments = { claimThreshold: toNano('1000').toString(), watchIntervalMs: 1000, claimRetryInitialMs: 500, claimRetryMaxMs: 2000, ...payments };
            cfg.shutdownTimeoutMs = 20_000;
        },
    });
    return { name, configFile, config: loadConfig({ file: configFile, env: {} }), port };
}

/** A command run as a child process (scripts/lib/daemon.ts), with the URL it listens on. */
export type Child = Daemon & { url: string };

async function spawnChild(name: string, bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<Child> {
    const d = Daemon.spawn(name, bin, args, { env });
    try {
        return Object.assign(d, { url: await d.listening(90_000) });
    } catch (e) {
        await d.kill();
        throw e;
    }
}

/** `cocoon-worker start -c <config>` as a child process. */
export function spawnWorker(w: RegisteredWorker): Promise<Child> {
    return spawnChild(`worker ${w.name}`, BINS.worker, ['start', '-c', w.configFile], {});
}

/** `cocoon-client gateway` as a child process, its ledger and channel key in `dir`. */
export function spawnGateway(net: Network, dir: string, extra: string[] = []): Promise<Child> {
    return spawnChild(
        'gateway',
        BINS.client,
        // One channel per worker, so a test can follow the gateway's channel across restarts.
        ['gateway', '-d', dir, '--port', '0', '--deposit', '5', '--top-up-below', '1', '--channels-per-worker', '1', ...extra],
        { COCOON_ENDPOINT: net.link.endpoint, COCOON_STAKING: net.contracts.staking },
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
