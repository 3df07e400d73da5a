import '@ton/test-utils';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, Cell, toNano } from '@ton/core';
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { ENVELOPE_MEDIA_TYPE } from '../../helpers/hpke';
import { openSseFrames, promptTokenBound, requestMaxCost, sealPaidRequest } from '../../protocol/paidRequest';
import { signVoucher } from '../../wrappers/voucher';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { openSignedReceipt, parseReceipt } from '../../wrappers/receipt';
import { WorkerStore } from '../../worker/src/store/store';
import { openChannel } from '../helpers/channel';
import { ServingFixture, deployServing } from '../helpers/serving';
import { Upstream, WORDS, callWorker, chatBody, startUpstream, startSandboxWorker, voucherFor } from './helpers';

jest.setTimeout(60_000);

const PRICES = { prompt: 1_000_000_000_000n, cached: 400_000_000_000n, completion: 2_000_000_000_000n, reasoning: 3_000_000_000_000n };

describe('worker shutdown', () => {
    let f: ServingFixture;
    let channel: SandboxContract<ExtendedPaymentChannel>;
    let operator: SandboxContract<TreasuryContract>;
    let upstream: Upstream;
    let dir: string;

    beforeAll(async () => {
        f = await deployServing({ prices: PRICES });
        ({ channel } = await openChannel(f, { nonce: 1n, deposit: toNano('10') }));
        operator = await f.blockchain.treasury('operator');
        upstream = await startUpstream();
        dir = mkdtempSync(join(tmpdir(), 'cocoon-worker-life-'));
    });
    afterAll(async () => {
        await upstream.close();
        rmSync(dir, { recursive: true, force: true });
    });

    it('cuts an in-flight stream with a receipt for what was delivered, claims what is owed, closes the store', async () => {
        const { worker, encryptionKey } = await startSandboxWorker({
            blockchain: f.blockchain,
            operator,
            workerStake: f.workerStake.address,
            workerKeys: f.workerKeys,
            backend: { kind: 'openai', baseUrl: upstream.url, modelMap: { 'cocoon-demo': 'llama-3-8b' } },
            prices: PRICES,
            dir,
            overrides: { shutdownTimeoutMs: 1000 },
        });
        const ch = channel.address.toString();
        // One served request, paid by the voucher of the next.
        const first = await callWorker(worker.url, encryptionKey, { version: 1, channel: ch, request: chatBody() });
        expect(first.status).toBe(200);
        const owed = BigInt(first.final.receipt.cumulativeCost);

        upstream.mode = 'crawl'; // 1.5 s a word: the stream far outlives the 500 ms grace
        try {
            const sealed = await sealPaidRequest(encryptionKey, { version: 1, channel: ch, voucher: voucherFor(channel.address, owed, f.clientKeys.secretKey), request: chatBody({ stream: true }) });
            const pending = fetch(`${worker.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': ENVELOPE_MEDIA_TYPE }, body: sealed.envelope }).then((r) => r.text());
            const deadline = Date.now() + 10_000;
            while (worker.server.active === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
            await new Promise((r) => setTimeout(r, 400));
            await worker.stop();
            const frames = openSseFrames(await pending, sealed.response);
            const last = frames.at(-1)!;
            expect(last.final).toBe(true);
            expect(last.json.choices[0].finish_reason).toBe('aborted');
            const delivered = frames
                .filter((x) => !x.final)
                .map((x) => x.json.choices[0].delta.content)
                .join('');
            expect(delivered.length).toBeGreaterThan(0);
            expect(delivered.length).toBeLessThan(WORDS.join('').length);
            const fields = parseReceipt(openSignedReceipt(Cell.fromBase64(last.json.receipt.boc)).receipt);
            expect(fields.usage.completion).toBe(BigInt(frames.filter((x) => !x.final).length));
            expect(fields.cumulativeCost).toBe(owed + fields.cost);
        } finally {
            upstream.mode = 'usage';
        }
        // The voucher that came with the cut request was redeemed on the way out (threshold ignored).
        expect(await channel.getPaid()).toBe(owed);
        // The store is closed; reopened, it holds both receipts and the claim.
        const store = WorkerStore.open(join(dir, 'store.db'));
        try {
            expect(store.receiptsOf(ch)).toHaveLength(2);
            expect(store.channel(ch)!.claimedTotal).toBe(owed);
            expect(store.integrityCheck()).toBe('ok');
        } finally {
            store.close();
        }
        // And nothing listens any more.
        await expect(fetch(`${worker.url}/health`)).rejects.toThrow();
    });

    it('keeps what it could be left unpaid for within its credit limit, and takes a voucher sent on its own', async () => {
        const { channel: ch2 } = await openChannel(f, { nonce: 2n, deposit: toNano('10') });
        const wdir = mkdtempSync(join(tmpdir(), 'cocoon-worker-unpaid-'));
        const body = chatBody();
        // A credit of exactly one request's most possible cost: one request unpaid at a time.
        const maxCost = requestMaxCost(PRICES, promptTokenBound(body), body.max_tokens);
        const { worker, encryptionKey } = await startSandboxWorker({
            blockchain: f.blockchain,
            operator,
            workerStake: f.workerStake.address,
            workerKeys: f.workerKeys,
            backend: { kind: 'openai', baseUrl: upstream.url, modelMap: { 'cocoon-demo': 'llama-3-8b' } },
            prices: PRICES,
            dir: wdir,
            overrides: { payments: { claimThreshold: '1000000000000', watchIntervalMs: 3_600_000, creditLimit: maxCost.toString() } },
        });
        const channel = ch2.address.toString();
        const pushVoucher = (total: bigint, signer = f.clientKeys.secretKey) =>
            fetch(`${worker.url}/v1/channels/${encodeURIComponent(channel)}/voucher`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ total: total.toString(), signature: signVoucher(ch2.address, total, signer).signature.toString('hex') }),
            });
        try {
            const ask = (voucher?: bigint) =>
                callWorker(worker.url, encryptionKey, {
                    version: 1,
                    channel,
                    ...(voucher !== undefined ? { voucher: voucherFor(ch2.address, voucher, f.clientKeys.secretKey) } : {}),
                    request: body,
                });
            // Nothing owed: a lone request is served.
            const r1 = await ask();
            expect(r1.status).toBe(200);
            const c1 = BigInt(r1.final.receipt.cumulativeCost);
            expect(c1).toBeLessThanOrEqual(maxCost);
            // Its receipt unpaid, another request would pass the credit.
            const refused = await ask();
            expect(refused.status).toBe(402);
            expect(refused.error!.code).toBe('voucher_required');
            // Paid with the request: served.
            const r2 = await ask(c1);
            expect(r2.status).toBe(200);
            const c2 = BigInt(r2.final.receipt.cumulativeCost);
            // Paid by a voucher sent on its own, with no request after it: the worker holds it at once.
            const pushed = await pushVoucher(c2);
            expect(pushed.status).toBe(200);
            expect(await pushed.json()).toEqual({ total: c2.toString(), served: c2.toString() });
            expect(worker.store.latestVoucher(channel)!.total).toBe(c2);
            expect((await ask()).status).toBe(200);
            // A voucher sent on its own is checked as one sent with a request, and a refused one changes nothing.
            const forged = await pushVoucher(c2 + 1n, f.workerKeys.secretKey);
            expect(forged.status).toBe(401);
            expect(((await forged.json()) as any).error.code).toBe('invalid_voucher');
            const older = await pushVoucher(c1);
            expect(older.status).toBe(409);
            const malformed = await fetch(`${worker.url}/v1/channels/${encodeURIComponent(channel)}/voucher`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ total: 'ten', signature: 'ab' }),
            });
            expect(malformed.status).toBe(400);
            expect(((await malformed.json()) as any).error.message).toMatch(/total/);
            const unknown = await fetch(`${worker.url}/v1/channels/${encodeURIComponent(new Address(0, Buffer.alloc(32, 9)).toString())}/voucher`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ total: '1', signature: '00'.repeat(64) }),
            });
            expect(unknown.status).toBe(404);
            expect(worker.store.latestVoucher(channel)!.total).toBe(c2);
        } finally {
            await worker.stop();
            rmSync(wdir, { recursive: true, force: true });
        }
    });
});
