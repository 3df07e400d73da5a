import '@ton/test-utils';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cell, toNano } from '@ton/core';
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { ENVELOPE_MEDIA_TYPE } from '../../helpers/hpke';
import { openSseFrames, sealPaidRequest } from '../../protocol/paidRequest';
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
            backend: { kind: 'openai', baseUrl: upstream.url, modelMap: { 'cocoon-dev-model': 'llama-3-8b' } },
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

    it('stops serving a client whose vouchers leave more than one receipt unpaid', async () => {
        const { channel: ch2 } = await openChannel(f, { nonce: 2n, deposit: toNano('10') });
        const wdir = mkdtempSync(join(tmpdir(), 'cocoon-worker-unpaid-'));
        const { worker, encryptionKey } = await startSandboxWorker({
            blockchain: f.blockchain,
            operator,
            workerStake: f.workerStake.address,
            workerKeys: f.workerKeys,
            backend: { kind: 'openai', baseUrl: upstream.url, modelMap: { 'cocoon-dev-model': 'llama-3-8b' } },
            prices: PRICES,
            dir: wdir,
        });
        try {
            const ask = (voucher?: bigint) =>
                callWorker(worker.url, encryptionKey, {
                    version: 1,
                    channel: ch2.address.toString(),
                    ...(voucher !== undefined ? { voucher: voucherFor(ch2.address, voucher, f.clientKeys.secretKey) } : {}),
                    request: chatBody(),
                });
            const r1 = await ask();
            expect(r1.status).toBe(200);
            const r2 = await ask(); // one receipt unpaid: still served
            expect(r2.status).toBe(200);
            const refused = await ask();
            expect(refused.status).toBe(402);
            expect(refused.error!.code).toBe('voucher_required');
            // Paying for the first brings it back to one unpaid receipt.
            const r3 = await ask(BigInt(r1.final.receipt.cumulativeCost));
            expect(r3.status).toBe(200);
            expect((await ask(BigInt(r1.final.receipt.cumulativeCost))).status).toBe(402);
            expect((await ask(BigInt(r3.final.receipt.cumulativeCost))).status).toBe(200);
        } finally {
            await worker.stop();
            rmSync(wdir, { recursive: true, force: true });
        }
    });
});
