import '@ton/test-utils';
import { Address, toNano } from '@ton/core';
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { ConfigProbe } from '../../build/ConfigProbe/ConfigProbe_ConfigProbe';
import { ExtendedRegistry, NetworkParams } from '../../wrappers/Registry';
import { devnetParams } from '../../wrappers/params';
import { channelLibraries } from '../../wrappers/channelLibrary';

export interface RegistryFixture {
    blockchain: Blockchain;
    owner: SandboxContract<TreasuryContract>;
    treasury: SandboxContract<TreasuryContract>;
    stranger: SandboxContract<TreasuryContract>;
    registry: SandboxContract<ExtendedRegistry>;
    params: NetworkParams;
}

/** A fresh chain with a deployed Registry on devnet parameters. */
export async function deployRegistry(overrides: Partial<NetworkParams> = {}): Promise<RegistryFixture> {
    const blockchain = await Blockchain.create();
    blockchain.now = 1_800_000_000;
    // The channel code's public library, as a real network has it published.
    blockchain.libs = await channelLibraries();
    const owner = await blockchain.treasury('owner', { balance: toNano('1000') });
    const treasury = await blockchain.treasury('treasury');
    const stranger = await blockchain.treasury('stranger', { balance: toNano('1000') });
    const params = { ...devnetParams(treasury.address), ...overrides };
    const registry = blockchain.openContract(await ExtendedRegistry.fromInit(owner.address, params));
    const result = await registry.sendDeploy(owner.getSender());
    expect(result.transactions).toHaveTransaction({ to: registry.address, deploy: true, success: true });
    return { blockchain, owner, treasury, stranger, registry, params };
}

/** Deploys a test receiver of config pushes bound to `registry`. */
export async function deployProbe(f: RegistryFixture, salt: bigint): Promise<SandboxContract<ConfigProbe>> {
    const probe = f.blockchain.openContract(await ConfigProbe.fromInit(f.registry.address, salt));
    await probe.send(f.owner.getSender(), { value: toNano('0.1') }, null);
    return probe;
}

/** Queues a proposal, waits out the timelock and executes it. Returns the id. */
export async function passProposal(f: RegistryFixture, propose: () => Promise<unknown>): Promise<bigint> {
    const id = await f.registry.getNextProposalId();
    await propose();
    const proposal = await f.registry.getProposal(id);
    if (!proposal) throw new Error(`proposal ${id} was not queued`);
    f.blockchain.now = Number(proposal.executeAfter);
    const result = await f.registry.sendExecute(f.stranger.getSender(), id);
    expect(result.transactions).toHaveTransaction({ to: f.registry.address, success: true });
    return id;
}

export async function linkContracts(f: RegistryFixture, links: { staking?: Address; escrow?: Address; verifier?: Address }) {
    return passProposal(f, () =>
        f.registry.sendProposeLinks(f.owner.getSender(), {
            staking: links.staking ?? null,
            escrow: links.escrow ?? null,
            verifier: links.verifier ?? null,
        }),
    );
}
