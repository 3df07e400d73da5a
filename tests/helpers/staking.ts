import '@ton/test-utils';
import { Address, beginCell, toNano } from '@ton/core';
import { KeyPair, keyPairFromSeed } from '@ton/crypto';
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { NetworkParams } from '../../wrappers/Registry';
import { ExtendedStaking, ListingInput } from '../../wrappers/Staking';
import { ExtendedWorkerStake, storeAttestationRecorded } from '../../wrappers/WorkerStake';
import { RegistryFixture, deployRegistry, linkContracts, passProposal } from './registry';

export const IMAGE = 0x1111111111111111111111111111111111111111111111111111111111111111n;
export const MODEL = 0x2222222222222222222222222222222222222222222222222222222222222222n;
export const OTHER_MODEL = 0x3333333333333333333333333333333333333333333333333333333333333333n;

/** A deterministic Ed25519 key pair for tests. */
export function workerKeys(name: string): KeyPair {
    return keyPairFromSeed(Buffer.from(name.padEnd(32, '.').slice(0, 32)));
}

export function keyInt(k: Buffer): bigint {
    return BigInt('0x' + k.toString('hex'));
}

export const PRICES = { prompt: 1_000_000n, cached: 100_000n, completion: 3_000_000n, reasoning: 3_000_000n };

export function listing(over: Partial<ListingInput> = {}): ListingInput {
    return { modelId: MODEL, endpoint: 'https://worker.example:8443', encryptionKey: 0xe1n, prices: PRICES, ...over };
}

export interface StakingFixture extends RegistryFixture {
    staking: SandboxContract<ExtendedStaking>;
    verifier: SandboxContract<TreasuryContract>;
    provider: SandboxContract<TreasuryContract>;
    reporter: SandboxContract<TreasuryContract>;
    keys: KeyPair;
    workerKey: bigint;
}

/**
 * A Registry on devnet parameters with one image and one model allowed, a
 * Staking linked to it (configured by a real push), and a wallet standing in
 * as the AttestationVerifier (so tests can send AttestationRecorded).
 */
export async function deployStaking(overrides: Partial<NetworkParams> = {}, escrow?: Address): Promise<StakingFixture> {
    const f = await deployRegistry(overrides);
    const verifier = await f.blockchain.treasury('verifier');
    const provider = await f.blockchain.treasury('provider', { balance: toNano('100000') });
    const reporter = await f.blockchain.treasury('reporter', { balance: toNano('1000') });
    const staking = f.blockchain.openContract(await ExtendedStaking.fromInit(f.registry.address));
    const deployed = await staking.sendDeploy(f.owner.getSender());
    expect(deployed.transactions).toHaveTransaction({ to: staking.address, deploy: true, success: true });
    await passProposal(f, () => f.registry.sendProposeImage(f.owner.getSender(), IMAGE));
    await passProposal(f, () => f.registry.sendProposeModel(f.owner.getSender(), MODEL, 'tiny-model'));
    await passProposal(f, () => f.registry.sendProposeModel(f.owner.getSender(), OTHER_MODEL, 'other-model'));
    await linkContracts(f, { staking: staking.address, verifier: verifier.address, escrow });
    expect(await staking.getIsConfigured()).toBe(true);
    const keys = workerKeys('worker-1');
    return { ...f, staking, verifier, provider, reporter, keys, workerKey: keyInt(keys.publicKey) };
}

export function openWorker(f: StakingFixture, address: Address): SandboxContract<ExtendedWorkerStake> {
    return f.blockchain.openContract(ExtendedWorkerStake.fromAddress(address));
}

/** Stakes exactly `amount` for (provider, workerKey) and returns the WorkerStake. */
export async function stake(f: StakingFixture, amount: bigint, opts: { owner?: SandboxContract<TreasuryContract>; workerKey?: bigint; listing?: ListingInput } = {}) {
    const owner = opts.owner ?? f.provider;
    const workerKey = opts.workerKey ?? f.workerKey;
    const value = await f.staking.getStakeValue(amount);
    const result = await f.staking.sendStake(owner.getSender(), value, workerKey, opts.listing ?? listing());
    const address = await f.staking.getWorkerAddress(owner.address, workerKey);
    return { result, worker: openWorker(f, address) };
}

/** Sends an AttestationRecorded from the configured verifier. */
export async function attest(
    f: StakingFixture,
    worker: Address,
    over: { imageHash?: bigint; modelId?: bigint; workerKey?: bigint; encryptionKey?: bigint; expiresAt?: bigint; evidenceKeyId?: bigint; value?: bigint } = {},
    from: SandboxContract<TreasuryContract> = f.verifier,
) {
    return from.send({
        to: worker,
        value: over.value ?? toNano('0.1'),
        body: beginCell()
            .store(
                storeAttestationRecorded({
                    $$type: 'AttestationRecorded',
                    queryId: 0n,
                    imageHash: over.imageHash ?? IMAGE,
                    modelId: over.modelId ?? MODEL,
                    workerKey: over.workerKey ?? f.workerKey,
                    encryptionKey: over.encryptionKey ?? 0xe2n,
                    expiresAt: over.expiresAt ?? BigInt(f.blockchain.now! + 86400),
                    evidenceKeyId: over.evidenceKeyId ?? 0n,
                }),
            )
            .endCell(),
    });
}
