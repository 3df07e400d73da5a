import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cell, toNano } from '@ton/core';
import { RefusalCode, encodeVoucher, requestMaxCost } from '../../protocol/paidRequest';
import { openSignedReceipt, parseReceipt, verifyReceipt } from '../../wrappers/receipt';
import { signVoucher } from '../../wrappers/voucher';
import { Admission, PaymentError } from '../../worker/src/payments';
import { WorkerStore } from '../../worker/src/store/store';
import { openChannel } from '../helpers/channel';
import { ServingFixture, daemonPayments, deployServing } from '../helpers/serving';
import { sandboxOpener } from './helpers';

/**
 * Many requests on one channel, as the daemon's Payments admits them: the
 * deposit covers every request in flight, and what the worker could be left
 * unpaid for (served and not covered by a voucher, plus the most every
 * request in flight can cost) stays within its credit limit. Receipts get
 * cumulative totals in the order they are settled, each provable alone.
 */
describe('credit rule: many requests on one channel', () => {
    let f: ServingFixture;
    const ASK = { promptBound: 10, maxTokens: 10 };

    beforeAll(async () => {
        f = await deployServing();
    });

    const maxCostOf = () => requestMaxCost(f.prices, ASK.promptBound, ASK.maxTokens);
    const usage = { promptTokens: 8, cachedTokens: 2, completionTokens: 5, reasoningTokens: 0, estimated: false };
    const refusal = (p: Promise<unknown>) =>
        p.then(
            () => undefined,
            (e) => e,
        );

    it('admits requests side by side up to the credit limit, then refuses with credit_limit (retry later), and again once one ends', async () => {
        const { channel } = await openChannel(f, { nonce: 1n, deposit: toNano('50') });
        const store = WorkerStore.open(':memory:');
        const maxCost = maxCostOf();
        const { payments } = daemonPayments(f, { store, creditLimit: 3n * maxCost });
        try {
            const ask = () => payments.admit({ channel: channel.address.toString(), ...ASK, modelId: f.modelId });
            const inFlight: Admission[] = [await ask(), await ask(), await ask()];
            const refused = await refusal(ask());
            expect(refused).toBeInstanceOf(PaymentError);
            expect(refused).toMatchObject({ status: 429, code: RefusalCode.CreditLimit, retryAfter: 1 });
            expect(refused.message).toMatch(/credit limit/);

            // Settled in another order than admitted: the worker numbers the receipts in settlement order.
            // Each uses all it may: above half its most possible cost.
            const full = { promptTokens: ASK.promptBound, cachedTokens: 0, completionTokens: ASK.maxTokens, reasoningTokens: ASK.maxTokens, estimated: false };
            const settle = async (a: Admission) => (await payments.settle(a, { modelId: f.modelId, usage: full, requestHash: randomBytes(32), responseHash: randomBytes(32) }))!;
            const receipts = [await settle(inFlight[2]), await settle(inFlight[0])];
            const fields = receipts.map((r) => {
                const { receipt, signature } = openSignedReceipt(Cell.fromBase64(r.boc));
                expect(verifyReceipt(receipt, signature, f.workerKeys.publicKey)).toBe(true);
                return parseReceipt(receipt);
            });
            expect(fields[0].cumulativeCost).toBe(fields[0].cost);
            expect(fields[1].cumulativeCost).toBe(fields[0].cumulativeCost + fields[1].cost);
            expect(2n * fields[0].cost).toBeGreaterThan(maxCost);
            // Two served and unpaid plus one in flight: another would pass the credit.
            expect(await refusal(ask())).toMatchObject({ code: RefusalCode.CreditLimit });
            // Paid by a voucher sent on its own: room again.
            const v = signVoucher(channel.address, fields[1].cumulativeCost, f.clientKeys.secretKey);
            expect(await payments.acceptVoucher({ channel: channel.address, body: { total: v.total, signature: v.signature } })).toEqual({
                total: fields[1].cumulativeCost.toString(),
                served: fields[1].cumulativeCost.toString(),
            });
            const more = [await ask(), await ask()];
            expect(await refusal(ask())).toMatchObject({ code: RefusalCode.CreditLimit });
            for (const a of [inFlight[1], ...more]) payments.release(a);
            expect(payments.pending).toBe(0);
        } finally {
            store.close();
        }
    });

    it('serves a lone request whatever the limit; with receipts unpaid and nothing in flight it asks for a voucher', async () => {
        const { channel } = await openChannel(f, { nonce: 2n, deposit: toNano('50') });
        const store = WorkerStore.open(':memory:');
        const { payments } = daemonPayments(f, { store, creditLimit: 1n });
        try {
            const ask = () => payments.admit({ channel: channel.address.toString(), ...ASK, modelId: f.modelId });
            const lone = await ask();
            expect(await refusal(ask())).toMatchObject({ code: RefusalCode.CreditLimit });
            const r = (await payments.settle(lone, { modelId: f.modelId, usage, requestHash: randomBytes(32), responseHash: randomBytes(32) }))!;
            // Unpaid and nothing in flight: the client must pay (a voucher), not wait.
            expect(await refusal(ask())).toMatchObject({ status: 402, code: RefusalCode.VoucherRequired });
            const v = signVoucher(channel.address, BigInt(r.cumulativeCost), f.clientKeys.secretKey);
            payments.release(await payments.admit({ channel: channel.address.toString(), voucher: encodeVoucher(v), ...ASK, modelId: f.modelId }));
        } finally {
            store.close();
        }
    });

    it('never admits more in flight than the deposit covers, however high the credit', async () => {
        const maxCost = maxCostOf();
        const { channel } = await openChannel(f, { nonce: 3n, deposit: 2n * maxCost + maxCost / 2n });
        const store = WorkerStore.open(':memory:');
        const { payments } = daemonPayments(f, { store, creditLimit: toNano('1000') });
        try {
            const ask = () => payments.admit({ channel: channel.address.toString(), ...ASK, modelId: f.modelId });
            const a = [await ask(), await ask()];
            expect(await refusal(ask())).toMatchObject({ status: 402, code: RefusalCode.InsufficientDeposit });
            a.forEach((x) => payments.release(x));
        } finally {
            store.close();
        }
    });

    it('judges a refusal for want of deposit on a chain read begun after the request arrived: a top-up that lands between two requests is seen, and a burst of refusals reads the chain at most once a second', async () => {
        const maxCost = maxCostOf();
        const { channel } = await openChannel(f, { nonce: 5n, deposit: maxCost + maxCost / 2n });
        const store = WorkerStore.open(':memory:');
        const opener = sandboxOpener(f.blockchain);
        let reads = 0;
        const counting = { ...opener, isDeployed: async (a: Parameters<typeof opener.isDeployed>[0]) => (reads++, opener.isDeployed(a)) };
        // A long-lived cache, as a busy daemon has: only a read past it can show the top-up.
        const { payments } = daemonPayments(f, { store, opener: counting, ttlMs: 60_000 });
        try {
            const ask = () => payments.admit({ channel: channel.address.toString(), ...ASK, modelId: f.modelId });
            const first = await ask();
            // The deposit covers one: a second is refused after a read past the cache, and the refusals of a burst
            // share reads (one per second at most) instead of each reading the chain.
            reads = 0;
            const started = Date.now();
            const burst = await Promise.all(Array.from({ length: 8 }, () => refusal(ask())));
            for (const r of burst) expect(r).toMatchObject({ status: 402, code: RefusalCode.InsufficientDeposit });
            expect(reads).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 1000) + 1);
            // The client tops up and sends again at once, within the second after those reads: admitted, because
            // its refusal would have to rest on a read begun after it arrived, and that read sees the top-up.
            await channel.sendTopUp(f.client.getSender(), 2n * maxCost);
            const again = await ask();
            expect(again.maxCost).toBe(maxCost);
            payments.release(first);
            payments.release(again);
            expect(payments.pending).toBe(0);
        } finally {
            store.close();
        }
    });

    it('settles concurrent requests with one fsync between them, and hands out no receipt before it', async () => {
        const { channel } = await openChannel(f, { nonce: 4n, deposit: toNano('50') });
        const dir = mkdtempSync(join(tmpdir(), 'cocoon-group-commit-'));
        const store = WorkerStore.open(join(dir, 'store.db'));
        const { payments } = daemonPayments(f, { store, creditLimit: toNano('10') });
        try {
            const key = channel.address.toString();
            const inFlight: Admission[] = [];
            for (let i = 0; i < 8; i++) inFlight.push(await payments.admit({ channel: key, ...ASK, modelId: f.modelId }));
            const syncsBefore = store.groupSyncs;
            const settling = inFlight.map((a) => payments.settle(a, { modelId: f.modelId, usage, requestHash: randomBytes(32), responseHash: randomBytes(32) }));
            // Written and numbered at once (the next request's credit counts them), but not yet given out by recovery.
            expect(store.receiptsAbove(key, 0n)).toBe(8);
            expect(store.receiptsAfter(key, 0n, 100)).toHaveLength(0);
            const receipts = (await Promise.all(settling)).map((r) => r!);
            expect(store.groupSyncs - syncsBefore).toBe(1);
            expect(receipts.map((r) => BigInt(r.cumulativeCost))).toEqual(receipts.map((r, i) => BigInt(r.cost) * BigInt(i + 1)));
            expect(store.receiptsAfter(key, 0n, 100).map((r) => r.requestId)).toEqual(receipts.map((r) => r.requestId));

            // One settling alone, looked at before its fsync: recovery does not see it yet.
            const lone = await payments.admit({ channel: key, ...ASK, modelId: f.modelId });
            const pending = payments.settle(lone, { modelId: f.modelId, usage, requestHash: randomBytes(32), responseHash: randomBytes(32) });
            expect(store.receiptsAfter(key, 0n, 100)).toHaveLength(8);
            const last = (await pending)!;
            expect(store.receiptsAfter(key, 0n, 100).map((r) => r.requestId)).toEqual([...receipts.map((r) => r.requestId), last.requestId]);
            expect(store.groupSyncs - syncsBefore).toBe(2);
        } finally {
            store.close();
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
