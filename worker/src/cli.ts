import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { Address, fromNano, toNano } from '@ton/core';
import { mnemonicNew, mnemonicToPrivateKey } from '@ton/crypto';
import { WalletContractV4 } from '@ton/ton';
import { writeSecretFile } from '../../helpers/secretFile';
import { modelIdOf } from '../../protocol/paidRequest';
import { DEFAULT_MODEL_NAME, DEVNET_MNEMONIC } from '../../wrappers/devnet';
import { ExtendedWorkerStake, STATUS_NAMES } from '../../wrappers/WorkerStake';
import { ChainView } from './chain';
import { tonClientOpener } from '../../wrappers/toncenter';
import { Claimer } from './claimer';
import { WorkerConfig, WorkerConfigInput, loadConfig } from './config';
import { hashModelFile, writeDemoModel } from './inference';
import { OpenAiBackend } from './inference/openai';
import { initKeys, loadKeys } from './keys';
import { createLogger } from './log';
import { register, workerStakeAddress } from './register';
import { WorkerStore } from './store/store';
import { createWorker, providerFromConfig, tonClientFor, walletFromConfig } from './worker';
import { cocoonVersion } from '../../helpers/version';
import { stopWithParentIfAsked } from '../../helpers/parentWatch';

/**
 * `cocoon-worker`: the thin command-line entry over the testable core.
 * Every command reads the same config file (`-c`, or COCOON_WORKER_CONFIG,
 * or ./.cocoon-worker/config.json, where `init` writes it) plus COCOON_WORKER__*
 * environment overrides.
 */

export interface CliIo {
    out: (line: string) => void;
    env: NodeJS.ProcessEnv;
}

/** The seed of the development simulated-attestation key (wrappers/devnet.ts). */
const DEV_ATTESTATION_SEED = createHash('sha256').update('cocoon-dev-simulated-attestation-key').digest('hex');

async function chainModelId(config: WorkerConfig): Promise<bigint> {
    if (config.backend.kind === 'embedded') return modelIdOf(await hashModelFile(config.backend.modelPath));
    const names = Object.keys(config.backend.modelMap);
    if (names.length > 0) return modelIdOf(names[0]);
    const b = new OpenAiBackend({ baseUrl: config.backend.baseUrl, apiKey: config.backend.apiKey });
    const models = await b.listModels();
    if (models.length === 0) throw new Error('the upstream lists no model');
    return modelIdOf(models[0].id);
}

/** Where `init` puts keys, store and config, and where every other command looks for the config. */
const DEFAULT_DIR = '.cocoon-worker';
const DEFAULT_CONFIG = join(DEFAULT_DIR, 'config.json');

