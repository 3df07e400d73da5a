/**
 * The whole Cocoon network on one machine, as `npm start` runs it:
 *
 *   1. a devnet (the toncenter v2 API over @ton/sandbox, devnet/);
 *   2. the contracts, deployed by `scripts/deployNetwork.ts` through
 *      Blueprint's own toncenter provider, exactly as on testnet, with the
 *      served model (its one allowed model) allow-listed through the
 *      Registry timelock (the devnet's clock is advanced past the delay);
 *   3. a worker (`cocoon-worker init`, `register`, `start`) with simulated
 *      attestation signed by the public development key;
 *   4. the gateway (`cocoon-client gateway`), paying from the development
 *      wallet.
 *
 * The worker and the gateway run as child processes of the installed
 * commands, so their logs and shutdown are what a GPU owner or an app
 * developer sees. `stop()` asks each child to stop (SIGTERM), waits a
 * bounded time, then kills what is left, and saves the chain last.
 *
 * Every step checks what is already there, so a second `npm start` over the
 * saved chain reuses the deployment, the allow-listing, the worker's keys
 * and stake and the gateway's channels.
 */
import { WriteStream, createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNetworkProvider } from '@ton/blueprint';
import { mnemonicToPrivateKey } from '@ton/crypto';
import { WalletContractV5R1 } from '@ton/ton';
import { writeSecretFile } from '../../helpers/secretFile';
import { modelIdOf } from '../../protocol/paidRequest';
import { RunningDevnet, startDevnet } from '../../devnet/server';
import { DEVNET_MNEMONIC } from '../../wrappers/devnet';
import { writeDemoModel } from '../../worker/src/inference/demoModel';
import { hashModelFile } from '../../worker/src/inference/modelHash';
import { run as deployNetwork } from '../deployNetwork';
import { hex256 } from '../../helpers/bytes';
import { ScriptedUI } from '../lib/sandboxProvider';
import { BINS, Daemon, runCommand } from '../lib/daemon';
import { LocalNetworkOptions, ModelSource } from './localOptions';

export interface LocalNetwork {
    devnet: RunningDevnet;
    contracts: Record<string, string>;
    modelName: string;
    modelId: bigint;
    /** The worker's public URL and its WorkerStake. */
    workerUrl: string;
    /** The gateway console, the worker's dashboard and the devnet explorer (pages for a browser). */
    consoleUrl: string;
    dashboardUrl: string;
    explorerUrl: string;
    workerStake: string;
    /** The gateway's base URL, e.g. http://127.0.0.1:8080/v1 */
    baseUrl: string;
    /** Shell file exporting COCOON_ENDPOINT, COCOON_STAKING and COCOON_REGISTRY for the CLIs. */
    envFile: string;
    /** The working directory (chain, worker, gateway ledger). */
    dataDir: string;
    /** Where the children's logs and the deployment's output are written. */
    logDir: string;
    /** Settles with a description when a child exits without being asked to. */
    childFailed: Promise<string>;
    /** Stops the gateway, then the worker, then the devnet; resolves when all are down. */
    stop(): Promise<void>;
}

