import { Address, toNano } from '@ton/core';
import { Blockchain } from '@ton/sandbox';
import { TonClient } from '@ton/ton';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RunningDevnet, startDevnet } from '../../devnet/server';
import { deployNetwork, initialAttestationPolicy } from '../../scripts/deployNetwork';
import { devSnpArkId, snpPolicyOf } from '../../wrappers/snp';
import { deployNetworkTo, runBlueprintScript } from '../../scripts/local/devnetNetwork';
import { readDeployment } from '../../scripts/lib/deployment';
import { networkFlags } from '../../scripts/lib/cli';
import type { NetworkProvider } from '@ton/blueprint';
import { SandboxNetworkProvider, ScriptedUI } from '../../scripts/lib/sandboxProvider';
import { DEV_IMAGE_HASH, DEV_MODEL_ID, DEFAULT_MODEL_NAME, devSimulatedAttestationKey } from '../../wrappers/devnet';
import { ExtendedStaking } from '../../wrappers/Staking';
import { ExtendedRegistry } from '../../wrappers/Registry';
import { devWallets } from './util';

describe('deployNetwork', () => {
    let dir: string;
    beforeEach(async () => {
        dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cocoon-deploy-'));
    });
    afterEach(async () => {
        await fs.rm(dir, { recursive: true, force: true });
    });

    it('without time travel (testnet, mainnet) leaves the timelocked steps pending, and re-runs reuse them', async () => {
        const blockchain = await Blockchain.create();
        blockchain.now = 1_800_000_000;
        const governance = await blockchain.treasury('governance', { balance: toNano('1000') });
        const provider = new SandboxNetworkProvider(blockchain, governance, new ScriptedUI());
        const file = path.join(dir, 'testnet.json');

        const first = await deployNetwork(provider, { network: 'testnet', deploymentFile: file });
        const registry = first.registry;
        expect(await registry.getImageAllowed(DEV_IMAGE_HASH)).toBe(false);
        const written = await readDeployment(file);
        expect(written).toMatchObject({
            network: 'testnet',
            owner: governance.address.toString(),
            contracts: { registry: registry.address.toString() },
            devModelName: DEFAULT_MODEL_NAME,
        });
        // Links, attestation policy, development image and model.
        expect(written!.pendingProposals.map((p) => p.what)).toEqual([
            'link Staking, Escrow and AttestationVerifier',
            "attestation policy (Intel's and AMD's roots)",
            'allow the development image',
            'allow the model cocoon-demo',
        ]);
        // The development AMD root's keys are public: only a devnet pins it.
        expect(snpPolicyOf(initialAttestationPolicy(false))!.has(devSnpArkId())).toBe(false);
        expect(snpPolicyOf(initialAttestationPolicy(true))!.has(devSnpArkId())).toBe(true);
        expect(written!.contracts.staking).toBeDefined();
        expect(written!.contracts.escrow).toBeDefined();
        expect(written!.contracts.attestationVerifier).toBeDefined();
        // The printed command names the network it was printed on (Blueprint would otherwise offer a picker preselecting mainnet).
        expect(written!.pendingProposals[0].command).toBe(
            `npx blueprint run executeProposal ${registry.address.toString()} ${written!.pendingProposals[0].id} --custom <endpoint> --custom-version v2 --custom-type custom`,
        );
        expect(written!.pendingProposals[0].executeAfter).toBe(1_800_000_000 + 60);
        const queued = await registry.getNextProposalId();

        // Running again queues nothing new.
        const again = await deployNetwork(provider, { network: 'testnet', deploymentFile: file });
        expect(again.registry.address.equals(registry.address)).toBe(true);
        expect(await registry.getNextProposalId()).toBe(queued);
        expect((await readDeployment(file))!.pendingProposals.map((p) => p.id)).toEqual(written!.pendingProposals.map((p) => p.id));

        // With a clock that can move (devnet), the same proposals are executed.
        const advanced: number[] = [];
        const done = await deployNetwork(provider, {
            network: 'testnet',
            deploymentFile: file,
            advanceTime: async (s) => {
                advanced.push(s);
                blockchain.now! += s;
            },
        });
        expect(advanced).toEqual([61]);
        expect(done.deployment.pendingProposals).toEqual([]);
        expect(await registry.getImageAllowed(DEV_IMAGE_HASH)).toBe(true);
        expect(await registry.getModelAllowed(DEV_MODEL_ID)).toBe(true);
        expect(await registry.getNextProposalId()).toBe(queued);
        const links = await registry.getLinks();
        expect(links.staking!.toString()).toBe(written!.contracts.staking);
        // Each linked contract received the latest config push.
        const staking = blockchain.openContract(ExtendedStaking.fromAddress(links.staking!));
        expect(await staking.getConfigVersion()).toBe(await registry.getConfigVersion());
    });

    it('the real `blueprint run deployNetwork --custom ... --mnemonic` deploys into a devnet', async () => {
        const devnet: RunningDevnet = await startDevnet({ port: 0, logLevel: 'silent' });
        try {
            const { deployment, output } = await deployNetworkTo(devnet.endpoint, dir);
            expect(output).toContain('Advancing the devnet clock');
            // A devnet address is not a mainnet explorer's.
            expect(output).not.toMatch(/tonscan|tonviewer|dton\.io|ton\.cx/);
            expect(deployment).toMatchObject({ network: 'devnet', endpoint: devnet.url, pendingProposals: [] });

            const client = new TonClient({ endpoint: devnet.endpoint });
            const { v4 } = await devWallets(client);
            const registry = client.open(ExtendedRegistry.fromAddress(Address.parse(deployment!.contracts.registry)));
            expect((await registry.getOwner()).equals(v4.address)).toBe(true);
            expect(await registry.getImageAllowed(DEV_IMAGE_HASH)).toBe(true);
            expect(await registry.getModelAllowed(DEV_MODEL_ID)).toBe(true);
            expect(await registry.getConfigVersion()).toBeGreaterThanOrEqual(3n);
            expect((await registry.getParams()).allowSimulatedAttestation).toBe(true);
            const policy = await registry.getAttestationPolicy();
            expect(policy.simulatedKey).toBe(BigInt('0x' + devSimulatedAttestationKey().publicKey.toString('hex')));
            const links = await registry.getLinks();
            expect(links.verifier!.toString()).toBe(deployment!.contracts.attestationVerifier);

            // A script's error is one line that says what to do, not a stack trace; COCOON_VERBOSE=1 adds the trace.
            const failed = await runBlueprintScript(devnet.endpoint, 'executeProposal', [deployment!.contracts.registry, '999']);
            expect(failed.code).toBe(1);
            expect(failed.output).toContain('Error: proposal 999 is not queued (never proposed, cancelled or already executed)');
            expect(failed.output).not.toMatch(/\n\s+at /);
            const verbose = await runBlueprintScript(devnet.endpoint, 'executeProposal', [deployment!.contracts.registry, '999'], { COCOON_VERBOSE: '1' });
            expect(verbose.code).toBe(1);
            expect(verbose.output).toMatch(/\n\s+at /);
        } finally {
            await devnet.close();
        }
    }, 240_000);

    it('printed commands carry the network flags of the run that printed them, never an API key', () => {
        const on = (network: string, endpoint?: string) => ({ network: () => network, api: () => ({ parameters: { endpoint } }) }) as unknown as NetworkProvider;
        const env = process.env.WALLET_MNEMONIC;
        delete process.env.WALLET_MNEMONIC;
        try {
            expect(networkFlags(on('mainnet'), ['node', 'blueprint', 'run', '--mainnet', '--tonconnect'])).toBe('--mainnet --tonconnect');
            expect(networkFlags(on('testnet'), ['node', 'blueprint', 'run', '--testnet', '--mnemonic'])).toBe('--testnet --mnemonic');
            const argv = ['node', 'blueprint', 'run', '--custom', 'https://example.org/api/v2/jsonRPC', '--custom-version', 'v2', '--custom-type', 'testnet', '--custom-key', 'SECRET'];
            const flags = networkFlags(on('custom'), argv);
            expect(flags).toBe('--custom https://example.org/api/v2/jsonRPC --custom-version v2 --custom-type testnet --custom-key <your API key>');
            expect(flags).not.toContain('SECRET');
            // Started in-process (npm start): the endpoint comes from the provider's client.
            expect(networkFlags(on('custom', 'http://127.0.0.1:8081/api/v2/jsonRPC'), ['node', 'x'])).toBe('--custom http://127.0.0.1:8081/api/v2/jsonRPC --custom-version v2 --custom-type custom');
        } finally {
            if (env !== undefined) process.env.WALLET_MNEMONIC = env;
        }
    });
});
