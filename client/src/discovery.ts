import { Address } from '@ton/core';
import { modelIdOf } from '../../protocol/paidRequest';
import { EvidenceTee, ExtendedAttestationVerifier } from '../../wrappers/AttestationVerifier';
import { ExtendedRegistry } from '../../wrappers/Registry';
import { ExtendedStaking } from '../../wrappers/Staking';
import { ExtendedWorkerStake, isActive, pricesInForce } from '../../wrappers/WorkerStake';
import type { Prices } from '../../wrappers/receipt';
import type { ContractOpener } from '../../wrappers/toncenter';
import { hex256 } from '../../helpers/bytes';

/**
 * Discovery (DESIGN.md section 6): the workers Staking lists for a model,
 * each checked against its own WorkerStake (active, attested for this model,
 * attestation not expired) and against the attestation document the worker
 * serves, which must name the same stake, keys, model and image as the
 * chain. Only workers passing every check are returned.
 */

export interface WorkerInfo {
    workerStake: Address;
    owner: Address;
    /** Attested Ed25519 receipt key. */
    workerKey: Buffer;
    /** Attested X25519 key requests are sealed to. */
    encryptionKey: Buffer;
    endpoint: string;
    modelId: bigint;
    /** The model name requests to this worker carry. */
    model: string;
    prices: Prices;
    imageHash: bigint;
    expiresAt: number;
    /** The hardware its attestation rests on, as the AttestationVerifier's key caches tell it. */
    tee: EvidenceTee;
    /**
     * What the worker says of completion tokens: the default a chat request
     * without max_tokens gets, and the most one may ask for. Advisory (the
     * worker's admission decides); absent when it does not say.
     */
    limits?: { defaultMaxTokens: number; maxTokens: number };
}

export interface RejectedWorker {
    workerStake: string;
    reason: string;
}

export function keyBuf(v: bigint): Buffer {
    return Buffer.from(hex256(v), 'hex');
}

export class Discovery {
    constructor(
        private readonly opener: ContractOpener,
        private readonly staking: Address,
        private readonly options: { now?: () => number; fetchTimeoutMs?: number } = {},
    ) {}

    private now(): number {
        return this.options.now?.() ?? Math.floor(Date.now() / 1000);
    }

    private modelsCache?: { at: number; list: Promise<Array<{ id: bigint; name: string }>> };

    /**
     * The on-chain model id of an app's model name, and the name to send the
     * worker. A 64-hex-digit name is the id itself; a Registry name whose id
     * is not the hash of the name (a GGUF file's SHA-256, say) is sent to the
     * worker as that id in hex, the name every worker knows its model by.
     */
    async resolve(model: string): Promise<{ id: bigint; wire: string }> {
        if (/^(0x)?[0-9a-fA-F]{64}$/.test(model)) return { id: modelIdOf(model), wire: model.replace(/^0x/, '').toLowerCase() };
        if (!this.modelsCache || Date.now() - this.modelsCache.at > 60_000) {
            const list = this.allowedModels();
            this.modelsCache = { at: Date.now(), list };
            list.catch(() => (this.modelsCache = undefined));
        }
        const m = (await this.modelsCache.list.catch(() => [] as Array<{ id: bigint; name: string }>)).find((x) => x.name === model);
        if (m && m.id !== modelIdOf(model)) return { id: m.id, wire: hex256(m.id) };
        return { id: modelIdOf(model), wire: model };
    }

    private registryAddress?: Promise<Address>;
    private verifierAddress?: { at: number; address: Promise<Address | null> };

    /** The Registry that Staking reports to (read once). */
    private registry() {
        if (!this.registryAddress) {
            this.registryAddress = this.opener.open(ExtendedStaking.fromAddress(this.staking)).getRegistry();
            this.registryAddress.catch(() => (this.registryAddress = undefined));
        }
        return this.registryAddress.then((a) => this.opener.open(ExtendedRegistry.fromAddress(a)));
    }

    /**
     * The hardware an attestation's evidence key belongs to (the verifier the
     * Registry links, read once a minute). It only labels the worker, so a
     * failed read gives 'unknown' rather than rejecting it.
     */
    async evidenceTee(evidenceKeyId: bigint): Promise<EvidenceTee> {
        if (evidenceKeyId === 0n) return 'simulated';
        if (!this.verifierAddress || Date.now() - this.verifierAddress.at > 60_000) {
            const address = this.registry().then(async (r) => (await r.getLinks()).verifier);
            this.verifierAddress = { at: Date.now(), address };
            address.catch(() => (this.verifierAddress = undefined));
        }
        try {
            const verifier = await this.verifierAddress.address;
            if (!verifier) return 'unknown';
            return await this.opener.open(ExtendedAttestationVerifier.fromAddress(verifier)).getEvidenceTee(evidenceKeyId);
        } catch {
            return 'unknown';
        }
    }

