import '@ton/test-utils';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toNano } from '@ton/core';
import { SandboxContract } from '@ton/sandbox';
import { RefusalCode } from '../../protocol/paidRequest';
import { ChannelStatus, ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { keyToInt, signVoucher } from '../../wrappers/voucher';
import { openChannel, testKeys } from '../helpers/channel';
import { amounts, OP } from '../helpers/messages';
import { ServingFixture, deployServing } from '../helpers/serving';
import { Upstream, callWorker, chatBody, startSandboxWorker, startUpstream, voucherFor } from '../worker/helpers';

/**
 * Property 5 of the money-safety rules: ChangeClientKey never voids
 * vouchers the worker holds. The attack: a client announces a new voucher
 * key, keeps using the service with vouchers of the old key, waits for the
 * new key to take effect (the old vouchers then stop counting), closes and
 * takes its whole deposit back. Run end to end against the real daemon
 * (HTTP server, Payments, ChainView, Claimer, store) on the sandbox.
 */
describe('a client key change never voids what the worker served', () => {
    let f: ServingFixture;
    let channel: SandboxContract<ExtendedPaymentChannel>;
    let upstream: Upstream;
    let dir: string;

    beforeAll(async () => {
        f = await deployServing();
        ({ channel } = await openChannel(f, { nonce: 7n, deposit: toNano('20') }));
        upstream = await startUpstream();
        dir = mkdtempSync(join(tmpdir(), 'cocoon-key-change-'));
    });
    afterAll(async () => {
        await upstream.close();
        rmSync(dir, { recursive: true, force: true });
    });

    it('the worker is paid for every request it served; the client gets back exactly the rest', async () => {
        const { worker, encryptionKey } = await startSandboxWorker({
            blockchain: f.blockchain,
            operator: f.operator,
            workerStake: f.workerStake.address,
            workerKeys: f.workerKeys,
            backend: { kind: 'openai', baseUrl: upstream.url, modelMap: { 'cocoon-demo': 'llama-3-8b' } },
            prices: f.prices,
            dir,
            // The claim threshold is far above anything served here: only the key change can make the worker redeem.
            overrides: { payments: { claimThreshold: toNano('1000').toString(), watchIntervalMs: 3_600_000 } },
        });
        try {
            const ch = channel.address.toString();
            const deposit = await channel.getDeposit();
            const call = (voucher?: bigint) =>
                callWorker(worker.url, encryptionKey, {
                    version: 1,
                    channel: ch,
                    ...(voucher !== undefined ? { voucher: voucherFor(channel.address, voucher, f.clientKeys.secretKey) } : {}),
                    request: chatBody(),
                });

            // Honest use: each request pays the previous receipt.
            const first = await call();
            expect(first.status).toBe(200);
            const second = await call(BigInt(first.final.receipt.cumulativeCost));
            expect(second.status).toBe(200);
            const served = BigInt(second.final.receipt.cumulativeCost);

            // The client announces a new key and keeps asking, paying with old-key vouchers.
            const newKeys = testKeys('client-new-key');
            const announced = await channel.sendChangeClientKey(f.client.getSender(), keyToInt(newKeys.publicKey));
            expect(announced.transactions).toHaveTransaction({ to: channel.address, success: true });
            worker.chain.invalidate(channel.address); // the 3 s cache, as if it had expired
            const third = await call(served);
            expect(third.status).toBe(402);
            expect(third.error!.code).toBe(RefusalCode.ClientKeyChanging);
            // Nothing more was served, and the voucher that came with the refused request is kept: it pays all that was.
            expect(worker.store.receiptTotal(ch)).toBe(served);
            expect(worker.store.latestVoucher(ch)!.total).toBe(served);

            // Nor does the worker co-sign a final total while the key is changing (the approval would outlive the key).
            const close = await fetch(`${worker.url}/v1/channels/${ch}/close`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ total: served.toString(), signature: signVoucher(channel.address, served, f.clientKeys.secretKey).signature.toString('hex') }),
            });
            expect(close.status).toBe(409);
            expect(((await close.json()) as any).error.code).toBe(RefusalCode.ClientKeyChanging);

            // The daemon redeems at once, below its threshold, before the old key stops counting.
            const results = await worker.claimer.tick();
            expect(results).toEqual([expect.objectContaining({ channel: ch, claimed: true, paid: served })]);
            expect(await channel.getPaid()).toBe(served);

            // The key takes effect; the client closes and finalises.
            const state = await channel.getState();
            f.blockchain.now = state.pendingKeyAt + 1;
            expect(await channel.getClientKey()).toBe(keyToInt(newKeys.publicKey));
            await channel.sendRequestClose(f.client.getSender());
            f.blockchain.now = Number(await channel.getCloseDeadline()) + 1;
            const fin = await channel.sendFinalize(f.client.getSender());
            expect(await channel.getStatus()).toBe(BigInt(ChannelStatus.Closed));
            // The worker was paid for everything it served; the client got exactly the rest back.
            expect(await channel.getPaid()).toBe(worker.store.receiptTotal(ch));
            expect(amounts(fin.transactions, channel.address, f.client.address, OP.ChannelRefund)).toBe(deposit - served);
            expect(await channel.getRefunded()).toBe(deposit - served);
        } finally {
            await worker.stop();
        }
    });
});