export async function startLocalNetwork(o: LocalNetworkOptions): Promise<LocalNetwork> {
    const { report } = o;
    mkdirSync(o.dir, { recursive: true });
    const logDir = join(o.dir, 'logs');
    mkdirSync(logDir, { recursive: true });
    const logFile = (name: string) => join(logDir, `${name}.log`);
    // One append stream per log, opened once: a child's every log line passes through here.
    const logs = new Map<string, WriteStream>();
    const log = (name: string) => {
        let stream = logs.get(name);
        if (!stream) logs.set(name, (stream = createWriteStream(logFile(name), { flags: 'a' })));
        return stream;
    };
    // Children's output, whole lines, to their log file (and to childLine, which may summarise).
    const pending = new Map<string, string>();
    const forward = (name: string, chunk: string) => {
        log(name).write(chunk);
        const lines = ((pending.get(name) ?? '') + chunk).split('\n');
        pending.set(name, lines.pop()!);
        for (const line of lines) o.childLine?.(name, line);
    };
    const children: Daemon[] = [];
    report.phase(`starting the devnet on port ${o.devnetPort}${o.statePath ? ` (chain saved in ${o.statePath})` : ''}`);
    const devnet = await startDevnet({ port: o.devnetPort, state: o.statePath, logLevel: 'warn' });
    let stopping: Promise<void> | undefined;
    const stop = () =>
        (stopping ??= (async () => {
            // The gateway first (no new requests), then the worker (claims what it holds), the chain last.
            for (const c of [...children].reverse()) await c.stop().catch(() => undefined);
            await devnet.close();
            await Promise.all([...logs.values()].map((stream) => new Promise<void>((done) => stream.end(done))));
        })());
    const interrupted = () => {
        if (o.signal?.aborted) throw new Error('interrupted: stopped what had started');
    };
    o.signal?.addEventListener('abort', () => void stop(), { once: true });

    try {
        // The model, allow-listed with the network by its id: the GGUF file's SHA-256, or the hash of the upstream's model name.
        let modelPath: string | undefined;
        let modelId: bigint;
        if (o.model.kind === 'openai') modelId = modelIdOf(o.modelName);
        else {
            modelPath = o.model.kind === 'gguf' ? o.model.path : join(o.dir, 'demo-model.gguf');
            if (o.model.kind === 'demo' && !existsSync(modelPath)) writeDemoModel(modelPath, { seed: 42 });
            if (!existsSync(modelPath)) throw new Error(`no GGUF file at ${modelPath}`);
            modelId = modelIdOf(await hashModelFile(modelPath));
        }
        report.phase(
            `deploying the contracts and allow-listing model ${o.modelName} (${hex256(modelId)}) with scripts/deployNetwork.ts (Blueprint toncenter provider, the devnet's clock advanced past the governance timelock; its output: ${logFile('deploy')})`,
        );
        // Exactly what `npx blueprint run deployNetwork --custom <endpoint> --custom-version v2 --custom-type custom --mnemonic` builds.
        process.env.WALLET_MNEMONIC = DEVNET_MNEMONIC;
        process.env.WALLET_VERSION = 'v4r2';
        const deploymentFile = join(o.dir, 'deployment.json');
        process.env.COCOON_DEPLOYMENT = deploymentFile;
        const args = { _: [], '--custom': devnet.endpoint, '--custom-version': 'v2', '--custom-type': 'custom', '--mnemonic': true };
        // Its progress lines go to the deployment log.
        const deployLog = (line: string) => log('deploy').write(line + '\n');
        const provider = await createNetworkProvider(new ScriptedUI([], deployLog), args as unknown as Parameters<typeof createNetworkProvider>[1], undefined);
        const { deployment } = await deployNetwork(provider, [], { id: modelId, name: o.modelName });
        const contracts = deployment.contracts as Record<string, string>;
        report.note(`Registry ${contracts.registry}, Staking ${contracts.staking}`);

        interrupted();
        // 3. The worker: keys and config once, then register (stake + simulated attestation) and serve.
        const env = { ...process.env, COCOON_LOG_LEVEL: undefined };
        const workerDir = join(o.dir, 'worker');
        const workerConfig = join(workerDir, 'config.json');
        report.phase(`starting a worker on port ${o.workerPort} (${o.model.kind === 'openai' ? `upstream ${o.model.baseUrl}` : `embedded engine on ${modelPath}`}; its log: ${logFile('worker')})`);
        if (!existsSync(workerConfig)) {
            const backendArgs = o.model.kind === 'openai' ? ['--base-url', o.model.baseUrl, '--model-name', o.modelName, '--upstream-model', o.model.upstreamModel] : ['--model-path', modelPath!];
            await runCommand(
                BINS.worker,
                [
                    'init',
                    '-d',
                    workerDir,
                    '--endpoint',
                    devnet.endpoint,
                    '--staking',
                    contracts.staking,
                    ...backendArgs,
                    '--stake',
                    '12',
                    '--port',
                    String(o.workerPort),
                    '--prices',
                    o.prices.join(','),
                ],
                env,
            );
        }
        // The endpoint and port follow this run's settings; the worker pays its gas from the devnet's v5r1 wallet (the gateway pays from v4).
        const cfg = JSON.parse(readFileSync(workerConfig, 'utf8'));
        cfg.network.endpoint = devnet.endpoint;
        cfg.contracts.staking = contracts.staking;
        cfg.http = { ...cfg.http, port: o.workerPort };
        cfg.operator = { ...cfg.operator, port: o.operatorPort };
        delete cfg.http.publicUrl;
        cfg.keys.walletVersion = 'v5r1';
        cfg.payoutAddress = WalletContractV5R1.create({ publicKey: (await mnemonicToPrivateKey(DEVNET_MNEMONIC.split(' '))).publicKey }).address.toString();
        if (cfg.backend.kind === 'embedded') cfg.backend = { ...cfg.backend, threads: o.threads };
        cfg.log = { level: 'info' };
        writeSecretFile(workerConfig, JSON.stringify(cfg, null, 2) + '\n', { overwrite: true });
        report.note('registering: stake 12 TON through Staking, attestation through the AttestationVerifier');
        const registered = await runCommand(BINS.worker, ['register', '-c', workerConfig], env);
        const workerStake = /WorkerStake (\S+):/.exec(registered)?.[1] ?? '';
        report.note(registered.trim().split('\n').pop()!);
        const worker = Daemon.spawn('worker', BINS.worker, ['start', '-c', workerConfig], { env, onOutput: (c) => forward('worker', c) });
        children.push(worker);
        const workerUrl = await worker.listening(180_000);
        const dashboardUrl = (await worker.waitFor(/dashboard: (http:\S+)/, "the worker's dashboard", 30_000))[1];

        interrupted();
        // 4. The gateway.
        report.phase(`starting the gateway on port ${o.gatewayPort} (its log: ${logFile('gateway')})`);
        const gateway = Daemon.spawn('gateway', BINS.client, ['gateway', '-d', join(o.dir, 'client'), '--endpoint', devnet.endpoint, '--staking', contracts.staking, '--port', String(o.gatewayPort)], {
            env,
            onOutput: (c) => forward('gateway', c),
        });
        children.push(gateway);
        const baseUrl = await gateway.listening(120_000);
        interrupted();
        // A child that exits without being asked to is reported to the caller, which stops the rest.
        const childFailed = new Promise<string>((resolve) => {
            for (const c of children)
                void c.exited.then((code) => {
                    if (!stopping) resolve(`the ${c.name} exited unexpectedly (exit code ${code}); its log: ${logFile(c.name)}\n${c.tail()}`);
                });
        });
        // For the CLIs in another terminal: `source <dir>/env.sh`.
        const envFile = join(o.dir, 'env.sh');
        writeFileSync(
            envFile,
            [
                `export COCOON_ENDPOINT=${devnet.endpoint}`,
                `export COCOON_STAKING=${contracts.staking}`,
                `export COCOON_REGISTRY=${contracts.registry}`,
                '# The devnet owner wallet (a public development mnemonic, funded only on local networks), for `npx blueprint run ... --mnemonic`.',
                `export WALLET_MNEMONIC="${DEVNET_MNEMONIC}"`,
                'export WALLET_VERSION=v4r2',
                '',
            ].join('\n'),
        );
        const consoleUrl = baseUrl.replace(/\/v1$/, '/');
        return {
            devnet,
            contracts,
            modelName: o.modelName,
            modelId,
            workerUrl,
            workerStake,
            baseUrl,
            consoleUrl,
            dashboardUrl,
            explorerUrl: `${devnet.url}/explorer/`,
            envFile,
            dataDir: o.dir,
            logDir,
            childFailed,
            stop,
        };
    } catch (e) {
        await stop();
        interrupted();
        throw e;
    }
}

