import { toNano } from '@ton/core';
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import '@ton/test-utils';
import { SandboxNetworkProvider, ScriptedUI } from '../scripts/lib/sandboxProvider';
import { hex256 } from '../helpers/bytes';
import { run as deployRegistry } from '../scripts/deployRegistry';
import { run as proposeImage } from '../scripts/proposeImage';
import { run as proposeModel } from '../scripts/proposeModel';
import { run as proposeParams } from '../scripts/proposeParams';
import { run as proposeLinks } from '../scripts/proposeLinks';
import { run as proposeUnpause } from '../scripts/proposeUnpause';
import { run as executeProposal } from '../scripts/executeProposal';
import { run as cancelProposal } from '../scripts/cancelProposal';
import { run as revokeImage } from '../scripts/revokeImage';
import { run as revokeModel } from '../scripts/revokeModel';
import { run as pause } from '../scripts/pause';
import { run as revokeAttestationKey } from '../scripts/revokeAttestationKey';
import { run as revokePlatform } from '../scripts/revokePlatform';
import { run as revokeAmdChip } from '../scripts/revokeAmdChip';
import { amdChipRevocationId } from '../wrappers/snp';
import { ExtendedRegistry } from '../wrappers/Registry';

const IMAGE = hex256(0x5a5an << 100n);
const MODEL = hex256(0x7b7bn << 100n);

