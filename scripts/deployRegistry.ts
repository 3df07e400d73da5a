import { NetworkProvider } from '@ton/blueprint';
import { Address } from '@ton/core';
import { ExtendedRegistry, NetworkParams } from '../wrappers/Registry';
import { defaultNetworkParams, devnetParams } from '../wrappers/params';
import { waitForDeployment } from './lib/cli';

/**
 * Deploys a Registry owned by this wallet.
 *   npx blueprint run deployRegistry [treasury] [production|devnet]
 * The treasury defaults to this wallet. Mainnet always starts from the
 * production parameters; other networks default to the devnet ones.
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const ui = provider.ui();
    const owner = provider.sender().address;
    if (!owner) throw new Error('the wallet has no address');
    const treasury = args[0] ? Address.parse(args[0]) : owner;
    const profile = args[1] ?? (provider.network() === 'mainnet' ? 'production' : 'devnet');
    if (profile !== 'production' && profile !== 'devnet') throw new Error(`unknown parameter profile "${profile}"`);
    if (profile === 'devnet' && provider.network() === 'mainnet') throw new Error('devnet parameters allow simulated attestation: never on mainnet');
    const params: NetworkParams = profile === 'production' ? defaultNetworkParams(treasury) : devnetParams(treasury);

    const registry = provider.open(await ExtendedRegistry.fromInit(owner, params));
    if (await provider.isContractDeployed(registry.address)) {
        ui.write(`Registry already deployed at ${registry.address.toString()}; nothing to do.`);
        return registry;
    }
    ui.write(`Deploying Registry (owner ${owner.toString()}, treasury ${treasury.toString()}, ${profile} parameters)`);
    await registry.sendDeploy(provider.sender());
    await waitForDeployment(provider, registry.address);
    const deployedOwner = await registry.getOwner();
    if (!deployedOwner.equals(owner)) throw new Error('deployed Registry reports another owner');
    ui.write(`Registry: ${registry.address.toString()}`);
    return registry;
}