/** What `npm start` prints once everything is up. */
export function describeLocalNetwork(n: LocalNetwork, model: ModelSource): string {
    const lines = [
        '',
        'Cocoon is running on a local devnet:',
        `  gateway console        ${n.consoleUrl}   (open in a browser: network, channels, spend, playground)`,
        `  worker dashboard       ${n.dashboardUrl}   (earnings, claims, attestation, refusals)`,
        `  devnet explorer        ${n.explorerUrl}   (transactions, decoded messages, exit codes)`,
        `  OpenAI-compatible API  ${n.baseUrl}   (no API key needed)`,
        `  model                  ${n.modelName}`,
        `  worker                 ${n.workerUrl}   WorkerStake ${n.workerStake}`,
        `  toncenter API          ${n.devnet.endpoint}`,
        `  Registry               ${n.contracts.registry}`,
        `  Staking                ${n.contracts.staking}`,
        `  Escrow                 ${n.contracts.escrow}`,
        `  logs                   ${n.logDir}/ (worker.log, gateway.log, deploy.log); here, one line per request served`,
        '',
        'Try it:',
        `  curl ${n.baseUrl}/chat/completions -H 'content-type: application/json' \\`,
        `    -d '{"model":"${n.modelName}","messages":[{"role":"user","content":"Hello!"}],"max_tokens":32}'`,
        '',
        `  node -e 'const OpenAI = require("openai"); new OpenAI({ baseURL: "${n.baseUrl}", apiKey: "none" })`,
        `    .chat.completions.create({ model: "${n.modelName}", messages: [{ role: "user", content: "Hello!" }], max_tokens: 32 })`,
        `    .then((r) => console.log(r.choices[0].message.content, r.usage, r.cost))'`,
        '',
        "Each answer carries its usage, its cost in nanoTON and the worker's signed receipt; the gateway pays",
        'the worker by voucher only after verifying it. In another terminal:',
        `  source ${n.envFile}`,
        `  npm run client -- channels -d ${join(n.dataDir, 'client')}     # the gateway's channel, receipts and vouchers`,
        `  npm run worker -- status -c ${join(n.dataDir, 'worker', 'config.json')}   # the worker's stake, earnings, claims`,
    ];
    if (model.kind === 'demo')
        lines.push(
            '',
            'NOTE: the demo model is generated in code with RANDOM weights (plus a character bigram head): it runs',
            'the real llama.cpp engine but writes gibberish. To serve a real model:',
            '  COCOON_MODEL_PATH=/path/to/model.gguf npm start                   (the embedded engine on your GGUF file)',
            '  COCOON_UPSTREAM_URL=http://127.0.0.1:8000 COCOON_UPSTREAM_MODEL=<name> npm start',
            '                                                                    (any OpenAI-compatible server: vLLM, llama-server...)',
            'Use a fresh COCOON_LOCAL_DIR (or delete temp/local) when switching models.',
        );
    lines.push('', 'Ctrl-C (or SIGTERM to this process) stops the gateway, the worker and the devnet.');
    return lines.join('\n');
}
