import { AMD_ARK_IDS, snpPolicy } from '../wrappers/snp/amd';
import { devSnpArkId, devSnpImageHash } from '../wrappers/snp/devChain';
import { NetworkProvider } from '@ton/blueprint';
import { OpenedContract } from '@ton/core';
import { Address, Contract } from '@ton/core';
import { ExtendedRegistry, ProposalKind, decodeProposal, DecodedProposal, AttestationPolicy, storeAttestationPolicy } from '../wrappers/Registry';
import { ExtendedStaking } from '../wrappers/Staking';
import { ExtendedEscrow } from '../wrappers/Escrow';
import { ExtendedAttestationVerifier } from '../wrappers/AttestationVerifier';
import { INTEL_SGX_ROOT_CA_KEY, INTEL_TD_QE_IDENTITY, INTEL_TD_QE_ISVPRODID, INTEL_TD_QE_MRSIGNER } from '../wrappers/tdx';
import { DEV_IMAGE_HASH, DEV_MODEL_ID, DEFAULT_MODEL_NAME, devSimulatedAttestationKey } from '../wrappers/devnet';
import { run as deployRegistry } from './deployRegistry';
import { run as proposeImage } from './proposeImage';
import { run as proposeModel } from './proposeModel';
import { run as proposeLinks } from './proposeLinks';
import { submitProposal } from './lib/governance';
import { run as executeProposal } from './executeProposal';
import { hex256 } from '../helpers/bytes';
import { Deployment, deploymentPath, writeDeployment } from './lib/deployment';
import { withTupleFix } from './lib/v2compat';
import { ChannelLibraryPublisher } from '../wrappers/channelLibrary';
import { beginCell, fromNano } from '@ton/core';
import { blueprintCommand, waitForDeployment } from './lib/cli';

/**
 * Deploys the Cocoon network and writes its addresses file.
 *   npx blueprint run deployNetwork --custom http://127.0.0.1:8081/api/v2/jsonRPC --custom-version v2 --custom-type custom --mnemonic
 *   npx blueprint run deployNetwork --testnet --tonconnect
 *
 * Steps (each safe to re-run: it checks the chain before acting):
 *   0. publish the payment channel's code as a public masterchain library
 *      (every channel's StateInit names it by hash; funded for years of rent);
 *   1. deploy the Registry owned by this wallet;
 *   2. deploy Staking, Escrow and the AttestationVerifier, bound to it;
 *   3. queue, through the timelock: linking them to the Registry, the
 *      attestation policy (Intel's root and quoting enclave, AMD's roots; on
 *      a devnet also the public development key for simulated evidence and
 *      the development AMD root, wrappers/snp/devChain.ts), and the
 *      allow-listing of the development image and of the network's model
 *      (by default the hash of the default model name; on a devnet also the
 *      development SEV-SNP image);
 *   4. on a devnet, advance the chain clock past the timelock and execute
 *      them in that order; elsewhere print the executeProposal commands;
 *   5. write deployments/<network>.json (or $COCOON_DEPLOYMENT).
 */
export async function run(provider: NetworkProvider, args: string[] = [], model?: NetworkModel) {
    const devnet = await detectDevnet(provider);
    return deployNetwork(withTupleFix(provider), {
        network: args[0] ?? process.env.COCOON_NETWORK ?? (devnet ? 'devnet' : provider.network()),
        endpoint: devnet?.url ?? endpointOf(provider),
        advanceTime: devnet?.advanceTime,
        model,
    });
}

/** The model a network is deployed with: its on-chain id and the name it is allow-listed under. */
export type NetworkModel = { id: bigint; name: string };

/** Without another: the hash of the default model name, under that name (wrappers/devnet.ts). */
export const DEV_MODEL: NetworkModel = { id: DEV_MODEL_ID, name: DEFAULT_MODEL_NAME };