/** The governance scripts, run as `npx blueprint run` would run them, over the sandbox. */
describe('Registry scripts', () => {
    let blockchain: Blockchain;
    let owner: SandboxContract<TreasuryContract>;
    let ownerProvider: SandboxNetworkProvider;
    let strangerProvider: SandboxNetworkProvider;
    let registry: SandboxContract<ExtendedRegistry>;
    let at: string;

    beforeEach(async () => {
        blockchain = await Blockchain.create();
        blockchain.now = 1_800_000_000;
        owner = await blockchain.treasury('owner', { balance: toNano('100') });
        const stranger = await blockchain.treasury('stranger', { balance: toNano('100') });
        ownerProvider = new SandboxNetworkProvider(blockchain, owner);
        strangerProvider = new SandboxNetworkProvider(blockchain, stranger);
        const opened = await deployRegistry(ownerProvider, []);
        registry = blockchain.openContract(ExtendedRegistry.fromAddress(opened.address));
        at = registry.address.toString();
    });

    async function ripen(id: bigint) {
        const proposal = (await registry.getProposal(id))!;
        blockchain.now = Number(proposal.executeAfter);
    }

    it('deployRegistry deploys once and reports an existing deployment', async () => {
        expect((await registry.getOwner()).equals(owner.address)).toBe(true);
        expect((await registry.getParams()).allowSimulatedAttestation).toBe(true); // devnet profile off mainnet
        const ui = new ScriptedUI();
        const again = await deployRegistry(new SandboxNetworkProvider(blockchain, owner, ui), []);
        expect(again.address.equals(registry.address)).toBe(true);
        expect(ui.written.join('\n')).toMatch(/already deployed/);
    });

    it('deployRegistry refuses an unknown parameter profile', async () => {
        await expect(deployRegistry(ownerProvider, [owner.address.toString(), 'fast'])).rejects.toThrow(/unknown parameter profile/);
    });

    it('proposeImage + executeProposal allow an image after the timelock, anyone executing', async () => {
        const id = await proposeImage(ownerProvider, [at, IMAGE]);
        await expect(executeProposal(strangerProvider, [at, id.toString()])).rejects.toThrow(/still timelocked/);
        await ripen(id);
        await executeProposal(strangerProvider, [at, id.toString()]);
        expect(await registry.getImageAllowed(BigInt('0x' + IMAGE))).toBe(true);
        await expect(executeProposal(strangerProvider, [at, id.toString()])).rejects.toThrow(/not queued/);
        await expect(proposeImage(ownerProvider, [at, IMAGE])).rejects.toThrow(/already allowed/);
    });

    it('owner scripts refuse to act for a wallet that is not the owner, sending nothing', async () => {
        const sentBefore = strangerProvider.results.length;
        await expect(proposeImage(strangerProvider, [at, IMAGE])).rejects.toThrow(/not the Registry owner/);
        await expect(pause(strangerProvider, [at])).rejects.toThrow(/not the Registry owner/);
        await expect(proposeParams(strangerProvider, [at, 'protocolFeeBps=10'])).rejects.toThrow(/not the Registry owner/);
        expect(strangerProvider.results.length).toBe(sentBefore);
    });

    it('scripts refuse malformed input before sending', async () => {
        await expect(proposeImage(ownerProvider, [at, 'xyz'])).rejects.toThrow(/64 hex digits/);
        await expect(proposeModel(ownerProvider, [at, MODEL, 'x'.repeat(65)])).rejects.toThrow(/1 to 64 bytes/);
        await expect(proposeParams(ownerProvider, [at, 'nonsense=1'])).rejects.toThrow(/unknown parameter/);
        await expect(proposeParams(ownerProvider, [at, 'protocolFeeBps=-1'])).rejects.toThrow(/non-negative integer/);
        await expect(executeProposal(ownerProvider, [at, 'one'])).rejects.toThrow(/decimal or 0x-hex/);
        await expect(proposeImage(ownerProvider, [owner.address.toString(), IMAGE])).rejects.toThrow(/is not a Cocoon Registry/);
    });

    it('proposeModel, revokeModel and revokeImage', async () => {
        const model = await proposeModel(ownerProvider, [at, MODEL, 'demo-model']);
        const image = await proposeImage(ownerProvider, [at, IMAGE]);
        await ripen(image);
        await executeProposal(ownerProvider, [at, model.toString()]);
        await executeProposal(ownerProvider, [at, image.toString()]);
        expect(await registry.getModel(BigInt('0x' + MODEL))).toMatchObject({ name: 'demo-model', enabled: true });

        await revokeModel(ownerProvider, [at, MODEL]);
        await revokeImage(ownerProvider, [at, IMAGE]);
        expect(await registry.getModelAllowed(BigInt('0x' + MODEL))).toBe(false);
        expect(await registry.getImageAllowed(BigInt('0x' + IMAGE))).toBe(false);
        await expect(revokeImage(ownerProvider, [at, IMAGE])).rejects.toThrow(/not currently allowed/);
    });

    it('revokeAttestationKey, revokePlatform and revokeAmdChip act at once, for the owner only, and once', async () => {
        const key = 'ab'.repeat(32);
        await expect(revokeAttestationKey(strangerProvider, [at, key])).rejects.toThrow(/owner/i);
        await revokeAttestationKey(ownerProvider, [at, key]);
        expect((await registry.getRevokedKeys()).has(BigInt('0x' + key))).toBe(true);
        await expect(revokeAttestationKey(ownerProvider, [at, key])).rejects.toThrow(/already revoked/);

        await expect(revokePlatform(ownerProvider, [at, '90c06f'])).rejects.toThrow(/12 hex digits/);
        await expect(revokePlatform(ownerProvider, [at, '000000000000'])).rejects.toThrow(/names no platform/);
        await expect(revokePlatform(strangerProvider, [at, '90c06f000000'])).rejects.toThrow(/owner/i);
        await revokePlatform(ownerProvider, [at, '90C06F000000']);
        expect((await registry.getRevokedPlatforms()).has(0x90c06f000000n)).toBe(true);
        await expect(revokePlatform(ownerProvider, [at, '90c06f000000'])).rejects.toThrow(/already revoked/);

        const chip = 'c1'.repeat(64);
        await expect(revokeAmdChip(ownerProvider, [at, 'c1'.repeat(32)])).rejects.toThrow(/128 hex digits \(64 bytes\), or 16/);
        await expect(revokeAmdChip(strangerProvider, [at, chip])).rejects.toThrow(/owner/i);
        await revokeAmdChip(ownerProvider, [at, chip]);
        expect((await registry.getRevokedKeys()).has(amdChipRevocationId(Buffer.from(chip, 'hex')))).toBe(true);
        await expect(revokeAmdChip(ownerProvider, [at, chip.toUpperCase()])).rejects.toThrow(/already revoked/);
        // An EPYC Turin's 8-byte id names the CHIP_ID its reports carry: those bytes, then zeros.
        await revokeAmdChip(ownerProvider, [at, 'c2'.repeat(8)]);
        expect((await registry.getRevokedKeys()).has(amdChipRevocationId(Buffer.concat([Buffer.alloc(8, 0xc2), Buffer.alloc(56)])))).toBe(true);
    });

    it('proposeParams shows the change and applies it after the timelock', async () => {
        const ui = new ScriptedUI();
        const id = await proposeParams(new SandboxNetworkProvider(blockchain, owner, ui), [at, 'protocolFeeBps=300', 'unbondingPeriod=172800']);
        expect(ui.written.join('\n')).toMatch(/protocolFeeBps: 100 -> 300/);
        await ripen(id);
        await executeProposal(ownerProvider, [at, id.toString()]);
        const params = await registry.getParams();
        expect(params.protocolFeeBps).toBe(300n);
        expect(params.unbondingPeriod).toBe(172800n);
    });

    it('pause acts at once; proposeUnpause waits for the timelock; cancelProposal drops a proposal', async () => {
        await pause(ownerProvider, [at]);
        expect(await registry.getPaused()).toBe(true);
        await expect(pause(ownerProvider, [at])).rejects.toThrow(/already paused/);
        const first = await proposeUnpause(ownerProvider, [at]);
        await cancelProposal(ownerProvider, [at, first.toString()]);
        await expect(cancelProposal(ownerProvider, [at, first.toString()])).rejects.toThrow(/not queued/);
        const second = await proposeUnpause(ownerProvider, [at]);
        await ripen(second);
        await executeProposal(strangerProvider, [at, second.toString()]);
        expect(await registry.getPaused()).toBe(false);
    });

    it('proposeLinks refuses undeployed contracts and links deployed ones', async () => {
        const { ConfigProbe } = await import('../build/ConfigProbe/ConfigProbe_ConfigProbe');
        const probe = blockchain.openContract(await ConfigProbe.fromInit(registry.address, 1n));
        await expect(proposeLinks(ownerProvider, [at, probe.address.toString(), '-', '-'])).rejects.toThrow(/not deployed/);
        await probe.send(owner.getSender(), { value: toNano('0.1') }, null);
        const id = await proposeLinks(ownerProvider, [at, probe.address.toString(), '-', '-']);
        await ripen(id);
        await executeProposal(ownerProvider, [at, id.toString()]);
        expect((await registry.getLinks()).staking!.equals(probe.address)).toBe(true);
        expect(await probe.getConfigVersion()).toBe(await registry.getConfigVersion());
    });
});
