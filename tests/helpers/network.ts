import { Address, toNano } from '@ton/core';
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { deployNetwork } from '../../scripts/deployNetwork';
import { SandboxNetworkProvider, ScriptedUI } from '../../scripts/lib/sandboxProvider';
import { ExtendedAttestationVerifier } from '../../wrappers/AttestationVerifier';
import { ExtendedEscrow } from '../../wrappers/Escrow';
import { ExtendedRegistry } from '../../wrappers/Registry';
import { ExtendedStaking } from '../../wrappers/Staking';

export interface DeployedByScript {
    blockchain: Blockchain;
    governance: SandboxContract<TreasuryContract>;
    registry: SandboxContract<ExtendedRegistry>;
    staking: SandboxContract<ExtendedStaking>;
    escrow: SandboxContract<ExtendedEscrow>;
    verifier: SandboxContract<ExtendedAttestationVerifier>;
}

/** The whole network in a sandbox, deployed by the real deployNetwork script on devnet parameters (timelocks advanced). */
export async function deployNetworkByScript(): Promise<DeployedByScript> {
    // The script publishes the channel code's library from the masterchain; the sandbox makes it global, as a network does.
    const blockchain = await Blockchain.create({ autoDeployLibs: true });
    blockchain.now = 1_800_000_000;
    const governance = await blockchain.treasury('governance', { balance: toNano('1000') });
    const provider = new SandboxNetworkProvider(blockchain, governance, new ScriptedUI());
    const { deployment } = await deployNetwork(provider, {
        network: 'devnet',
        deploymentFile: '/dev/null',
        advanceTime: async (s) => {
            blockchain.now! += s;
        },
    });
    const at = (name: string) => Address.parse(deployment.contracts[name]);
    return {
        blockchain,
        governance,
        registry: blockchain.openContract(ExtendedRegistry.fromAddress(at('registry'))),
        staking: blockchain.openContract(ExtendedStaking.fromAddress(at('staking'))),
        escrow: blockchain.openContract(ExtendedEscrow.fromAddress(at('escrow'))),
        verifier: blockchain.openContract(ExtendedAttestationVerifier.fromAddress(at('attestationVerifier'))),
    };
}
