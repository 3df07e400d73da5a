import { NetworkProvider } from '@ton/blueprint';
import { Address } from '@ton/core';
import { openRegistry, requireOwner } from './lib/cli';
import { submitProposal } from './lib/governance';

function optionalAddress(text: string | undefined): Address | null {
    if (text === undefined || text === '' || text === '-') return null;
    return Address.parse(text);
}

/**
 * Queues the linking of the contracts the Registry configures; "-" keeps a
 * link empty. Executing it pushes the config to each linked contract.
 *   npx blueprint run proposeLinks <registry> <staking|-> <escrow|-> <verifier|->
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const registry = await openRegistry(provider, args);
    const links = { staking: optionalAddress(args[1]), escrow: optionalAddress(args[2]), verifier: optionalAddress(args[3]) };
    await requireOwner(provider, registry);
    for (const [name, address] of Object.entries(links)) {
        if (address && !(await provider.isContractDeployed(address))) {
            throw new Error(`${name} ${address.toString()} is not deployed; deploy it before linking`);
        }
    }
    return submitProposal(provider, registry, () => registry.sendProposeLinks(provider.sender(), links));
}