export type DeployNetworkOptions = {
    /** Name for the addresses file (deployments/<network>.json). */
    network: string;
    endpoint?: string;
    /** Moves chain time forward by `seconds` (devnet only); without it timelocked steps are left for later. */
    advanceTime?: (seconds: number) => Promise<void>;
    /** Overrides deploymentPath(network). */
    deploymentFile?: string;
    /** The model allow-listed with the network (default DEV_MODEL); `npm start` gives its demo GGUF's hash under the same name. */
    model?: NetworkModel;
};

export type DeployNetworkResult = {
    registry: OpenedContract<ExtendedRegistry>;
    deployment: Deployment;
    file: string;
};

export async function deployNetwork(provider: NetworkProvider, opts: DeployNetworkOptions): Promise<DeployNetworkResult> {
    const ui = provider.ui();
    const owner = provider.sender().address;
    if (!owner) throw new Error('the wallet has no address');

    const channelLibrary = await publishChannelLibraryStep(provider);
    const registry = await deployRegistryStep(provider);
    const linked = await deployLinkedStep(provider, registry.address);
    const model = opts.model ?? DEV_MODEL;
    const pending = await governanceSetUpStep(provider, registry, linked, model, opts.network === 'devnet', opts.advanceTime);

    const at = registry.address.toString();
    const deployment: Deployment = {
        network: opts.network,
        endpoint: opts.endpoint,
        updatedAt: new Date().toISOString(),
        owner: owner.toString(),
        contracts: {
            registry: at,
            staking: linked.staking.toString(),
            escrow: linked.escrow.toString(),
            attestationVerifier: linked.verifier.toString(),
            channelLibrary: channelLibrary.toString(),
        },
        devImageHash: hex256(DEV_IMAGE_HASH),
        devModelId: hex256(model.id),
        devModelName: model.name,
        pendingProposals: pending.map((p) => ({
            id: p.id.toString(),
            what: p.what,
            executeAfter: p.executeAfter,
            command: blueprintCommand(provider, 'executeProposal', [at, p.id]),
        })),
    };
    const file = opts.deploymentFile ?? deploymentPath(opts.network);
    await writeDeployment(file, deployment);
    ui.write(`Addresses written to ${file}`);
    ui.write(`  Registry             ${at}`);
    ui.write(`  Staking              ${linked.staking.toString()}`);
    ui.write(`  Escrow               ${linked.escrow.toString()}`);
    ui.write(`  AttestationVerifier  ${linked.verifier.toString()}`);
    if (pending.length > 0) {
        ui.write('Timelocked proposals left to execute:');
        for (const p of deployment.pendingProposals) {
            ui.write(`  after ${new Date(p.executeAfter * 1000).toISOString()}: ${p.command}   (${p.what})`);
        }
    }
    return { registry, deployment, file };
}

/**
 * Step 0: the channel code's public library. Without it no channel can run,
 * so it comes first; it is published once per code version (its publisher's
 * address follows from the code).
 */
async function publishChannelLibraryStep(provider: NetworkProvider): Promise<Address> {
    const ui = provider.ui();
    const publisher = provider.open(await ChannelLibraryPublisher.create());
    if (await provider.isContractDeployed(publisher.address)) {
        ui.write(`The channel library is already published by ${publisher.address.toString()}.`);
    } else {
        ui.write(`Publishing the payment channel code as a masterchain library (${fromNano(ChannelLibraryPublisher.FUNDING)} TON for its rent)...`);
        await publisher.sendPublish(provider.sender());
        await waitForDeployment(provider, publisher.address);
    }
    return publisher.address;
}

/** Step 1: the Registry (deployRegistry is a no-op when it already exists). */
async function deployRegistryStep(provider: NetworkProvider): Promise<OpenedContract<ExtendedRegistry>> {
    return deployRegistry(provider, []);
}

type Pending = { id: bigint; what: string; executeAfter: number };
type Linked = { staking: Address; escrow: Address; verifier: Address };

