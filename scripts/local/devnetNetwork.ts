import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { mnemonicToPrivateKey } from '@ton/crypto';
import { WalletContractV5R1 } from '@ton/ton';
import { Deployment, readDeployment } from '../lib/deployment';
import { ROOT } from '../lib/daemon';
import { DEVNET_MNEMONIC } from '../../wrappers/devnet';
import type { Prices } from '../../wrappers/receipt';
import { main as workerCli } from '../../worker/src/cli';
import { freePort } from '../../helpers/poll';
import { writeSecretFile } from '../../helpers/secretFile';

/**
 * The set-up every devnet-backed suite (and the benchmarks) shares: the
 * network deployed by the real deployment script through Blueprint's
 * toncenter provider, and workers created and registered through their own
 * CLI, exactly as an operator does it.
 */

export interface DeployedNetwork {
    /** Contract addresses by name (registry, staking, escrow, attestationVerifier). */
    contracts: Record<string, string>;
    /** The addresses file the script wrote. */
    deployment: Deployment;
    /** What the script printed. */
    output: string;
}

/**
 * Runs `npx blueprint run <script> <args>` against a devnet at `endpoint`,
 * with the devnet owner's mnemonic, as a deployer types it.
 */
export async function runBlueprintScript(endpoint: string, script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
    const child = spawn('npx', ['blueprint', 'run', script, ...args, '--custom', endpoint, '--custom-version', 'v2', '--custom-type', 'custom', '--mnemonic'], {
        cwd: ROOT,
        env: { ...process.env, WALLET_MNEMONIC: DEVNET_MNEMONIC, WALLET_VERSION: 'v4r2', ...env },
        // A stdin that stays open until it exits: on Node.js 24 Blueprint's terminal UI fails its
        // final close ("readline was closed") once stdin has ended, and the run exits 1.
        stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    return { code, output };
}

/** Runs `npx blueprint run deployNetwork` against `endpoint`, writing its addresses file in `dir`. */
export async function deployNetworkTo(endpoint: string, dir: string): Promise<DeployedNetwork> {
    const file = join(dir, 'deployment.json');
    const { code, output } = await runBlueprintScript(endpoint, 'deployNetwork', [], { COCOON_DEPLOYMENT: file });
    if (code !== 0) throw new Error(`deployNetwork exited with ${code}:\n${output}`);
    const deployment = (await readDeployment(file))!;
    return { contracts: deployment.contracts as Record<string, string>, deployment, output };
}

export interface WorkerSetup {
    /** Directory for its keys, store and config. */
    dir: string;
    endpoint: string;
    staking: string;
    /** An OpenAI-compatible upstream serving `upstreamModel` (default llama-3-8b), or a GGUF file for the embedded engine. */
    backend: { upstreamUrl: string; upstreamModel?: string } | { modelPath: string };
    prices: Prices;
    stake?: string;
    /** Default: a free port. */
    port?: number;
    /** Edits the config `init` wrote before `register` (payments, log, limits...). */
    configure?: (cfg: any) => void;
}

export interface RegisteredWorker {
    configFile: string;
    port: number;
    /** The last line `register` printed. */
    registered: string;
}

/**
 * `cocoon-worker init` and `register`. The operator is the devnet's v5r1
 * wallet (clients pay from the v4 wallet, so their seqnos never collide).
 */
export async function registerWorker(o: WorkerSetup): Promise<RegisteredWorker> {
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), env: { ...process.env } };
    const port = o.port ?? (await freePort());
    const p = o.prices;
    const backend = 'modelPath' in o.backend ? ['--model-path', o.backend.modelPath] : ['--base-url', o.backend.upstreamUrl, '--upstream-model', o.backend.upstreamModel ?? 'llama-3-8b'];
    await workerCli(
        [
            'init',
            '-d',
            o.dir,
            '--endpoint',
            o.endpoint,
            '--staking',
            o.staking,
            ...backend,
            '--stake',
            o.stake ?? '12',
            '--port',
            String(port),
            '--prices',
            [p.prompt, p.cached, p.completion, p.reasoning].join(','),
        ],
        io,
    );
    const configFile = join(o.dir, 'config.json');
    const cfg = JSON.parse(await fs.readFile(configFile, 'utf8'));
    cfg.keys.walletVersion = 'v5r1';
    cfg.payoutAddress = WalletContractV5R1.create({ publicKey: (await mnemonicToPrivateKey(DEVNET_MNEMONIC.split(' '))).publicKey }).address.toString();
    cfg.log = { level: 'warn' };
    o.configure?.(cfg);
    writeSecretFile(configFile, JSON.stringify(cfg), { overwrite: true });
    await workerCli(['register', '-c', configFile], io);
    return { configFile, port, registered: lines.at(-1) ?? '' };
}
