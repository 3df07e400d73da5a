import { toNano } from '@ton/core';
import { Blockchain, SandboxContract } from '@ton/sandbox';
import '@ton/test-utils';
import { findTransactionRequired } from '@ton/test-utils';
import { ExtendedAttestationVerifier } from '../wrappers/AttestationVerifier';
import { DEV_IMAGE_HASH, DEV_MODEL_ID, devSimulatedAttestationKey } from '../wrappers/devnet';
import { ExtendedEscrow } from '../wrappers/Escrow';
import { ExtendedPaymentChannel } from '../wrappers/PaymentChannel';
import { ExtendedRegistry } from '../wrappers/Registry';
import { ExtendedStaking } from '../wrappers/Staking';
import { claimsStruct, signSimulated } from '../wrappers/tdx';
import { keyToInt, signVoucher } from '../wrappers/voucher';
import { ExtendedWorkerStake } from '../wrappers/WorkerStake';
import { testKeys } from './helpers/channel';
import { deployNetworkByScript } from './helpers/network';

/**
 * The whole on-chain system together, deployed by the real deployNetwork
 * script: a provider stakes and attests (simulated evidence, as on a local
 * network), a client opens a channel, the worker redeems a voucher, and every
 * nanoTON is accounted for.
 */
describe('Cocoon network end to end', () => {
    let blockchain: Blockchain;
    let registry: SandboxContract<ExtendedRegistry>;
    let staking: SandboxContract<ExtendedStaking>;
    let escrow: SandboxContract<ExtendedEscrow>;
    let verifier: SandboxContract<ExtendedAttestationVerifier>;

    beforeAll(async () => {
        ({ blockchain, registry, staking, escrow, verifier } = await deployNetworkByScript());
    });

    it('stake, attest, open a channel, redeem a voucher: balances add up to the nanoTON', async () => {
        const params = await registry.getParams();
        const gpuOwner = await blockchain.treasury('gpu-owner', { balance: toNano('1000') });
        const client = await blockchain.treasury('client', { balance: toNano('1000') });
        const workerKeys = testKeys('worker');
        const clientKeys = testKeys('client');
        const workerKey = keyToInt(workerKeys.publicKey);

        // 1. Stake with a listing.
        const stakeAmount = params.minWorkerStake;
        await staking.sendStake(gpuOwner.getSender(), await staking.getStakeValue(stakeAmount), workerKey, {
            modelId: DEV_MODEL_ID,
            endpoint: 'http://127.0.0.1:8090',
            encryptionKey: 0xe1n,
            prices: { prompt: 1_000_000_000n, cached: 100_000_000n, completion: 2_000_000_000n, reasoning: 2_000_000_000n },
        });
        const worker = blockchain.openContract(ExtendedWorkerStake.fromAddress(await staking.getWorkerAddress(gpuOwner.address, workerKey)));
        expect(await worker.getStake()).toBe(stakeAmount);
        expect(await worker.getIsActive()).toBe(false);

        // 2. Attest with simulated evidence signed by the development key.
        const claims = { workerStake: worker.address, workerKey, encryptionKey: 0xe1n, modelId: DEV_MODEL_ID, notAfter: BigInt(blockchain.now! + 3600) };
        const attested = await verifier.sendSubmitSimulated(gpuOwner.getSender(), {
            $$type: 'SubmitSimulated',
            queryId: 0n,
            imageHash: DEV_IMAGE_HASH,
            signature: signSimulated(claims, DEV_IMAGE_HASH, devSimulatedAttestationKey().secretKey),
            workerStake: worker.address,
            claims: claimsStruct(claims),
        });
        expect(attested.transactions).toHaveTransaction({ from: verifier.address, to: worker.address, success: true });
        expect(await worker.getIsActive()).toBe(true);
        const listed = await staking.getActiveWorkers(DEV_MODEL_ID, 0n, 10n);
        expect(listed.size).toBeGreaterThan(0);

        // 3. The client opens a channel with a deposit.
        const deposit = toNano('5');
        const nonce = 1n;
        await escrow.sendOpenChannel(client.getSender(), { workerOwner: gpuOwner.address, workerKey, nonce, clientKey: keyToInt(clientKeys.publicKey), deposit });
        const channel = blockchain.openContract(ExtendedPaymentChannel.fromAddress(await escrow.getChannelAddress(client.address, worker.address, nonce)));
        expect((await channel.getState()).deposit).toBe(deposit);

        // 4. The worker redeems a voucher of 1.5 TON.
        const total = toNano('1.5');
        const ownerBefore = await gpuOwner.getBalance();
        const treasuryBefore = (await blockchain.getContract(params.treasury)).balance;
        const claimer = await blockchain.treasury('claimer', { balance: toNano('10') });
        const claim = await channel.sendClaim(claimer.getSender(), signVoucher(channel.address, total, clientKeys.secretKey));
        findTransactionRequired(claim.transactions, { to: channel.address, success: true });

        const fee = (total * params.protocolFeeBps) / 10000n;
        // The channel pays the WorkerStake's owner directly; the fee accrues in the channel until it is worth sending.
        expect(claim.transactions).toHaveTransaction({ from: channel.address, to: gpuOwner.address, success: true });
        expect(claim.transactions).not.toHaveTransaction({ to: worker.address });
        const s = await channel.getState();
        expect(s.paid).toBe(total);
        expect(s.feeDue).toBe(fee);
        expect(s.payee.equals(gpuOwner.address)).toBe(true);
        // The owner receives the whole worker's share, with what the claimer's value left after the channel's gas.
        const ownerGain = (await gpuOwner.getBalance()) - ownerBefore;
        expect(ownerGain).toBeGreaterThanOrEqual(total - fee);
        expect(ownerGain).toBeLessThan(total - fee + ExtendedPaymentChannel.ACTION_VALUE);

        // 5. The client closes; after the window the remainder comes back, exactly deposit minus paid.
        await channel.sendRequestClose(client.getSender());
        blockchain.now! += Number(params.channelCloseDelay) + 1;
        const clientBefore = await client.getBalance();
        const finalized = await channel.sendFinalize(claimer.getSender());
        const refund = findTransactionRequired(finalized.transactions, { from: channel.address, to: client.address });
        const refundValue = refund.inMessage!.info.type === 'internal' ? refund.inMessage!.info.value.coins : 0n;
        expect(refundValue).toBe(deposit - total);
        expect((await client.getBalance()) - clientBefore).toBe(refundValue - refund.totalFees.coins);
        // The treasury gets the fees due at close.
        expect(finalized.transactions).toHaveTransaction({ from: channel.address, to: params.treasury, value: fee });
        const treasuryGain = (await blockchain.getContract(params.treasury)).balance - treasuryBefore;
        expect(treasuryGain).toBeGreaterThanOrEqual(fee - toNano('0.001'));
    });
});
