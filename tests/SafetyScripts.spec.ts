import '@ton/test-utils';
import { toNano } from '@ton/core';
import { SandboxNetworkProvider, ScriptedUI } from '../scripts/lib/sandboxProvider';
import { hex256 } from '../helpers/bytes';
import { run as evictStaleWorkers } from '../scripts/evictStaleWorkers';
import { run as reclaimStranded } from '../scripts/reclaimStranded';
import { keyToInt } from '../wrappers/voucher';
import { deployEscrow } from './helpers/channel';
import { installRefuser } from './helpers/safety';
import { MODEL, attest, deployStaking, keyInt, stake, workerKeys } from './helpers/staking';

/** The anyone-actions of the money-safety rules, run as `npx blueprint run` would run them, over the sandbox. */
describe('safety scripts', () => {
    it('evictStaleWorkers frees every stale slot of a model and no live one', async () => {
        const f = await deployStaking({ maxActiveWorkers: 3n });
        const listed = async (name: string, expiresIn: number) => {
            const workerKey = keyInt(workerKeys(name).publicKey);
            const { worker } = await stake(f, toNano('20'), { workerKey });
            await attest(f, worker.address, { workerKey, expiresAt: BigInt(f.blockchain.now! + expiresIn) });
            return worker;
        };
        await listed('soon-a', 600);
        const live = await listed('lasting', 86400);
        await listed('soon-b', 600);
        const stranger = new SandboxNetworkProvider(f.blockchain, f.stranger, new ScriptedUI());
        expect(await evictStaleWorkers(stranger, [f.staking.address.toString(), hex256(MODEL)])).toBe(0);
        f.blockchain.now! += 601;
        expect(await evictStaleWorkers(stranger, [f.staking.address.toString(), hex256(MODEL)])).toBe(2);
        expect(await f.staking.getWorkerCount(MODEL)).toBe(1n);
        const [left] = await f.staking.getAllActiveWorkers(MODEL);
        expect(left.worker.equals(live.address)).toBe(true);
    });

    it('reclaimStranded checks what is kept for the sender, then takes it back once', async () => {
        const f = await deployStaking();
        const key = keyInt(workerKeys('nobody').publicKey);
        await f.staking.sendSyncWorkerConfig(f.stranger.getSender(), f.provider.address, key);
        const kept = await f.staking.getStrandedRefund(f.stranger.address);
        expect(kept).toBeGreaterThan(0n);
        const owner = new SandboxNetworkProvider(f.blockchain, f.provider, new ScriptedUI());
        await expect(reclaimStranded(owner, ['staking', f.staking.address.toString(), 'sync'])).rejects.toThrow(/keeps nothing for you/);
        const stranger = new SandboxNetworkProvider(f.blockchain, f.stranger, new ScriptedUI());
        expect(await reclaimStranded(stranger, ['staking', f.staking.address.toString(), 'sync'])).toBe(kept);
        expect(await f.staking.getStrandedRefund(f.stranger.address)).toBe(0n);
        await expect(reclaimStranded(stranger, ['staking', f.staking.address.toString(), 'sync'])).rejects.toThrow(/keeps nothing for you/);

        const e = await deployEscrow();
        const channel = await e.escrow.getChannelAddress(e.client.address, e.workerStake.address, 5n);
        await installRefuser(e.blockchain, channel, e.registry.address);
        await e.escrow.sendOpenChannel(e.client.getSender(), {
            workerOwner: e.workerOwner.address,
            nonce: 5n,
            deposit: toNano('3'),
            clientKey: keyToInt(e.clientKeys.publicKey),
            workerKey: keyToInt(e.workerKeys.publicKey),
        });
        const held = await e.escrow.getStrandedFor(channel);
        expect(held).toBeGreaterThan(toNano('3'));
        const client = new SandboxNetworkProvider(e.blockchain, e.client, new ScriptedUI());
        const args = ['escrow', e.escrow.address.toString(), e.workerStake.address.toString(), '5'];
        expect(await reclaimStranded(client, args)).toBe(held);
        expect(await e.escrow.getStrandedFor(channel)).toBe(0n);
        await expect(reclaimStranded(client, args)).rejects.toThrow(/keeps nothing for channel/);
    });
});
