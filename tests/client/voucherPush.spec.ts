import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Address } from '@ton/core';
import type { WorkerInfo } from '../../client/src/discovery';
import { signVoucher } from '../../wrappers/voucher';
import { testKeys } from '../helpers/channel';
import { MODEL, clientWithChannel } from './standIn';

/**
 * A signed voucher reaches the worker within milliseconds: carried by the
 * next request on its channel when one comes (no extra message), or sent on
 * its own after the push delay.
 */
describe('voucher push', () => {
    const channel = new Address(0, Buffer.alloc(32, 0xcc));
    const channelKey = testKeys('push-client');

    async function setUp() {
        const posts: Array<{ url: string; total: string }> = [];
        const server = createServer(async (req, res) => {
            let body = '';
            for await (const c of req) body += c;
            posts.push({ url: req.url ?? '', total: JSON.parse(body).total });
            res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        const worker = { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, model: MODEL } as WorkerInfo;
        const { client, store } = clientWithChannel({ dbPath: ':memory:', channel, workerStake: new Address(0, Buffer.alloc(32, 0x57)), channelKey, voucherPushDelayMs: 30 });
        const pay = (total: bigint) => {
            const v = signVoucher(channel, total, channelKey.secretKey);
            store.recordPayment({ channel: channel.toString(), requestId: String(total), boc: 'b', cost: 1n, cumulative: total, model: MODEL, receivedAt: 1 }, { total, signature: v.signature });
        };
        const close = async () => {
            store.close();
            await new Promise((r) => server.close(r));
        };
        return { client, worker, posts, pay, close };
    }

    it('sends a voucher no request carries, once, after the delay; vouchers signed meanwhile go in one send', async () => {
        const { client, worker, posts, pay, close } = await setUp();
        try {
            pay(100n);
            const t0 = Date.now();
            client.vouchers.push(worker, channel.toString());
            pay(200n);
            client.vouchers.push(worker, channel.toString());
            await client.vouchers.settled();
            expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
            expect(posts).toEqual([{ url: `/v1/channels/${encodeURIComponent(channel.toString())}/voucher`, total: '200' }]);
            // Answered: the worker holds it, so nothing is sent again.
            client.vouchers.push(worker, channel.toString());
            await client.vouchers.settled();
            expect(posts).toHaveLength(1);
        } finally {
            await close();
        }
    });

    it('sends nothing when a request the worker admitted carried the newest voucher first', async () => {
        const { client, worker, posts, pay, close } = await setUp();
        try {
            pay(100n);
            client.vouchers.push(worker, channel.toString());
            client.vouchers.carried(channel.toString(), 100n);
            await client.vouchers.settled();
            expect(posts).toHaveLength(0);
            // A newer one than the request carried still goes.
            pay(300n);
            client.vouchers.push(worker, channel.toString());
            client.vouchers.carried(channel.toString(), 100n);
            await client.vouchers.settled();
            expect(posts.map((p) => p.total)).toEqual(['300']);
        } finally {
            await close();
        }
    });
});
