import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Address } from '@ton/core';
import { receiptMaxCost } from '../../wrappers/receipt';
import { verifyVoucher } from '../../wrappers/voucher';
import { CocoonClient, CocoonError } from '../../client/src/client';
import type { WorkerInfo } from '../../client/src/discovery';
import { ClientStore } from '../../client/src/store';
import { testKeys } from '../helpers/channel';
import { MODEL, PRICES, StandIn, TEXT, USAGE, clientWithChannel } from './standIn';

/**
 * Receipt verification, rule by rule, against a real HTTP worker stand-in
 * (./standIn.ts) that speaks the sealed protocol and signs receipts that a
 * test can falsify one field at a time. The chain is a stub that reports
 * the channel open and funded (the devnet suite covers the real chain).
 * tests/client/receiptRules.spec.ts runs every rule on both paths.
 */

describe('client receipt verification', () => {
    const workerKey = testKeys('verify-worker');
    const channelKey = testKeys('verify-client');
    const channel = new Address(0, randomBytes(32));
    // No receipt recovery here (tests/client/recovery.spec.ts covers it); the stand-in counts from the voucher it got.
    let si: StandIn;
    let store: ClientStore;
    let client: CocoonClient;
    let worker: WorkerInfo;
    let dir: string;
    const vouchersSeen = () => si.vouchersSeen;

    beforeAll(async () => {
        si = await new StandIn({ workerKey, channelKey, countFrom: 'voucher', recovery: false }).start();
        dir = await fs.mkdtemp(join(tmpdir(), 'cocoon-client-verify-'));
        ({ client, store } = clientWithChannel({ dbPath: join(dir, 'store.db'), channel, workerStake: si.workerStake, channelKey }));
        worker = si.info();
    });

    afterAll(async () => {
        store.close();
        await si.close();
        await fs.rm(dir, { recursive: true, force: true });
    });

    afterEach(() => afterEachReset());

    const ask = (stream = false) => client.call(worker, { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, stream });
    const cost = receiptMaxCost(PRICES, USAGE);

    it('pays an honest receipt with a voucher for the cumulative cost, sent with the next request', async () => {
        const r = await ask();
        expect(r.cost).toBe(cost);
        const v = store.latestVoucher(channel.toString())!;
        expect(v.total).toBe(cost);
        expect(verifyVoucher(channel, v.total, v.signature, channelKey.publicKey)).toBe(true);
        const s = await ask(true);
        expect(s.content).toBe(TEXT);
        expect(vouchersSeen().at(-1)).toBe(cost);
        expect(store.latestVoucher(channel.toString())!.total).toBe(2n * cost);
    });

    const cases: Array<[string, () => void, RegExp]> = [
        ['signed by another key', () => (si.signWith = testKeys('someone-else').secretKey), /attested worker key/],
        ['for another model', () => (si.tamper = (f) => ({ ...f, modelId: f.modelId + 1n })), /another model/],
        ['for another channel', () => (si.tamper = (f) => ({ ...f, channel: new Address(0, randomBytes(32)) })), /another channel/],
        [
            'with usage other than delivered',
            () => (si.tamper = (f) => ({ ...f, usage: { ...f.usage, prompt: f.usage.prompt + 1n }, cost: receiptMaxCost(PRICES, { ...f.usage, prompt: f.usage.prompt + 1n }) })),
            /usage\.prompt/,
        ],
        ['over max_tokens', () => (si.usage = { ...USAGE, completion: 9n }), /max_tokens/],
        ['for another response', () => (si.tamper = (f) => ({ ...f, responseHash: f.responseHash ^ 1n })), /response hash/],
        ['for another request', () => (si.tamper = (f) => ({ ...f, requestHash: f.requestHash ^ 1n })), /request hash/],
        ['above the price terms', () => (si.tamper = (f) => ({ ...f, cost: f.cost + 1n, cumulativeCost: f.cumulativeCost + 1n })), /exceeds/],
        ['with a cumulative cost that skips ahead', () => (si.tamper = (f) => ({ ...f, cumulativeCost: f.cumulativeCost + 5n })), /cumulative/],
    ];

    it.each(cases)('rejects a receipt %s, records it and signs nothing', async (_name, arrange, reason) => {
        const before = store.latestVoucher(channel.toString())!.total;
        const bad = store.badReceipts().length;
        arrange();
        const err = await ask().catch((e) => e);
        expect(err).toBeInstanceOf(CocoonError);
        expect(err.code).toBe('receipt_rejected');
        expect(err.message).toMatch(reason);
        expect(store.latestVoucher(channel.toString())!.total).toBe(before);
        expect(store.badReceipts()).toHaveLength(bad + 1);
        expect(client.excluded.has(si.workerStake.toString())).toBe(true);
        client.excluded.clear();
        // An honest receipt afterwards is paid as usual (the stand-in counts from the voucher it got).
        afterEachReset();
        const ok = await ask();
        expect(store.latestVoucher(channel.toString())!.total).toBe(before + ok.cost);
    });

    function afterEachReset() {
        si.reset();
    }

    it('keeps the ledger across a restart: the reopened store holds the same channel, receipts, newest voucher and exclusions', () => {
        const voucher = store.latestVoucher(channel.toString())!;
        const receipts = store.receipts(channel.toString()).length;
        store.close();
        store = ClientStore.open(join(dir, 'store.db'));
        expect(store.latestVoucher(channel.toString())).toEqual(voucher);
        expect(store.receipts(channel.toString())).toHaveLength(receipts);
        const rows = store.channels();
        expect(rows).toHaveLength(1);
        // A client on the reopened ledger still excludes the worker caught with bad receipts.
        const again = new CocoonClient({ ...client.o, store });
        expect(again.excluded.has(si.workerStake.toString())).toBe(true);
        expect(rows[0].vouched).toBe(rows[0].verified);
        expect(store.receipts(channel.toString()).at(-1)!.cumulative).toBe(rows[0].verified);
    });
});