export function buildCli(io: CliIo = { out: (l) => console.log(l), env: process.env }): Command {
    const program = new Command('cocoon-worker').description('Cocoon GPU worker: attested, paid, encrypted inference').version(cocoonVersion()).exitOverride();
    const configPath = (opts: { config?: string }) => resolve(opts.config ?? io.env.COCOON_WORKER_CONFIG ?? DEFAULT_CONFIG);
    const load = (opts: { config?: string }) => {
        const file = configPath(opts);
        if (!existsSync(file)) throw new Error(`no worker configuration at ${file}: run \`cocoon-worker init\` first (it writes ${DEFAULT_CONFIG}), or give -c <file> or COCOON_WORKER_CONFIG`);
        return loadConfig({ file, env: io.env });
    };
    /** The config, a TON client on its endpoint, and the operator wallet: what every on-chain command starts from. */
    const openOperator = async (opts: { config?: string }) => {
        const config = load(opts);
        const client = tonClientFor(config);
        const wallet = await walletFromConfig(config, client);
        return { config, client, wallet };
    };
    /** The operator's WorkerStake address (derived from Staking, the owner and the receipt key). */
    const ownWorkerStake = (config: WorkerConfig, owner: Address) => workerStakeAddress(Address.parse(config.contracts.staking), owner, loadKeys(config.keys).receipt.publicKey);

    program
        .command('init')
        .description('create the receipt and encryption keys (mode 0600), a wallet mnemonic and a config file')
        .option('-d, --dir <dir>', 'directory for keys, store and config', DEFAULT_DIR)
        .option('-c, --config <file>', 'config file to write (default <dir>/config.json)')
        .requiredOption('--endpoint <url>', 'toncenter v2 JSON-RPC endpoint (a devnet serves one)')
        .requiredOption('--staking <address>', 'Staking contract address')
        .option('--network <name>', 'devnet, testnet or mainnet', 'devnet')
        .option('--model-path <gguf>', 'embedded backend: GGUF model file')
        .option('--base-url <url>', 'openai backend: OpenAI-compatible server')
        .option('--model-name <name>', 'openai backend: advertised model name', DEFAULT_MODEL_NAME)
        .option('--upstream-model <name>', 'openai backend: the upstream name of the model')
        .option('--prices <p,c,o,r>', 'nanoTON per million tokens: prompt,cached,completion,reasoning', '100000000,50000000,200000000,200000000')
        .option('--stake <ton>', 'stake to hold', '10')
        .option('--port <n>', 'HTTP port', '8090')
        .option('--force', 'overwrite existing keys')
        .action(async (o) => {
            const dir = resolve(o.dir);
            mkdirSync(dir, { recursive: true, mode: 0o700 });
            const file = o.config ? resolve(o.config) : join(dir, 'config.json');
            const paths = { receiptKeyPath: join(dir, 'receipt.key'), encryptionKeyPath: join(dir, 'encryption.key') };
            const keys = initKeys(paths, { overwrite: !!o.force });
            const mnemonicPath = join(dir, 'wallet.mnemonic');
            const devnet = o.network === 'devnet';
            if (!existsSync(mnemonicPath) || o.force) {
                // On a devnet the pre-funded development wallet; elsewhere a fresh one to fund.
                const words = devnet ? DEVNET_MNEMONIC.split(' ') : await mnemonicNew(24);
                writeSecretFile(mnemonicPath, words.join(' ') + '\n', { overwrite: !!o.force });
            }
            let attestation: Record<string, unknown>;
            if (devnet) {
                const devKeyPath = join(dir, 'dev-attestation.key');
                if (!existsSync(devKeyPath) || o.force) writeSecretFile(devKeyPath, DEV_ATTESTATION_SEED + '\n', { overwrite: !!o.force });
                attestation = { provider: 'simulated', devKeyPath };
            } else attestation = { provider: 'tdx' };
            const backend = o.modelPath
                ? { kind: 'embedded', modelPath: resolve(o.modelPath) }
                : { kind: 'openai', baseUrl: o.baseUrl ?? 'http://127.0.0.1:8000', modelMap: { [o.modelName]: o.upstreamModel ?? o.modelName } };
            const [prompt, cached, completion, reasoning] = String(o.prices).split(',');
            const words = (await import('node:fs')).readFileSync(mnemonicPath, 'utf8').trim().split(/\s+/);
            const wallet = WalletContractV4.create({ workchain: 0, publicKey: (await mnemonicToPrivateKey(words)).publicKey });
            const config: WorkerConfigInput = {
                network: { name: o.network, endpoint: o.endpoint },
                contracts: { staking: Address.parse(o.staking).toString() },
                keys: { ...paths, walletMnemonicPath: mnemonicPath, walletVersion: 'v4' },
                payoutAddress: wallet.address.toString(),
                http: { port: Number(o.port) },
                // The dashboard on the port after the API's, when there is one.
                ...(Number(o.port) >= 1 && Number(o.port) < 65535 ? { operator: { port: Number(o.port) + 1 } } : {}),
                backend: backend as WorkerConfigInput['backend'],
                prices: { prompt, cached, completion, reasoning },
                attestation: attestation as WorkerConfigInput['attestation'],
                registration: { stake: toNano(o.stake).toString() },
                store: { path: join(dir, 'store.db') },
            };
            writeSecretFile(file, JSON.stringify(config, null, 2) + '\n', { overwrite: true });
            load({ config: file }); // validates what was written
            io.out(`config:          ${file}`);
            io.out(`receipt key:     ${keys.receipt.publicKey.toString('hex')}`);
            io.out(`encryption key:  ${keys.encryption.publicKey.toString('hex')}`);
            io.out(`operator wallet: ${wallet.address.toString()}${devnet ? ' (devnet development wallet)' : ' (fund it before register)'}`);
        });

    program
        .command('demo-model')
        .description('write a small generated GGUF model (for demos and tests)')
        .argument('<path>', 'output file')
        .option('--seed <n>', 'generator seed', '42')
        .action(async (path: string, o) => {
            writeDemoModel(resolve(path), { seed: Number(o.seed) });
            io.out(`model:    ${resolve(path)}`);
            io.out(`model id: ${await hashModelFile(resolve(path))}`);
        });

    program
        .command('register')
        .description('stake (or top up) through Staking and submit the attestation')
        .option('-c, --config <file>')
        .action(async (o) => {
            const { config, client, wallet } = await openOperator(o);
            const keys = loadKeys(config.keys);
            const r = await register({
                opener: tonClientOpener(client),
                sender: wallet.sender(),
                owner: wallet.address,
                staking: Address.parse(config.contracts.staking),
                receiptPublicKey: keys.receipt.publicKey,
                encryptionPublicKey: keys.encryption.publicKey,
                modelId: await chainModelId(config),
                endpoint: config.http.publicUrl ?? `http://${config.http.host}:${config.http.port}`,
                prices: config.prices,
                stake: config.registration.stake,
                provider: providerFromConfig(config),
                lifetimeSec: config.registration.attestationLifetimeSec,
                now: async () => Math.floor(Date.now() / 1000),
                logger: createLogger({ level: config.log.level }),
            });
            io.out(`WorkerStake ${r.workerStake.toString()}: ${r.status}, stake ${fromNano(r.stake)} TON (${r.staked}), attested until ${new Date(r.expiresAt * 1000).toISOString()}`);
        });

    program
        .command('start')
        .description('serve requests, claim vouchers and re-attest until stopped (SIGINT/SIGTERM)')
        .option('-c, --config <file>')
        .action(async (o) => {
            const config = load(o);
            const worker = await createWorker(config);
            await worker.start();
            io.out(`listening on ${worker.url}`);
            if (worker.operatorUrl) io.out(`dashboard: ${worker.operatorUrl}/`);
            await new Promise<void>((resolveStop) => {
                let stopping = false;
                const stop = () => {
                    if (stopping) return;
                    stopping = true;
                    worker.stop().finally(resolveStop);
                };
                process.on('SIGINT', stop);
                process.on('SIGTERM', stop);
                stopWithParentIfAsked(stop, io.env);
            });
        });

    program
        .command('status')
        .description('stake, attestation, channels, earned and unclaimed')
        .option('-c, --config <file>')
        .option('--offline', 'only the local store, no chain reads')
        .action(async (o) => {
            const config = load(o);
            const store = WorkerStore.open(config.store.path);
            try {
                if (!o.offline) {
                    const { client, wallet } = await openOperator(o);
                    const address = await ownWorkerStake(config, wallet.address);
                    const view = await new ChainView(tonClientOpener(client)).workerStake(address, true);
                    io.out(`WorkerStake ${address.toString()}`);
                    if (!view) io.out('  not deployed (run cocoon-worker register)');
                    else {
                        io.out(
                            `  status ${STATUS_NAMES[Number(view.state.status)]}, stake ${fromNano(view.state.stake)} TON, slashes ${view.state.slashes}; channels pay the owner ${view.state.owner.toString()} directly`,
                        );
                        io.out(`  attestation: ${view.attestation ? `until ${new Date(Number(view.attestation.expiresAt) * 1000).toISOString()}` : 'none'}`);
                    }
                }
                let earned = 0n;
                let unclaimed = 0n;
                for (const c of store.listChannels()) {
                    earned += c.receiptTotal;
                    unclaimed += c.unclaimed;
                    io.out(
                        `channel ${c.address} ${c.state}: ${c.receipts} receipts, charged ${fromNano(c.receiptTotal)} TON, voucher ${fromNano(c.voucherTotal)} TON, claimed ${fromNano(c.claimedTotal)} TON, unclaimed ${fromNano(c.unclaimed)} TON, unpaid ${fromNano(c.unpaid)} TON`,
                    );
                }
                io.out(`earned (receipts) ${fromNano(earned)} TON; unclaimed (vouchers) ${fromNano(unclaimed)} TON`);
            } finally {
                store.close();
            }
        });

    program
        .command('claim')
        .description('redeem every voucher with unclaimed value now')
        .option('-c, --config <file>')
        .action(async (o) => {
            const { config, client, wallet } = await openOperator(o);
            const store = WorkerStore.open(config.store.path);
            try {
                const claimer = new Claimer({
                    store,
                    chain: new ChainView(tonClientOpener(client)),
                    sender: wallet.sender(),
                    logger: createLogger({ level: config.log.level }),
                    threshold: config.payments.claimThreshold,
                    intervalMs: config.payments.watchIntervalMs,
                    retryInitialMs: config.payments.claimRetryInitialMs,
                    retryMaxMs: config.payments.claimRetryMaxMs,
                });
                const results = await claimer.claimAll();
                for (const r of results) io.out(`${r.channel}: ${r.claimed ? `claimed, paid ${fromNano(r.paid)} TON` : `not claimed: ${r.error ?? 'nothing due'}`}`);
                if (results.length === 0) io.out('nothing to claim');
            } finally {
                store.close();
            }
        });

    for (const [name, what] of [
        ['unbond', 'start unbonding the stake (the worker leaves the index)'],
        ['withdraw', 'withdraw the stake after the unbonding period'],
    ] as const) {
        program
            .command(name)
            .description(what)
            .option('-c, --config <file>')
            .action(async (o) => {
                const { config, client, wallet } = await openOperator(o);
                const address = await ownWorkerStake(config, wallet.address);
                if (!(await client.isContractDeployed(address))) throw new Error(`no WorkerStake at ${address.toString()}`);
                const ws = client.open(ExtendedWorkerStake.fromAddress(address));
                const before = await ws.getState();
                if (name === 'unbond') await ws.sendStartUnbonding(wallet.sender());
                else await ws.sendWithdraw(wallet.sender());
                const deadline = Date.now() + 60_000;
                let after = before;
                while (Date.now() < deadline) {
                    after = await ws.getState();
                    if (after.status !== before.status) break;
                    await new Promise((r) => setTimeout(r, 500));
                }
                io.out(`WorkerStake ${address.toString()}: ${STATUS_NAMES[Number(before.status)]} -> ${STATUS_NAMES[Number(after.status)]}`);
                if (after.status === before.status) throw new Error(`the WorkerStake did not change state (still ${STATUS_NAMES[Number(after.status)]})`);
            });
    }
    return program;
}

export async function main(argv: string[] = process.argv.slice(2), io?: CliIo): Promise<void> {
    await buildCli(io).parseAsync(argv, { from: 'user' });
}
