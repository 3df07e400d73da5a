import { NetworkProvider } from '@ton/blueprint';
import { toNano } from '@ton/core';
import { argOrAsk, parseHash256, waitUntil } from './lib/cli';
import { hex256 } from '../helpers/bytes';
import { checkEndpoint, isBonded, openStaking, parsePrices, statusName } from './lib/worker';
import { ExtendedWorkerStake } from '../wrappers/WorkerStake';

/**
 * Stakes for a worker, deploying its WorkerStake, or tops up an existing one.
 *   npx blueprint run stakeWorker <staking> <workerKey hex> <stake TON> <modelId hex> <endpoint> <encryptionKey hex> <prompt,cached,completion,reasoning>
 * For a top-up only the first three arguments are needed. Prices are nanoTON
 * per million tokens. A first stake goes through Staking with the stake plus
 * Staking's overhead; a top-up goes straight to the WorkerStake with the
 * amount plus a gas allowance. What the overhead does not spend comes back.
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const staking = await openStaking(provider, args, 0);
    const workerKey = parseHash256(await argOrAsk(provider, args, 1, 'Worker Ed25519 public key (64 hex digits)'), 'worker key');
    const amountText = await argOrAsk(provider, args, 2, 'Stake (TON)');
    const amount = toNano(amountText);
    if (amount <= 0n) throw new Error('the stake must be positive');
    if (!(await staking.getIsConfigured())) throw new Error('Staking has not received the Registry config yet');
    const me = provider.sender().address;
    if (!me) throw new Error('the wallet address is unknown');
    const address = await staking.getWorkerAddress(me, workerKey);
    const worker = provider.open(ExtendedWorkerStake.fromAddress(address));
    const params = await staking.getParams();

    if (await provider.isContractDeployed(address)) {
        const state = await worker.getState();
        if (!isBonded(state.status)) throw new Error(`the WorkerStake is ${statusName(state.status)}: it takes no more stake`);
        provider.ui().write(`Topping up ${address.toString()} (stake ${state.stake} nanoTON) by ${amountText} TON`);
        await worker.sendTopUpStake(provider.sender(), amount);
        await waitUntil(provider, 'the top-up', async () => (await worker.getStake()) >= state.stake + amount);
    } else {
        const modelId = parseHash256(await argOrAsk(provider, args, 3, 'Model id (64 hex digits)'), 'model id');
        const endpoint = await argOrAsk(provider, args, 4, 'Endpoint URL');
        checkEndpoint(endpoint);
        const encryptionKey = parseHash256(await argOrAsk(provider, args, 5, 'X25519 encryption key (64 hex digits)'), 'encryption key');
        const prices = parsePrices(await argOrAsk(provider, args, 6, 'Prices: prompt,cached,completion,reasoning (nanoTON per million tokens)'));
        if (amount < params.minWorkerStake) {
            provider.ui().write(`Note: ${amountText} TON is below the minimum stake (${params.minWorkerStake} nanoTON); the worker stays pending until topped up.`);
        }
        provider.ui().write(`Staking ${amountText} TON for worker ${hex256(workerKey)} (model ${hex256(modelId)})`);
        await staking.sendStake(provider.sender(), await staking.getStakeValue(amount), workerKey, { modelId, endpoint, encryptionKey, prices });
        await waitUntil(provider, 'the WorkerStake to be deployed', async () => (await provider.isContractDeployed(address)) && (await worker.getStake()) >= amount);
    }
    const state = await worker.getState();
    provider.ui().write(`WorkerStake ${address.toString()}: ${statusName(state.status)}, stake ${state.stake} nanoTON`);
    return address;
}