    /** Model names allow-listed in the Registry that Staking reports to. */
    async allowedModels(): Promise<Array<{ id: bigint; name: string }>> {
        const registry = await this.registry();
        const out: Array<{ id: bigint; name: string }> = [];
        for (const [id, allowed] of await registry.getModels()) {
            if (!allowed) continue;
            const info = await registry.getModel(id);
            if (info && info.enabled) out.push({ id, name: info.name });
        }
        return out;
    }

    /** Workers of `model` that pass every on-chain and attestation check. */
    async workers(model: string): Promise<{ workers: WorkerInfo[]; rejected: RejectedWorker[] }> {
        const { id: modelId, wire } = await this.resolve(model);
        const staking = this.opener.open(ExtendedStaking.fromAddress(this.staking));
        const entries = await staking.getAllActiveWorkers(modelId);
        const workers: WorkerInfo[] = [];
        const rejected: RejectedWorker[] = [];
        await Promise.all(
            entries.map(async (e) => {
                try {
                    workers.push(await this.check(e.worker, wire, modelId));
                } catch (err) {
                    rejected.push({ workerStake: e.worker.toString(), reason: (err as Error).message });
                }
            }),
        );
        workers.sort((a, b) => a.workerStake.toString().localeCompare(b.workerStake.toString()));
        return { workers, rejected };
    }

    /** Reads and checks one WorkerStake and its worker's /attestation (`model`: the name sent to the worker). Throws with the reason on failure. */
    async check(address: Address, model: string, modelId = modelIdOf(model)): Promise<WorkerInfo> {
        // One read of the state: every check below is of the same block.
        const state = await this.opener.open(ExtendedWorkerStake.fromAddress(address)).getState();
        if (!isActive(state)) throw new Error('not active');
        const att = state.attestation;
        if (!att) throw new Error('no attestation on chain');
        if (Number(att.expiresAt) <= this.now()) throw new Error('attestation expired');
        if (att.modelId !== modelId || state.modelId !== modelId) throw new Error('attested for another model');
        const listing = state.listing;
        if (!listing) throw new Error('the WorkerStake has no listing: it was never staked');
        const p = pricesInForce(state);
        const info: WorkerInfo = {
            workerStake: address,
            owner: state.owner,
            workerKey: keyBuf(state.workerKey),
            encryptionKey: keyBuf(att.encryptionKey),
            endpoint: listing.endpoint.replace(/\/+$/, ''),
            modelId,
            model,
            prices: { prompt: p.prompt, cached: p.cached, completion: p.completion, reasoning: p.reasoning },
            imageHash: att.imageHash,
            expiresAt: Number(att.expiresAt),
            tee: await this.evidenceTee(att.evidenceKeyId),
        };
        await this.crossCheck(info);
        return info;
    }

    /** The worker's /attestation must name exactly what the chain attested. */
    async crossCheck(w: WorkerInfo): Promise<void> {
        let doc: any;
        try {
            const res = await fetch(`${w.endpoint}/attestation`, { signal: AbortSignal.timeout(this.options.fetchTimeoutMs ?? 10_000) });
            if (res.status !== 200) throw new Error(`status ${res.status}`);
            doc = await res.json();
        } catch (e) {
            throw new Error(`attestation document unavailable: ${(e as Error).message}`);
        }
        const c = doc?.claims ?? {};
        const same = (a: unknown, b: string) => typeof a === 'string' && a.toLowerCase() === b;
        let stakeOk = false;
        try {
            stakeOk = Address.parse(String(c.workerStake)).equals(w.workerStake);
        } catch {
            stakeOk = false;
        }
        if (!stakeOk) throw new Error('attestation names another WorkerStake');
        if (!same(c.workerKey, w.workerKey.toString('hex'))) throw new Error('attestation names another receipt key');
        if (!same(c.encryptionKey, w.encryptionKey.toString('hex'))) throw new Error('attestation names another encryption key');
        if (!same(c.modelId, hex256(w.modelId))) throw new Error('attestation names another model');
        if (!same(doc.imageHash, hex256(w.imageHash))) throw new Error('attestation names another image');
        w.limits = tokenLimitsOf(doc.limits);
    }
}

/** The worker's stated completion-token limits, when it states them sensibly (positive integers, the default within the cap). */
function tokenLimitsOf(v: any): WorkerInfo['limits'] {
    const ok = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) > 0;
    if (!ok(v?.defaultMaxTokens) || !ok(v?.maxTokens) || v.defaultMaxTokens > v.maxTokens) return undefined;
    return { defaultMaxTokens: v.defaultMaxTokens, maxTokens: v.maxTokens };
}