/** Step 2: the contracts the Registry configures (each deployed once). */
async function deployLinkedStep(provider: NetworkProvider, registry: Address): Promise<Linked> {
    const ui = provider.ui();
    const deployOne = async <T extends Contract & { sendDeploy: unknown }>(name: string, contract: T) => {
        const opened = provider.open(contract) as unknown as { address: Address; sendDeploy(via: unknown): Promise<unknown> };
        if (await provider.isContractDeployed(opened.address)) {
            ui.write(`${name} already deployed at ${opened.address.toString()}.`);
        } else {
            ui.write(`Deploying ${name}...`);
            await opened.sendDeploy(provider.sender());
            await waitForDeployment(provider, opened.address);
        }
        return opened.address;
    };
    return {
        staking: await deployOne('Staking', await ExtendedStaking.fromInit(registry)),
        escrow: await deployOne('Escrow', await ExtendedEscrow.fromInit(registry)),
        verifier: await deployOne('AttestationVerifier', await ExtendedAttestationVerifier.fromInit(registry)),
    };
}

/** The attestation policy a new network starts from. */
export function initialAttestationPolicy(devnet: boolean): AttestationPolicy {
    return {
        $$type: 'AttestationPolicy',
        rootKeyX: INTEL_SGX_ROOT_CA_KEY.x,
        rootKeyY: INTEL_SGX_ROOT_CA_KEY.y,
        qeMrSigner: INTEL_TD_QE_MRSIGNER,
        qeIsvProdId: INTEL_TD_QE_ISVPRODID,
        qeMinIsvSvn: 0n,
        ...INTEL_TD_QE_IDENTITY,
        simulatedKey: devnet ? BigInt('0x' + devSimulatedAttestationKey().publicKey.toString('hex')) : 0n,
        // A development network also pins the development AMD root, so SEV-SNP registration runs there end to end.
        ...snpPolicy([...Object.values(AMD_ARK_IDS), ...(devnet ? [devSnpArkId()] : [])]),
    };
}

function samePolicy(a: AttestationPolicy, b: AttestationPolicy): boolean {
    // As the contract stores them (the policy holds a dictionary, which no field-by-field comparison sees into).
    const cell = (p: AttestationPolicy) => beginCell().store(storeAttestationPolicy(p)).endCell();
    return cell(a).equals(cell(b));
}

function sameAddress(a: Address | null, b: Address): boolean {
    return a !== null && a.equals(b);
}

/**
 * Steps 3 and 4: every timelocked change the network needs, in execution
 * order (links first, so later executions push config to the linked
 * contracts). A change already in effect is skipped; a proposal an earlier
 * run queued is reused instead of queueing a duplicate.
 */
