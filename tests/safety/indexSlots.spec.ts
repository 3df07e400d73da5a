import { beginCell, toNano } from '@ton/core';
import { Opcode } from '../../wrappers/opcodes';
import '@ton/test-utils';
import { ExitCode } from '../../wrappers/exitCodes';
import { ExtendedStaking } from '../../wrappers/Staking';
import { Constants } from '../../wrappers/constants';
import { BASECHAIN_GAS_PRICE, CELL_UNDERFLOW, balanceOf, storageFeesOf } from '../helpers/safety';
import { IMAGE, MODEL, StakingFixture, attest, deployStaking, keyInt, stake, workerKeys } from '../helpers/staking';

const STAKE = toNano('20');
const OP = ExtendedStaking.opcodes;

/**
 * Property: a slot of Staking's per-model index held by a worker that is no
 * longer live (attestation expired, image or model revoked in Staking's
 * config) can be freed by anyone, so a full index never keeps live workers
 * out; a live entry cannot be evicted. The evicted WorkerStake's later
 * WorkerUnindexed is ignored (no bounce), and a re-attestation lists it again.
 */
describe('indexSlots', () => {
    let f: StakingFixture;

    beforeEach(async () => {
        f = await deployStaking({ maxActiveWorkers: 2n });
    });

    async function listedWorker(name: string, expiresIn: number) {
        const workerKey = keyInt(workerKeys(name).publicKey);
        const { worker } = await stake(f, STAKE, { workerKey });
        await attest(f, worker.address, { workerKey, expiresAt: BigInt(f.blockchain.now! + expiresIn) });
        return { worker, workerKey };
    }

    const slotOf = async (address: { equals: (a: any) => boolean }) => {
        for (let slot = 0n; slot < (await f.staking.getWorkerCount(MODEL)); slot++) {
            const page = await f.staking.getStaleWorkers(MODEL, slot, 1n);
            const live = await f.staking.getActiveWorkers(MODEL, slot, 1n);
            const e = page.get(Number(slot)) ?? live.get(Number(slot));
            if (e && address.equals(e.worker)) return slot;
        }
        return undefined;
    };

    it('a stranger evicts an expired worker from a full index and a live worker gets listed', async () => {
        const expiring = await listedWorker('expiring', 600);
        const lasting = await listedWorker('lasting', 86400);
        expect(await f.staking.getWorkerCount(MODEL)).toBe(2n);

        // Full: a third live worker is refused a slot.
        const newcomer = await listedWorker('newcomer', 86400);
        expect((await newcomer.worker.getState()).listed).toBe(false);

        // A live entry cannot be evicted.
        const liveSlot = (await slotOf(lasting.worker.address))!;
        const refused = await f.staking.sendEvictWorker(f.stranger.getSender(), MODEL, liveSlot);
        expect(refused.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_WORKER_LIVE });

        f.blockchain.now! += 601;
        const stale = await f.staking.getAllStaleWorkers(MODEL);
        expect([...stale.values()].map((e) => e.worker.toString())).toEqual([expiring.worker.address.toString()]);
        const slot = BigInt([...stale.keys()][0]);

        const stakingBefore = await balanceOf(f.blockchain, f.staking.address);
        const evicted = await f.staking.sendEvictWorker(f.stranger.getSender(), MODEL, slot, 9n);
        expect(evicted.transactions).toHaveTransaction({ from: f.stranger.address, to: f.staking.address, success: true });
        expect(evicted.transactions).toHaveTransaction({ from: f.staking.address, to: f.stranger.address, op: Opcode.Excesses });
        expect(await f.staking.getWorkerCount(MODEL)).toBe(1n);
        // The stranger paid the gas; Staking's balance is what it was, less its rent.
        expect(await balanceOf(f.blockchain, f.staking.address)).toBe(stakingBefore - storageFeesOf(evicted.transactions, f.staking.address));

        // The live newcomer gets the freed slot on its next attestation.
        await attest(f, newcomer.worker.address, { workerKey: newcomer.workerKey, expiresAt: BigInt(f.blockchain.now! + 86400) });
        expect((await newcomer.worker.getState()).listed).toBe(true);
        const active = (await f.staking.getAllActiveWorkers(MODEL)).map((e) => e.worker.toString()).sort();
        expect(active).toEqual([lasting.worker.address.toString(), newcomer.worker.address.toString()].sort());

        // The evicted worker unbonds later: its WorkerUnindexed is ignored, not bounced.
        const unbond = await expiring.worker.sendStartUnbonding(f.provider.getSender());
        expect(unbond.transactions).toHaveTransaction({ from: expiring.worker.address, to: f.staking.address, op: OP.WorkerUnindexed, success: true });
        expect(unbond.transactions).not.toHaveTransaction({ from: f.staking.address, to: expiring.worker.address, inMessageBounced: true });
        expect(await f.staking.getWorkerCount(MODEL)).toBe(2n);
        expect((await f.staking.getAllActiveWorkers(MODEL)).length).toBe(2);
    });

    it('an evicted worker is listed again by its next attestation', async () => {
        const w = await listedWorker('expiring', 600);
        f.blockchain.now! += 601;
        await f.staking.sendEvictWorker(f.stranger.getSender(), MODEL, 0n);
        expect(await f.staking.getWorkerCount(MODEL)).toBe(0n);
        await attest(f, w.worker.address, { workerKey: w.workerKey, expiresAt: BigInt(f.blockchain.now! + 86400) });
        expect((await f.staking.getAllActiveWorkers(MODEL)).map((e) => e.worker.toString())).toEqual([w.worker.address.toString()]);
    });

    it("a worker whose image is revoked in Staking's config can be evicted", async () => {
        await listedWorker('revoked', 86400);
        const live = await f.staking.sendEvictWorker(f.stranger.getSender(), MODEL, 0n);
        expect(live.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_WORKER_LIVE });
        await f.registry.sendRevokeImage(f.owner.getSender(), IMAGE);
        const evicted = await f.staking.sendEvictWorker(f.stranger.getSender(), MODEL, 0n);
        expect(evicted.transactions).toHaveTransaction({ to: f.staking.address, success: true });
        expect(await f.staking.getWorkerCount(MODEL)).toBe(0n);
    });

    it('EvictWorker refuses too little value, a malformed body, an unknown slot and a replay', async () => {
        await listedWorker('a', 600);
        await listedWorker('b', 600);
        f.blockchain.now! += 601;
        const minimum = Constants.GAS_STAKING_EVICT * BASECHAIN_GAS_PRICE + Constants.MSG_FWD_BUDGET;
        const poor = await f.staking.sendEvictWorker(f.stranger.getSender(), MODEL, 0n, 0n, minimum - 1n);
        expect(poor.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
        const malformed = await f.stranger.send({ to: f.staking.address, value: toNano('0.1'), body: beginCell().storeUint(OP.EvictWorker, 32).storeUint(0, 64).endCell() });
        expect(malformed.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: CELL_UNDERFLOW });
        const unknown = await f.staking.sendEvictWorker(f.stranger.getSender(), MODEL, 2n);
        expect(unknown.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_UNKNOWN_SLOT });
        const otherModel = await f.staking.sendEvictWorker(f.stranger.getSender(), MODEL + 1n, 0n);
        expect(otherModel.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_UNKNOWN_SLOT });
        expect(await f.staking.getWorkerCount(MODEL)).toBe(2n);

        const first = await f.staking.sendEvictWorker(f.stranger.getSender(), MODEL, 1n, 0n, minimum);
        expect(first.transactions).toHaveTransaction({ to: f.staking.address, success: true });
        const replay = await f.staking.sendEvictWorker(f.stranger.getSender(), MODEL, 1n);
        expect(replay.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_UNKNOWN_SLOT });
        // The reply carries the rest of the value back and cannot bounce.
        const reply = first.transactions.find((tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.src.equals(f.staking.address))!;
        expect(reply.inMessage!.info.type === 'internal' && reply.inMessage!.info.bounce).toBe(false);
        expect(await f.staking.getWorkerCount(MODEL)).toBe(1n);
    });
});
