import { createHash } from 'crypto';
import '@ton/test-utils';
import { ExitCode } from '../../wrappers/exitCodes';
import { ExtendedRegistry } from '../../wrappers/Registry';
import { Constants } from '../../wrappers/constants';
import { RegistryFixture, deployProbe, deployRegistry, linkContracts } from '../helpers/registry';
import { balanceOf } from '../helpers/safety';

const OP = ExtendedRegistry.opcodes;
// Image hashes look random, as real ones do (sequential keys would share
// dictionary cells and understate the size of a real allow-list).
const image = (i: number) => BigInt('0x' + createHash('sha256').update(`image ${i}`).digest('hex'));

/**
 * Property: a config push is paid in full by whoever causes it, at the
 * forward fee of the config's real size, so no caller (a stranger's
 * PushConfig included) makes the Registry pay for it however long the
 * allow-lists grow; and a revoked entry leaves what is pushed.
 */
describe('configPush', () => {
    let f: RegistryFixture;

    beforeEach(async () => {
        f = await deployRegistry();
    });

    /** Allows images [from, to) through the timelock, all queued at once. */
    async function allowImages(from: number, to: number) {
        const first = await f.registry.getNextProposalId();
        for (let i = from; i < to; i++) await f.registry.sendProposeImage(f.owner.getSender(), image(i));
        f.blockchain.now! += Number(f.params.timelockDelay);
        for (let id = first; id < first + BigInt(to - from); id++) {
            const value = await f.registry.getPushingValue();
            const r = await f.registry.sendExecute(f.owner.getSender(), id, 0n, value);
            expect(r.transactions).toHaveTransaction({ to: f.registry.address, success: true });
        }
    }

    it("a stranger's PushConfig of ~100 allow-list entries never costs the Registry a nanoTON", async () => {
        await allowImages(0, 50);
        const probes = [await deployProbe(f, 1n), await deployProbe(f, 2n), await deployProbe(f, 3n)];
        await linkContracts(f, { staking: probes[0].address, escrow: probes[1].address, verifier: probes[2].address });
        const at50 = await f.registry.getPushValue();
        await allowImages(50, 100);
        expect((await f.registry.getImages()).size).toBe(100);
        const at100 = await f.registry.getPushValue();
        // The price follows the size.
        expect(at100).toBeGreaterThan(at50);

        const before = await balanceOf(f.blockchain, f.registry.address);
        const short = await f.registry.sendPushConfig(f.stranger.getSender(), 0n, at100 - 1n);
        expect(short.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });

        const version = await f.registry.getConfigVersion();
        const result = await f.registry.sendPushConfig(f.stranger.getSender(), 0n, at100);
        for (const probe of probes) {
            expect(result.transactions).toHaveTransaction({ from: f.registry.address, to: probe.address, op: OP.ConfigUpdate, success: true });
            expect(await probe.getConfigVersion()).toBe(version + 1n);
        }
        // Each push forwards far more than the old fixed budget: the case that drained the Registry.
        const pushTx = result.transactions.find((tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.dest.equals(probes[0].address))!;
        const info = pushTx.inMessage!.info;
        expect(info.type === 'internal' && info.forwardFee > Constants.CONFIG_PUSH_FWD_BUDGET).toBe(true);
        // Same second, so no rent is due: the Registry did not pay a nanoTON.
        expect(await balanceOf(f.blockchain, f.registry.address)).toBeGreaterThanOrEqual(before);
    });

    it('revoking removes the entry from the push, keeps it refused everywhere, and re-adding waits for the timelock', async () => {
        await allowImages(0, 3);
        const probe = await deployProbe(f, 1n);
        await linkContracts(f, { staking: probe.address });
        const withThree = await f.registry.getPushValue();
        expect(await probe.getImageAllowed(image(1))).toBe(true);

        const revoke = await f.registry.sendRevokeImage(f.owner.getSender(), image(1), 0n, await f.registry.getPushingValue());
        expect(revoke.transactions).toHaveTransaction({ from: f.registry.address, to: probe.address, success: true });
        expect((await f.registry.getImages()).has(image(1))).toBe(false);
        expect((await f.registry.getImages()).size).toBe(2);
        expect(await f.registry.getPushValue()).toBeLessThan(withThree);
        expect(await f.registry.getImageAllowed(image(1))).toBe(false);
        expect(await probe.getImageAllowed(image(1))).toBe(false);
        expect(await probe.getImageAllowed(image(0))).toBe(true);
        const twice = await f.registry.sendRevokeImage(f.owner.getSender(), image(1));
        expect(twice.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_UNKNOWN_IMAGE });

        const id = await f.registry.getNextProposalId();
        await f.registry.sendProposeImage(f.owner.getSender(), image(1));
        const early = await f.registry.sendExecute(f.stranger.getSender(), id);
        expect(early.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_TIMELOCK_ACTIVE });
        expect(await probe.getImageAllowed(image(1))).toBe(false);
        f.blockchain.now! += Number(f.params.timelockDelay);
        await f.registry.sendExecute(f.stranger.getSender(), id);
        expect(await probe.getImageAllowed(image(1))).toBe(true);
    });

    it('revoking a model removes it from the push and keeps its name on record', async () => {
        const id = await f.registry.getNextProposalId();
        await f.registry.sendProposeModel(f.owner.getSender(), 0x55n, 'm');
        f.blockchain.now! += Number(f.params.timelockDelay);
        await f.registry.sendExecute(f.stranger.getSender(), id);
        const probe = await deployProbe(f, 1n);
        await linkContracts(f, { staking: probe.address });
        await f.registry.sendRevokeModel(f.owner.getSender(), 0x55n);
        expect((await f.registry.getModels()).has(0x55n)).toBe(false);
        expect(await probe.getModelAllowed(0x55n)).toBe(false);
        expect(await f.registry.getModel(0x55n)).toMatchObject({ name: 'm', enabled: false });
    });

    it('every pushing action is paid by its sender at the size of the config', async () => {
        await allowImages(0, 40);
        const probes = [await deployProbe(f, 1n), await deployProbe(f, 2n)];
        await linkContracts(f, { staking: probes[0].address, escrow: probes[1].address });
        // Pause pushes a config of the same size as now: exactly what the getter says.
        const needed = await f.registry.getPushValue();
        let before = await balanceOf(f.blockchain, f.registry.address);
        const short = await f.registry.sendPause(f.owner.getSender(), 0n, needed - 1n);
        expect(short.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
        const paused = await f.registry.sendPause(f.owner.getSender(), 0n, needed);
        expect(paused.transactions).toHaveTransaction({ to: f.registry.address, success: true });
        expect(await balanceOf(f.blockchain, f.registry.address)).toBeGreaterThanOrEqual(before);
        // A revocation pushes a smaller config: the price of the current one is enough.
        before = await balanceOf(f.blockchain, f.registry.address);
        const revoked = await f.registry.sendRevokeImage(f.owner.getSender(), image(3), 0n, await f.registry.getPushValue());
        expect(revoked.transactions).toHaveTransaction({ to: f.registry.address, success: true });
        expect(await balanceOf(f.blockchain, f.registry.address)).toBeGreaterThanOrEqual(before);
    });
});
