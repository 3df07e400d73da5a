import { Address, Sender } from '@ton/core';
import { TonClient } from '@ton/ton';
import type { Logger } from 'pino';
import { modelIdOf } from '../../protocol/paidRequest';
import type { Prices } from '../../wrappers/receipt';
import { keyToInt } from '../../wrappers/voucher';
import { devnetExplorerOf } from '../../wrappers/devnet';
import { AttestationProvider, Evidence, SevSnpProvider, SimulatedProvider, SimulatedSevSnpProvider, TdxProvider, attestationDocument, readDevKey } from './attestation';
import { ChainView } from './chain';
import { ContractOpener, tonClientOpener } from '../../wrappers/toncenter';
import { Claimer } from './claimer';
import type { WorkerConfig } from './config';
import { createBackend } from './inference';
import type { InferenceBackend } from './inference/types';
import { WorkerKeys, loadKeys } from './keys';
import { createLogger, sanitize } from './log';
import { WorkerMetrics } from './metrics';
import { OperatorServer, buildOperatorServer } from './operator';
import { Payments } from './payments';
import { WorkerPricing } from './pricing';
import { CooperativeClose } from './cooperativeClose';
import { RegisterOptions, attest, workerStakeAddress } from './register';
import { WorkerServer, buildServer } from './server';
import { WorkerStore } from './store/store';
import { OperatorWallet, readMnemonic } from '../../wrappers/wallet';

/**
 * The testable core of the daemon: `createWorker(config, deps)` wires the
 * parts together; `start()` serves, claims and re-attests; `stop()` shuts
 * down within `config.shutdownTimeoutMs`. Anything in `deps` replaces what
 * the config would build (tests pass a sandbox chain, a backend, keys).
 */
export interface WorkerDeps {
    logger?: Logger;
    backend?: InferenceBackend;
    keys?: WorkerKeys;
    opener?: ContractOpener;
    /** Operator wallet sender and address (claims, re-attestation). */
    sender?: Sender;
    owner?: Address;
    /** This worker's WorkerStake (default: derived from Staking, owner and receipt key). */
    workerStake?: Address;
    /** The host clock, unix seconds (default: the wall clock); receipts are stamped with it. */
    hostNow?: () => number;
    attestationProvider?: AttestationProvider;
    /** Chain time, unix seconds (default: the wall clock). */
    chainNow?: () => Promise<number>;
}

export interface Worker {
    readonly config: WorkerConfig;
    readonly store: WorkerStore;
    readonly payments: Payments;
    readonly claimer: Claimer;
    readonly server: WorkerServer;
    readonly metrics: WorkerMetrics;
    readonly backend: InferenceBackend;
    readonly workerStake: Address;
    readonly keys: WorkerKeys;
    readonly chain: ChainView;
    /** Base URL once listening. */
    url: string;
    /** The operator's dashboard once listening (when the config has an operator interface). */
    operatorUrl?: string;
    start(): Promise<string>;
    stop(): Promise<void>;
    /** Re-attests now when the recorded attestation is near its end. */
    reattestIfDue(): Promise<boolean>;
    evidence(): Evidence | undefined;
}

export function providerFromConfig(config: WorkerConfig): AttestationProvider {
    const a = config.attestation;
    if (a.provider === 'simulated') return new SimulatedProvider(readDevKey(a.devKeyPath));
    if (a.provider === 'sev-snp') return new SevSnpProvider(a.configfsPath, a.vcekPath, a.certChainPath);
    if (a.provider === 'simulated-sev-snp') return new SimulatedSevSnpProvider();
    return new TdxProvider(a.configfsPath);
}

/** Opens the operator wallet named by the config on a TonClient. */
export async function walletFromConfig(config: WorkerConfig, client: TonClient): Promise<OperatorWallet> {
    return OperatorWallet.open(client, await readMnemonic(config.keys.walletMnemonicPath), config.keys.walletVersion);
}

export function tonClientFor(config: WorkerConfig): TonClient {
    return new TonClient({ endpoint: config.network.endpoint, apiKey: config.network.apiKey });
}

