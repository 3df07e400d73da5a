import '@ton/test-utils';
import { Address, toNano } from '@ton/core';
import { SandboxContract } from '@ton/sandbox';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { ChainView } from '../../worker/src/chain';
import { ContractOpener } from '../../wrappers/toncenter';
import { EscrowFixture, deployEscrow, openChannel } from '../helpers/channel';
import { deployServing } from '../helpers/serving';
import { ExtendedWorkerStake } from '../../wrappers/WorkerStake';
import { sandboxOpener } from './helpers';

/**
 * The worker's cached view of the chain (worker/src/chain.ts): what a
 * request is served from. Reads are counted through the opener; the clock
 * is Date.now, moved by hand.
 */
describe('ChainView', () => {
    const TTL = 3000;
    let f: EscrowFixture;
    let channel: SandboxContract<ExtendedPaymentChannel>;
    let reads: number;
    let failReads: boolean;
    let opener: ContractOpener;
    let now: number;

    beforeEach(async () => {
        f = await deployEscrow();
        ({ channel } = await openChannel(f, { nonce: 1n, deposit: toNano('10') }));
        const base = sandboxOpener(f.blockchain);
        reads = 0;
        failReads = false;
        opener = {
            ...base,
            isDeployed: async (a: Address) => {
                reads++;
                if (failReads) throw new Error('the chain is not reachable');
                return base.isDeployed(a);
            },
        };
        now = Date.now();
        jest.spyOn(Date, 'now').mockImplementation(() => now);
    });
    afterEach(() => jest.restoreAllMocks());

    /** Lets a background read finish. */
    const settle = () => new Promise((r) => setImmediate(r));
    const deposit = async (view: ChainView) => (await view.channel(channel.address))!.deposit;
    /** Tops the channel up by 1 TON (and what the overhead leaves); returns the new deposit, read past the view. */
    const topUp = async () => {
        await channel.sendTopUp(f.client.getSender(), toNano('1'));
        const topped = await channel.getDeposit();
        expect(topped).toBeGreaterThanOrEqual(toNano('11'));
        return topped;
    };

    it('serves a read for its lifetime, then reads again', async () => {
        const view = new ChainView(opener, TTL);
        expect(await deposit(view)).toBe(toNano('10'));
        now += TTL / 2 - 1;
        expect(await deposit(view)).toBe(toNano('10'));
        expect(reads).toBe(1);
        // Nothing used it past half its life: it simply expires, and the next request reads it.
        now += TTL;
        const topped = await topUp();
        expect(await deposit(view)).toBe(topped);
        expect(reads).toBe(2);
    });

    it('re-reads an entry in use past half its life in the background: the request is not kept waiting, the next one sees the new state', async () => {
        const view = new ChainView(opener, TTL);
        await deposit(view);
        const topped = await topUp();
        now += TTL / 2;
        // Served at once from the cache (the old deposit) while the refresh runs.
        expect(await deposit(view)).toBe(toNano('10'));
        expect(reads).toBe(2);
        // Another request meanwhile does not start a second refresh.
        expect(await deposit(view)).toBe(toNano('10'));
        expect(reads).toBe(2);
        await settle();
        await settle();
        expect(await deposit(view)).toBe(topped);
        // The refreshed entry lives from the moment its read began: past the old entry's expiry it is still served
        // (no request waits), and being past half its own life it is refreshed once more in the background.
        now += TTL / 2 + 1;
        expect(await deposit(view)).toBe(topped);
        expect(reads).toBe(3);
    });

    it('never lets a refresh bring back an entry invalidated while it ran', async () => {
        const view = new ChainView(opener, TTL);
        await deposit(view);
        now += TTL / 2;
        await deposit(view); // starts the refresh
        view.invalidate(channel.address);
        await settle();
        await settle();
        // Invalidated: the next request reads the chain itself.
        await deposit(view);
        expect(reads).toBe(3);
    });

    it('keeps serving the entry when a refresh fails, until it expires; then answers from the last good read during an outage', async () => {
        const view = new ChainView(opener, TTL);
        await deposit(view);
        failReads = true;
        now += TTL / 2;
        expect(await deposit(view)).toBe(toNano('10'));
        await settle();
        expect(await deposit(view)).toBe(toNano('10'));
        // Expired with the chain still down: the last good answer (bounded by maxStaleMs).
        now += TTL;
        expect(await deposit(view)).toBe(toNano('10'));
        // Fresh reads (the claimer's) never fall back.
        await expect(view.channel(channel.address, true)).rejects.toThrow(/not reachable/);
    });
});

describe('ChainView: a WorkerStake', () => {
    afterEach(() => jest.restoreAllMocks());

    it('is read once, in one get-method, for both its view and its price schedule, which then agree with the wrapper', async () => {
        const s = await deployServing();
        const opener = sandboxOpener(s.blockchain);
        // A life no test run outlasts: no refresh-ahead read starts while counting. The host clock is fixed to check the read's stamp.
        const view = new ChainView(opener, 3_600_000, undefined, () => 1_234_567);
        const records = jest.spyOn(ExtendedWorkerStake.prototype, 'getRecord');
        const [ws, prices] = await Promise.all([view.workerStake(s.workerStake.address), view.priceSchedule(s.workerStake.address)]);
        expect(records).toHaveBeenCalledTimes(1);
        // Cached: the next request reads nothing.
        await view.workerStake(s.workerStake.address);
        await view.priceSchedule(s.workerStake.address);
        expect(records).toHaveBeenCalledTimes(1);
        records.mockRestore();

        const c = s.workerStake;
        const inForce = await c.getPricesInForce();
        expect(ws!.isActive).toBe(await c.getIsActive());
        expect(ws!.isActive).toBe(true);
        expect(ws!.prices).toEqual({ prompt: inForce.prompt, cached: inForce.cached, completion: inForce.completion, reasoning: inForce.reasoning });
        expect(ws!.prices).toEqual(s.prices);
        expect(ws!.attestation).toEqual(await c.getAttestation());
        expect(ws!.payoutEscrow?.equals(s.escrow.address)).toBe(true);
        expect(prices!.schedule).toEqual(await c.getPriceSchedule());
        expect(prices!.schedule.chainTime).toBe(Number(ws!.state.chainTime));
        // Dated by the host clock when the read started, as pricing judges it (worker/src/pricing.ts).
        expect(prices!.readAt).toBe(1_234_567);
    });

    it('is null where nothing is deployed, for both', async () => {
        const s = await deployServing();
        const view = new ChainView(sandboxOpener(s.blockchain), 3000);
        const nowhere = new Address(0, Buffer.alloc(32, 7));
        expect(await view.workerStake(nowhere)).toBeNull();
        expect(await view.priceSchedule(nowhere)).toBeNull();
    });
});