async function governanceSetUpStep(
    provider: NetworkProvider,
    registry: OpenedContract<ExtendedRegistry>,
    linked: Linked,
    model: NetworkModel,
    devnet: boolean,
    advanceTime?: (seconds: number) => Promise<void>,
): Promise<Pending[]> {
    const ui = provider.ui();
    const at = registry.address.toString();
    const queued = await registry.getProposals();
    const findQueued = (match: (d: DecodedProposal) => boolean): bigint | undefined => {
        for (const [id, p] of queued) if (match(decodeProposal(p))) return BigInt(id);
        return undefined;
    };

    const ids: { id: bigint; what: string }[] = [];
    const links = await registry.getLinks();
    if (sameAddress(links.staking, linked.staking) && sameAddress(links.escrow, linked.escrow) && sameAddress(links.verifier, linked.verifier)) {
        ui.write('Staking, Escrow and AttestationVerifier are already linked.');
    } else {
        const existing = findQueued(
            (d) => d.kind === ProposalKind.SetLinks && sameAddress(d.links.staking, linked.staking) && sameAddress(d.links.escrow, linked.escrow) && sameAddress(d.links.verifier, linked.verifier),
        );
        const id = existing ?? (await proposeLinks(provider, [at, linked.staking.toString(), linked.escrow.toString(), linked.verifier.toString()]));
        ids.push({ id, what: 'link Staking, Escrow and AttestationVerifier' });
    }

    const policy = initialAttestationPolicy(devnet);
    if (samePolicy(await registry.getAttestationPolicy(), policy)) {
        ui.write('The attestation policy is already in effect.');
    } else {
        const existing = findQueued((d) => d.kind === ProposalKind.SetAttestationPolicy && samePolicy(d.policy, policy));
        const id = existing ?? (await submitProposal(provider, registry, () => registry.sendProposeAttestationPolicy(provider.sender(), policy)));
        ids.push({ id, what: devnet ? "attestation policy (Intel's and AMD's roots + the development key and AMD root)" : "attestation policy (Intel's and AMD's roots)" });
    }

    if (await registry.getImageAllowed(DEV_IMAGE_HASH)) {
        ui.write(`Development image ${hex256(DEV_IMAGE_HASH)} is already allowed.`);
    } else {
        const existing = findQueued((d) => d.kind === ProposalKind.AddImage && d.imageHash === DEV_IMAGE_HASH);
        ids.push({ id: existing ?? (await proposeImage(provider, [at, hex256(DEV_IMAGE_HASH)])), what: 'allow the development image' });
    }
    if (devnet) {
        const snpImage = devSnpImageHash();
        if (await registry.getImageAllowed(snpImage)) {
            ui.write(`Development SEV-SNP image ${hex256(snpImage)} is already allowed.`);
        } else {
            const existing = findQueued((d) => d.kind === ProposalKind.AddImage && d.imageHash === snpImage);
            ids.push({ id: existing ?? (await proposeImage(provider, [at, hex256(snpImage)])), what: 'allow the development SEV-SNP image' });
        }
    }
    if ((await registry.getModel(model.id))?.enabled) {
        ui.write(`Model ${model.name} (${hex256(model.id)}) is already allowed.`);
    } else {
        const existing = findQueued((d) => d.kind === ProposalKind.AddModel && d.modelId === model.id);
        ids.push({ id: existing ?? (await proposeModel(provider, [at, hex256(model.id), model.name])), what: `allow the model ${model.name}` });
    }
    if (ids.length === 0) return [];

    if (advanceTime) {
        const notReady = [];
        for (const { id } of ids) if (!(await registry.getProposalReady(id))) notReady.push(id);
        if (notReady.length > 0) {
            const delay = Number((await registry.getParams()).timelockDelay);
            ui.write(`Advancing the devnet clock past the ${delay} s timelock...`);
            await advanceTime(delay + 1);
        }
        for (const { id } of ids) await executeProposal(provider, [at, id.toString()]);
        return [];
    }
    const pending: Pending[] = [];
    for (const { id, what } of ids) {
        const p = await registry.getProposal(id);
        if (!p) throw new Error(`proposal ${id} disappeared`);
        pending.push({ id, what, executeAfter: Number(p.executeAfter) });
    }
    return pending;
}

function endpointOf(provider: NetworkProvider): string | undefined {
    try {
        const api = provider.api() as { parameters?: { endpoint?: unknown } };
        return typeof api?.parameters?.endpoint === 'string' ? api.parameters.endpoint : undefined;
    } catch {
        return undefined; // providers without a client API (the in-process sandbox)
    }
}

/**
 * A Cocoon devnet answers GET /devnet/info next to its toncenter API. The
 * base URL is COCOON_DEVNET_URL or the origin of Blueprint's v2 endpoint.
 */
export async function detectDevnet(provider: NetworkProvider): Promise<{ url: string; advanceTime: (seconds: number) => Promise<void> } | undefined> {
    const endpoint = process.env.COCOON_DEVNET_URL ?? endpointOf(provider);
    if (!endpoint || provider.network() === 'mainnet') return undefined;
    let base: string;
    try {
        base = new URL(endpoint).origin;
    } catch {
        return undefined;
    }
    try {
        const res = await fetch(`${base}/devnet/info`, { signal: AbortSignal.timeout(5000) });
        const body = (await res.json()) as { ok?: boolean; result?: { devnet?: boolean } };
        if (!res.ok || body.result?.devnet !== true) return undefined;
    } catch {
        return undefined;
    }
    return {
        url: base,
        async advanceTime(seconds: number) {
            const res = await fetch(`${base}/admin/advance-time`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ seconds }),
            });
            if (!res.ok) throw new Error(`devnet refused to advance time: ${await res.text()}`);
        },
    };
}