export async function createWorker(config: WorkerConfig, deps: WorkerDeps = {}): Promise<Worker> {
    const logger = deps.logger ?? createLogger({ level: config.log.level });
    logger.info({ config: sanitize(config) }, 'configuration');
    const keys = deps.keys ?? loadKeys(config.keys);
    let opener = deps.opener;
    let sender = deps.sender;
    let owner = deps.owner;
    if (!opener || ((!sender || !owner) && !deps.workerStake)) {
        const client = tonClientFor(config);
        opener ??= tonClientOpener(client);
        if (!sender || !owner) {
            const wallet = await walletFromConfig(config, client);
            sender ??= wallet.sender();
            owner ??= wallet.address;
        }
    }
    const staking = Address.parse(config.contracts.staking);
    const workerStake = deps.workerStake ?? (await workerStakeAddress(staking, owner!, keys.receipt.publicKey));
    if (owner && !Address.parse(config.payoutAddress).equals(owner))
        logger.warn({ payoutAddress: config.payoutAddress, owner: owner.toString() }, 'payoutAddress differs from the operator wallet: payouts go to the wallet that owns the WorkerStake');
    const hostNow = deps.hostNow ?? (() => Math.floor(Date.now() / 1000));
    const chain = new ChainView(opener, undefined, undefined, hostNow);
    const chainNow = deps.chainNow ?? (async () => hostNow());
    const pricing = new WorkerPricing({ chain, workerStake });
    const store = WorkerStore.open(config.store.path);
    try {
        store.bindWorkerKey(keys.receipt.publicKey.toString('hex'));
    } catch (e) {
        store.close();
        throw e;
    }
    const backend = deps.backend ?? (await createBackend(config.backend));
    const ownsBackend = !deps.backend;
    const metrics = new WorkerMetrics(store);
    const payments = new Payments({ store, chain, workerStake, receiptKey: keys.receipt, pricing, creditLimit: config.payments.creditLimit, now: hostNow });
    const claimer = new Claimer({
        store,
        chain,
        sender: sender ?? { address: undefined, send: async () => Promise.reject(new Error('no operator wallet configured')) },
        logger: logger.child({ part: 'claimer' }),
        metrics,
        threshold: config.payments.claimThreshold,
        intervalMs: config.payments.watchIntervalMs,
        retryInitialMs: config.payments.claimRetryInitialMs,
        retryMaxMs: config.payments.claimRetryMaxMs,
        closeSafetyMarginSec: config.payments.closeSafetyMarginSec,
    });
    const provider = deps.attestationProvider ?? providerFromConfig(config);
    let evidence: Evidence | undefined;
    let chainModelId: bigint | undefined;

    const cooperativeClose = new CooperativeClose({ store, chain, workerStake, receiptKey: keys.receipt, inFlight: (key) => payments.inFlight(key), now: hostNow });
    const server = buildServer({
        backend,
        payments,
        cooperativeClose,
        encryptionKey: keys.encryption,
        metrics,
        logger: logger.child({ part: 'http' }),
        limits: {
            maxBodyBytes: config.http.maxBodyBytes,
            maxConcurrent: config.http.maxConcurrent,
            defaultMaxTokens: config.limits.defaultMaxTokens,
            maxTokens: config.limits.maxTokens,
            requestTimeoutMs: config.http.requestTimeoutMs,
        },
        attestation: () => (evidence ? attestationDocument(evidence, { receiptKey: keys.receipt.publicKey.toString('hex'), encryptionKey: keys.encryption.publicKey.toString('hex') }) : null),
        healthExtra: () => ({ workerStake: workerStake.toString(), attestationNotAfter: evidence ? Number(evidence.claims.notAfter) : null }),
    });

    let reattestTimer: NodeJS.Timeout | undefined;
    let stopped = false;
    let operator: OperatorServer | undefined;

    async function modelId(): Promise<bigint> {
        if (chainModelId === undefined) {
            const models = await backend.listModels();
            if (models.length === 0) throw new Error('the backend serves no model');
            chainModelId = modelIdOf(models[0].id);
        }
        return chainModelId;
    }

    function registerOptions(): RegisterOptions {
        if (!sender || !owner) throw new Error('no operator wallet configured');
        return {
            opener: opener!,
            sender,
            owner,
            staking,
            receiptPublicKey: keys.receipt.publicKey,
            encryptionPublicKey: keys.encryption.publicKey,
            modelId: chainModelId ?? 0n,
            endpoint: config.http.publicUrl ?? `http://${config.http.host}:${config.http.port}`,
            prices: config.prices,
            stake: config.registration.stake,
            provider,
            lifetimeSec: config.registration.attestationLifetimeSec,
            now: chainNow,
            logger,
        };
    }

    const worker: Worker = {
        config,
        store,
        payments,
        claimer,
        server,
        metrics,
        backend,
        workerStake,
        keys,
        chain,
        url: '',
        evidence: () => evidence,
        async start() {
            const id = await modelId();
            // The document served at /attestation: evidence for the current claims.
            evidence = await provider.attest({
                workerStake,
                workerKey: keyToInt(keys.receipt.publicKey),
                encryptionKey: keyToInt(keys.encryption.publicKey),
                modelId: id,
                notAfter: BigInt((await chainNow()) + config.registration.attestationLifetimeSec),
            });
            {
                // Receipts charge the prices on chain; say so when the config lists others.
                const ws = await chain.workerStake(workerStake).catch(() => null);
                if (!ws) logger.warn({ workerStake: workerStake.toString() }, 'the WorkerStake is not deployed: requests are refused until cocoon-worker register');
                else if (Object.entries(config.prices).some(([k, v]) => ws.prices[k as keyof Prices] !== v))
                    logger.warn({ inForce: sanitize(ws.prices), configured: sanitize(config.prices) }, 'configured prices differ from the prices in force on chain; charging the prices on chain');
                if (ws && ws.attestation && ws.attestation.modelId !== id)
                    logger.warn({ attested: ws.attestation.modelId.toString(16), served: id.toString(16) }, "the backend's first model is not the attested one: requests for it are refused");
            }
            await server.app.listen({ host: config.http.host, port: config.http.port });
            const addr = server.app.server.address();
            const port = typeof addr === 'object' && addr ? addr.port : config.http.port;
            worker.url = `http://${config.http.host}:${port}`;
            if (config.operator) {
                operator = buildOperatorServer({
                    store,
                    metrics,
                    backend,
                    chain,
                    workerStake,
                    attestationNotAfter: () => (evidence ? Number(evidence.claims.notAfter) : null),
                    publicUrl: () => worker.url,
                    explorer: await devnetExplorerOf(config.network.endpoint),
                    token: config.operator.token,
                    allowedHosts: config.operator.allowedHosts,
                });
                // The dashboard is for the operator's eyes: a port it cannot have does not stop the worker serving.
                try {
                    await operator.app.listen({ host: config.operator.host, port: config.operator.port });
                    const at = operator.app.server.address();
                    worker.operatorUrl = `http://${config.operator.host}:${typeof at === 'object' && at ? at.port : config.operator.port}`;
                } catch (e) {
                    logger.warn({ err: e, port: config.operator.port }, 'the worker dashboard cannot listen; serving without it (set operator.port)');
                    await operator.close();
                    operator = undefined;
                }
            }
            claimer.start();
            pricing.start(60_000);
            if (sender && owner) {
                const every = Math.max(10_000, Math.min(config.attestation.reattestBeforeSec * 250, 600_000));
                const loop = () => {
                    if (stopped) return;
                    worker
                        .reattestIfDue()
                        .catch((e) => logger.warn({ err: e }, 're-attestation failed'))
                        .finally(() => {
                            if (!stopped) reattestTimer = setTimeout(loop, every);
                        });
                };
                reattestTimer = setTimeout(loop, every);
                reattestTimer.unref?.();
            }
            logger.info({ url: worker.url, workerStake: workerStake.toString(), modelId: id.toString(16) }, 'worker listening');
            return worker.url;
        },
        async reattestIfDue() {
            const ws = await chain.workerStake(workerStake, true);
            if (!ws) return false;
            const now = await chainNow();
            const expires = ws.attestation ? Number(ws.attestation.expiresAt) : 0;
            if (expires - now > config.attestation.reattestBeforeSec) return false;
            logger.info({ expiresAt: expires }, 're-attesting');
            await modelId();
            const r = await attest(registerOptions(), workerStake);
            evidence = r.evidence;
            chain.invalidate(workerStake);
            return true;
        },
        async stop() {
            if (stopped) return;
            stopped = true;
            if (reattestTimer) clearTimeout(reattestTimer);
            pricing.stop();
            const deadline = Date.now() + config.shutdownTimeoutMs;
            const left = () => Math.max(0, deadline - Date.now());
            server.drain();
            // In-flight requests get half the budget to finish, then are cut:
            // each still ends with its receipt for what was delivered.
            if (!(await server.idle(left() / 2))) {
                logger.warn({ active: server.active }, 'cutting in-flight requests');
                server.cutInFlight();
                await server.idle(Math.min(left(), 5000));
            }
            await server.app.close();
            await operator?.close();
            await claimer.stop();
            try {
                await Promise.race([
                    claimer.claimAll(),
                    new Promise((_, reject) => setTimeout(() => reject(new Error('claims did not finish before the shutdown deadline')), Math.max(1000, left())).unref()),
                ]);
            } catch (e) {
                logger.warn({ err: e }, 'shutdown claims incomplete; they are retried at the next start');
            }
            if (ownsBackend) await backend.close();
            store.close();
            logger.info('worker stopped');
        },
    };
    return worker;
}
