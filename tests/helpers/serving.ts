import '@ton/test-utils';
import { toNano } from '@ton/core';
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { ExtendedEscrow } from '../../wrappers/Escrow';
import { NetworkParams } from '../../wrappers/Registry';
import { ExtendedStaking } from '../../wrappers/Staking';
import { ExtendedWorkerStake, WorkerStatus } from '../../wrappers/WorkerStake';
import { DEV_IMAGE_HASH, DEV_MODEL_ID } from '../../wrappers/devnet';
import type { Prices } from '../../wrappers/receipt';
import { keyToInt } from '../../wrappers/voucher';
import { ChainView } from '../../worker/src/chain';
import { ContractOpener } from '../../wrappers/toncenter';
import { Payments } from '../../worker/src/payments';
import { WorkerPricing } from '../../worker/src/pricing';
import type { WorkerStore } from '../../worker/src/store/store';
import { sandboxOpener } from '../worker/helpers';
import { EscrowFixture, testKeys } from './channel';
import { deployRegistry, linkContracts, passProposal } from './registry';
import { attest, stake } from './staking';

/** The prices the serving fixture lists unless told otherwise (nanoTON per million tokens). */
export const SERVING_PRICES: Prices = { prompt: 1_000_000_000_000n, cached: 400_000_000_000n, completion: 2_000_000_000_000n, reasoning: 3_000_000_000_000n };

export interface ServingFixture extends Omit<EscrowFixture, 'workerStake' | 'staking'> {
    staking: SandboxContract<ExtendedStaking>;
    verifier: SandboxContract<TreasuryContract>;
    /** The worker's real WorkerStake: staked, listed with `prices` and attested for `modelId`. */
    workerStake: SandboxContract<ExtendedWorkerStake>;
    /** The wallet that staked it (its owner, paid by claims). */
    operator: SandboxContract<TreasuryContract>;
    modelId: bigint;
    prices: Prices;
}

/**
 * What a worker serves on: a Registry with an Escrow and a Staking linked,
 * and a real WorkerStake for `testKeys('worker')` (the key channels name),
 * staked, listed and attested (a wallet stands in as the verifier). The
 * worker daemon reads its model and price history from it, as on a real
 * network.
 */
export async function deployServing(o: { params?: Partial<NetworkParams>; modelId?: bigint; prices?: Prices } = {}): Promise<ServingFixture> {
    const f = await deployRegistry(o.params ?? {});
    const modelId = o.modelId ?? DEV_MODEL_ID;
    const prices = o.prices ?? SERVING_PRICES;
    const escrow = f.blockchain.openContract(await ExtendedEscrow.fromInit(f.registry.address));
    expect((await escrow.sendDeploy(f.owner.getSender())).transactions).toHaveTransaction({ to: escrow.address, deploy: true, success: true });
    const staking = f.blockchain.openContract(await ExtendedStaking.fromInit(f.registry.address));
    expect((await staking.sendDeploy(f.owner.getSender())).transactions).toHaveTransaction({ to: staking.address, deploy: true, success: true });
    const verifier = await f.blockchain.treasury('verifier');
    await passProposal(f, () => f.registry.sendProposeImage(f.owner.getSender(), DEV_IMAGE_HASH));
    await passProposal(f, () => f.registry.sendProposeModel(f.owner.getSender(), modelId, 'served-model'));
    await linkContracts(f, { staking: staking.address, escrow: escrow.address, verifier: verifier.address });
    const operator = await f.blockchain.treasury('operator', { balance: toNano('100000') });
    const workerKeys = testKeys('worker');
    const workerKey = keyToInt(workerKeys.publicKey);
    const sf = { ...f, staking, verifier, provider: operator, reporter: operator, keys: workerKeys, workerKey };
    const { worker } = await stake(sf, f.params.minWorkerStake, {
        owner: operator,
        workerKey,
        listing: { modelId, endpoint: 'https://worker.example:8443', encryptionKey: 0xe1n, prices },
    });
    await attest(sf, worker.address, { imageHash: DEV_IMAGE_HASH, modelId, workerKey, expiresAt: BigInt(f.blockchain.now! + 30 * 86400) });
    expect(await worker.getStatus()).toBe(BigInt(WorkerStatus.Active));
    const client = await f.blockchain.treasury('client', { balance: toNano('1000') });
    return { ...f, escrow, staking, verifier, workerStake: worker, operator, workerOwner: operator, client, clientKeys: testKeys('client'), workerKeys, modelId, prices };
}

/**
 * The daemon's payment path over the serving fixture, as `createWorker` wires
 * it: a ChainView on `opener` (the sandbox by default) dated by `now` (block
 * time by default), its WorkerPricing, and Payments with the worker key.
 */
export function daemonPayments(f: ServingFixture, o: { store: WorkerStore; opener?: ContractOpener; ttlMs?: number; maxStaleMs?: number; now?: () => number; creditLimit?: bigint }) {
    const now = o.now ?? (() => f.blockchain.now!);
    const chain = new ChainView(o.opener ?? sandboxOpener(f.blockchain), o.ttlMs ?? 0, o.maxStaleMs, now);
    const pricing = new WorkerPricing({ chain, workerStake: f.workerStake.address });
    const payments = new Payments({ store: o.store, chain, workerStake: f.workerStake.address, receiptKey: f.workerKeys, pricing, creditLimit: o.creditLimit ?? 1_000_000_000_000n, now });
    return { chain, pricing, payments };
}
