import { randomBytes } from 'node:crypto';
import { Address, toNano } from '@ton/core';
import { ReceiptFields, makeSignedReceipt, receiptMaxCost } from '../../wrappers/receipt';
import { verifyVoucher } from '../../wrappers/voucher';
import { CocoonClient, CocoonError } from '../../client/src/client';
import type { WorkerInfo } from '../../client/src/discovery';
import { ClientStore } from '../../client/src/store';
import { testKeys } from '../helpers/channel';
import { MODEL, PRICES, StandIn, USAGE, standInPerTest, stubOpener } from './standIn';

/**
 * Receipt recovery in the client: a worker stand-in (./standIn.ts) that
 * stores each receipt before answering (as worker/src/payments.ts does) and
 * can lose the final frame, and whose receipts endpoint a test can make lie.
 * The client pays a genuinely lost receipt and nothing else.
 */

const COST = receiptMaxCost(PRICES, USAGE);

describe('client receipt recovery', () => {
    const workerKey = testKeys('recovery-worker');
    const channelKey = testKeys('recovery-client');
    const t = standInPerTest('recovery', { workerKey, channelKey });
    let si: StandIn, channel: Address, store: ClientStore, client: CocoonClient, worker: WorkerInfo;
    beforeEach(() => {
        ({ si, channel, store, client } = t);
        worker = si.info();
    });

    /** A receipt signed by the worker for `requestHash` on the test's channel, continuing its ledger, as the worker would store it. */
    function receipt(requestHash: bigint): { wire: import('../../protocol/paidRequest').ReceiptWire; fields: ReceiptFields; channel: string } {
        return si.store(channel, si.honest(channel, requestHash, 0n, USAGE));
    }

    const ask = () => client.call(worker, { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    const ch = () => channel.toString();

    it('pays a receipt whose final frame was lost, once, right after the broken call', async () => {
        await ask();
        si.loseFinal = true;
        const err = await ask().catch((e) => e);
        expect(err).toBeInstanceOf(CocoonError);
        expect(err.code).toBe('worker_unreachable'); // cut before the headers, as a worker killed between storing and answering
        // The worker stored it; the client read it back, checked it against its own request and paid it.
        expect(si.queries).toBe(1);
        expect(store.receipts(ch()).map((r) => r.cumulative)).toEqual([COST, 2n * COST]);
        const v = store.latestVoucher(ch())!;
        expect(v.total).toBe(2n * COST);
        expect(verifyVoucher(channel, v.total, v.signature, channelKey.publicKey)).toBe(true);
        expect(store.pendingAttempts(ch())).toEqual([]);
        expect(client.excluded.size).toBe(0);
        si.loseFinal = false;
        const next = await ask();
        expect(next.fields!.cumulativeCost).toBe(3n * COST);
    });

    it('recovers a lost receipt when the next receipt skips ahead (the worker could not be asked at once)', async () => {
        si.loseFinal = true;
        si.queriesDown = true;
        await expect(ask()).rejects.toMatchObject({ code: 'worker_unreachable' });
        expect(store.receipts(ch())).toEqual([]);
        expect(store.pendingAttempts(ch())).toHaveLength(1);
        si.loseFinal = false;
        si.queriesDown = false;
        // The receipt in hand says 2 x COST: the one between is fetched, checked and paid first.
        const r = await ask();
        expect(r.fields!.cumulativeCost).toBe(2n * COST);
        expect(store.receipts(ch()).map((x) => x.cumulative)).toEqual([COST, 2n * COST]);
        expect(store.latestVoucher(ch())!.total).toBe(2n * COST);
        expect(store.pendingAttempts(ch())).toEqual([]);
    });

    it('a receipt that skips ahead while the worker cannot be asked for the ones before it is neither paid nor refused: it waits, and is paid after them', async () => {
        si.loseFinal = true;
        si.queriesDown = true;
        await expect(ask()).rejects.toMatchObject({ code: 'worker_unreachable' });
        // The next answer arrives whole, its receipt at 2 x COST, and the worker still cannot be asked for the first.
        si.loseFinal = false;
        await expect(ask()).rejects.toMatchObject({ code: 'worker_unreachable' });
        expect(store.badReceipts()).toEqual([]);
        expect(client.excluded.size).toBe(0);
        expect(store.latestVoucher(ch())).toBeUndefined();
        expect(store.pendingAttempts(ch())).toHaveLength(2);
        si.queriesDown = false;
        // Back: the two receipts before the third are fetched, checked and paid first, in order.
        const r = await ask();
        expect(r.fields!.cumulativeCost).toBe(3n * COST);
        expect(store.receipts(ch()).map((x) => x.cumulative)).toEqual([COST, 2n * COST, 3n * COST]);
        expect(store.latestVoucher(ch())!.total).toBe(3n * COST);
        expect(store.pendingAttempts(ch())).toEqual([]);
    });

    async function expectRejected(reason: RegExp) {
        const bad = store.badReceipts().length;
        const err = await ask().catch((e) => e);
        expect(err).toBeInstanceOf(CocoonError);
        expect(err.code).toBe('receipt_rejected');
        expect(err.message).toMatch(reason);
        expect(store.badReceipts()).toHaveLength(bad + 1);
        expect(client.excluded.has(si.workerStake.toString())).toBe(true);
    }

    it('serves on through a chain outage from the channel state last seen, and discovery from the workers last verified', async () => {
        let chainDown = false;
        client = new CocoonClient({
            ...client.o,
            channelRecheckSec: 0, // every call re-checks the channel on chain
            opener: stubOpener(PRICES, () => chainDown),
        });
        await ask();
        chainDown = true;
        const r = await ask();
        expect(r.fields!.cumulativeCost).toBe(2n * COST);
        // Running low but still covering the request: served, the top-up tried beside it (and failing for now).
        store.setDeposit(ch(), 2n * COST + toNano('0.5'));
        expect((await ask()).fields!.cumulativeCost).toBe(3n * COST);
        // A channel that cannot cover the request without a top-up cannot be served without the chain.
        store.setDeposit(ch(), 3n * COST + 1n);
        await expect(ask()).rejects.toThrow(/ECONNREFUSED/);
    });

    it('rejects a fabricated receipt whose request hash is none of ours, and signs nothing for it', async () => {
        await ask();
        // The worker invents a receipt for a request never sent, and skips ahead past it.
        receipt(BigInt('0x' + randomBytes(32).toString('hex')));
        await expectRejected(/matches no request of ours/);
        expect(store.latestVoucher(ch())!.total).toBe(COST);
        expect(store.channel(ch())!.verified).toBe(COST);
    });

    it('rejects a second receipt for one request (each attempt pays once)', async () => {
        await ask();
        si.loseFinal = true;
        si.queriesDown = true;
        await expect(ask()).rejects.toMatchObject({ code: 'worker_unreachable' });
        const lost = si.stored.at(-1)!.fields;
        // Two receipts for the one lost request.
        receipt(lost.requestHash);
        si.loseFinal = false;
        si.queriesDown = false;
        await expectRejected(/matches no request of ours/);
        // The first of the two was genuine and is paid; the duplicate is not.
        expect(store.channel(ch())!.verified).toBe(2n * COST);
        expect(store.latestVoucher(ch())!.total).toBe(2n * COST);
    });

    it('rejects a recovered receipt for a request already paid', async () => {
        await ask();
        const paid = si.stored.find((r) => r.channel === ch())!.fields;
        receipt(paid.requestHash);
        await expectRejected(/matches no request of ours/);
        expect(store.latestVoucher(ch())!.total).toBe(COST);
    });

    it('rejects a gap in the recovered chain', async () => {
        si.loseFinal = true;
        // The endpoint leaves a hole: the lost receipt claims a cumulative above 0 + its cost.
        si.forge = (list) =>
            list.map((w) => {
                const f = si.stored.find((x) => x.wire.boc === w.boc)!.fields;
                const fake = { ...f, cumulativeCost: f.cumulativeCost + 5n };
                return { ...w, cumulativeCost: fake.cumulativeCost.toString(), boc: makeSignedReceipt(fake, workerKey.secretKey).evidence.toBoc().toString('base64') };
            });
        await expectRejected(/gap or an overlap/);
        expect(store.latestVoucher(ch())).toBeUndefined();
    });

    it("rejects a recovered receipt above its request's max_tokens", async () => {
        si.loseFinal = true;
        // Re-signed with more completion tokens than the request allowed (4), cost and cumulative to match.
        si.forge = (list) =>
            list.map((w) => {
                const f = si.stored.find((x) => x.wire.boc === w.boc)!.fields;
                const usage = { ...f.usage, completion: 9n };
                const cost = receiptMaxCost(PRICES, usage);
                const fake = { ...f, usage, cost, cumulativeCost: cost };
                return { ...w, cost: cost.toString(), cumulativeCost: cost.toString(), boc: makeSignedReceipt(fake, workerKey.secretKey).evidence.toBoc().toString('base64') };
            });
        await expectRejected(/max_tokens/);
        expect(store.latestVoucher(ch())).toBeUndefined();
    });
});
