import { NetworkProvider } from '@ton/blueprint';
import { argOrAsk, parseHash256, waitUntil } from './lib/cli';
import { checkEndpoint, isBonded, openWorkerStake, parsePrices, requireWorkerOwner, statusName } from './lib/worker';

/**
 * Changes a worker's endpoint and prices (and, before its first attestation,
 * its model and encryption key). A raise takes effect after the network's
 * price notice period, a cut at once.
 *   npx blueprint run updateListing <workerStake> <endpoint|-> <prompt,cached,completion,reasoning|-> [modelId hex] [encryptionKey hex]
 * "-" keeps the current value.
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const worker = await openWorkerStake(provider, args, 0);
    await requireWorkerOwner(provider, worker);
    const state = await worker.getState();
    if (!isBonded(state.status)) throw new Error(`the WorkerStake is ${statusName(state.status)}: its listing is closed`);
    const current = await worker.getListing();
    const endpointArg = await argOrAsk(provider, args, 1, 'Endpoint URL ("-" keeps it)');
    const endpoint = endpointArg === '-' ? current.endpoint : endpointArg;
    checkEndpoint(endpoint);
    const pricesArg = await argOrAsk(provider, args, 2, 'Prices ("-" keeps them)');
    const prices = pricesArg === '-' ? current.prices : parsePrices(pricesArg);
    const modelId = args[3] && args[3] !== '-' ? parseHash256(args[3], 'model id') : current.modelId;
    const encryptionKey = args[4] && args[4] !== '-' ? parseHash256(args[4], 'encryption key') : current.encryptionKey;
    if (state.modelFixed && (modelId !== current.modelId || encryptionKey !== current.encryptionKey)) {
        throw new Error('the model and encryption key are fixed by the attestation; a new model needs a new worker key');
    }
    const inForce = await worker.getPricesInForce();
    const raise = prices.prompt > inForce.prompt || prices.cached > inForce.cached || prices.completion > inForce.completion || prices.reasoning > inForce.reasoning;
    await worker.sendUpdateListing(provider.sender(), {
        modelId,
        endpoint,
        encryptionKey,
        prices: { prompt: prices.prompt, cached: prices.cached, completion: prices.completion, reasoning: prices.reasoning },
    });
    await waitUntil(provider, 'the listing to update', async () => {
        const l = await worker.getListing();
        return (
            l.endpoint === endpoint && l.prices.prompt === prices.prompt && l.prices.cached === prices.cached && l.prices.completion === prices.completion && l.prices.reasoning === prices.reasoning
        );
    });
    provider.ui().write(raise ? 'Listing updated; the raised prices apply after the notice period.' : 'Listing updated; prices apply now.');
}
