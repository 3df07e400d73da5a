import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Address, Contract, OpenedContract, toNano } from '@ton/core';
import { generateKeyPair, openRequest, X25519KeyPair, ENVELOPE_MEDIA_TYPE, frameToText } from '../../lib/hpke';
import { decodeVoucher, modelIdOf, paidRequestSchema, requestDigest, responseDigest } from '../../lib/protocol';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { ReceiptFields, makeSignedReceipt, receiptMaxCost } from '../../wrappers/receipt';
import { verifyVoucher } from '../../wrappers/voucher';
import type { ContractOpener } from '../../worker/src/chain';
import { CocoonClient, CocoonError } from '../../client/src/client';
import type { WorkerInfo } from '../../client/src/discovery';
import { ClientStore } from '../../client/src/store';
import { testKeys } from '../helpers/channel';

/**
 * Receipt verification, rule by rule, against a real HTTP worker stand-in
 * that speaks the sealed protocol (lib/hpke.ts) and signs receipts that a
 * test can falsify one field at a time. The chain is a stub that reports
 * the channel open and funded (the devnet suite covers the real chain).
 */

const PRICES = { prompt: 1_000_000_000n, cached: 500_000_000n, completion: 2_000_000_000n, reasoning: 2_000_000_000n };
const MODEL = 'cocoon-dev-model';
const TEXT = 'Hello there';

type Tamper = (f: ReceiptFields) => ReceiptFields;

describe('client receipt verification', () => {
    let server: Server;
    let enc: X25519KeyPair;
    const workerKey = testKeys('verify-worker');
    const channelKey = testKeys('verify-client');
    const workerStake = new Address(0, randomBytes(32));
    const channel = new Address(0, randomBytes(32));
    let tamper: Tamper = (f) => f;
    let signWith = workerKey.secretKey;
    let usageDelivered = { prompt_tokens: 7, completion_tokens: 2 };
    const vouchersSeen: bigint[] = [];
    let store: ClientStore;
    let client: CocoonClient;
    let worker: WorkerInfo;
    let dir: string;

    beforeAll(async () => {
        enc = await generateKeyPair();
        server = createServer(async (req, res) => {
            // No receipt recovery here (tests/client/recovery.spec.ts covers it): the worker holds nothing the client lacks.
            if (req.method === 'GET') return void res.writeHead(404).end();
            const chunks: Buffer[] = [];
            for await (const c of req) chunks.push(c as Buffer);
            const opened = await openRequest(Buffer.concat(chunks), enc);
            const paid = paidRequestSchema.parse(JSON.parse(opened.plaintext.toString('utf8')));
            const covered = paid.voucher ? decodeVoucher(paid.voucher).total : 0n;
            vouchersSeen.push(covered);
            const usage = { prompt: BigInt(usageDelivered.prompt_tokens), cached: 0n, completion: BigInt(usageDelivered.completion_tokens), reasoning: 0n };
            const cost = receiptMaxCost(PRICES, usage);
            const f = tamper({
                workerStake,
                channel: Address.parse(paid.channel),
                requestId: BigInt(vouchersSeen.length),
                modelId: modelIdOf(MODEL),
                usage,
                cost,
                cumulativeCost: covered + cost,
                time: BigInt(Math.floor(Date.now() / 1000)),
                requestHash: BigInt('0x' + requestDigest(opened.plaintext).toString('hex')),
                responseHash: BigInt('0x' + responseDigest(TEXT, '').toString('hex')),
            });
            const { evidence } = makeSignedReceipt(f, signWith);
            const body = {
                id: 'c1',
                object: 'chat.completion',
                created: 0,
                model: MODEL,
                choices: [{ index: 0, message: { role: 'assistant', content: TEXT }, finish_reason: 'stop' }],
                usage: { ...usageDelivered, total_tokens: usageDelivered.prompt_tokens + usageDelivered.completion_tokens },
                receipt: { boc: evidence.toBoc().toString('base64'), requestId: f.requestId.toString(), cost: f.cost.toString(), cumulativeCost: f.cumulativeCost.toString() },
            };
            if (paid.request.stream) {
                res.writeHead(200, { 'content-type': 'text/event-stream' });
                const chunk = { id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: TEXT }, finish_reason: null }] };
                res.write(`data: ${frameToText(opened.response.data(Buffer.from(JSON.stringify(chunk))))}\n\n`);
                const last = { ...chunk, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: body.usage, receipt: body.receipt };
                res.end(`data: ${frameToText(opened.response.final(Buffer.from(JSON.stringify(last))))}\n\n`);
                return;
            }
            res.writeHead(200, { 'content-type': ENVELOPE_MEDIA_TYPE }).end(opened.response.final(Buffer.from(JSON.stringify(body))));
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        // Stub chain: the channel is open with 10 TON; prices at any time are PRICES.
        const opener: ContractOpener = {
            open: <T extends Contract>(c: T) => {
                if (c instanceof ExtendedPaymentChannel) return { getStatus: async () => 1n, getDeposit: async () => toNano('10') } as unknown as OpenedContract<T>;
                return { getPricesAt: async () => ({ ...PRICES }) } as unknown as OpenedContract<T>;
            },
            isDeployed: async () => true,
        };
        dir = await fs.mkdtemp(join(tmpdir(), 'cocoon-client-verify-'));
        store = ClientStore.open(join(dir, 'store.db'));
        store.addChannel({ address: channel.toString(), workerStake: workerStake.toString(), nonce: 1n, deposit: toNano('10') });
        client = new CocoonClient({
            opener,
            staking: new Address(0, Buffer.alloc(32)),
            wallet: { address: new Address(0, Buffer.alloc(32)), send: async () => undefined },
            channelKey,
            store,
            deposit: toNano('10'),
            topUpBelow: toNano('1'),
            submitFraudProofs: false,
        });
        worker = {
            workerStake,
            owner: workerStake,
            workerKey: workerKey.publicKey,
            encryptionKey: enc.publicKey,
            endpoint: url,
            modelId: modelIdOf(MODEL),
            model: MODEL,
            prices: PRICES,
            imageHash: 1n,
            expiresAt: 0,
        };
    });

    afterAll(async () => {
        store.close();
        await new Promise((r) => server.close(r));
        await fs.rm(dir, { recursive: true, force: true });
    });

    afterEach(() => {
        tamper = (f) => f;
        signWith = workerKey.secretKey;
        usageDelivered = { prompt_tokens: 7, completion_tokens: 2 };
    });

    const ask = (stream = false) => client.call(worker, { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, stream });
    const cost = receiptMaxCost(PRICES, { prompt: 7n, cached: 0n, completion: 2n, reasoning: 0n });

    it('pays an honest receipt with a voucher for the cumulative cost, sent with the next request', async () => {
        const r = await ask();
        expect(r.cost).toBe(cost);
        const v = store.latestVoucher(channel.toString())!;
        expect(v.total).toBe(cost);
        expect(verifyVoucher(channel, v.total, v.signature, channelKey.publicKey)).toBe(true);
        const s = await ask(true);
        expect(s.content).toBe(TEXT);
        expect(vouchersSeen.at(-1)).toBe(cost);
        expect(store.latestVoucher(channel.toString())!.total).toBe(2n * cost);
    });

    const cases: Array<[string, () => void, RegExp]> = [
        ['signed by another key', () => (signWith = testKeys('someone-else').secretKey), /attested worker key/],
        ['for another model', () => (tamper = (f) => ({ ...f, modelId: f.modelId + 1n })), /another model/],
        ['for another channel', () => (tamper = (f) => ({ ...f, channel: new Address(0, randomBytes(32)) })), /another channel/],
        ['with usage other than delivered', () => (tamper = (f) => ({ ...f, usage: { ...f.usage, prompt: f.usage.prompt + 1n }, cost: receiptMaxCost(PRICES, { ...f.usage, prompt: f.usage.prompt + 1n }) })), /usage\.prompt/],
        ['over max_tokens', () => (usageDelivered = { prompt_tokens: 7, completion_tokens: 9 }), /max_tokens/],
        ['for another response', () => (tamper = (f) => ({ ...f, responseHash: f.responseHash ^ 1n })), /response hash/],
        ['for another request', () => (tamper = (f) => ({ ...f, requestHash: f.requestHash ^ 1n })), /request hash/],
        ['above the price terms', () => (tamper = (f) => ({ ...f, cost: f.cost + 1n, cumulativeCost: f.cumulativeCost + 1n })), /exceeds/],
        ['with a cumulative cost that skips ahead', () => (tamper = (f) => ({ ...f, cumulativeCost: f.cumulativeCost + 5n })), /cumulative/],
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
        expect(client.excluded.has(workerStake.toString())).toBe(true);
        client.excluded.clear();
        // An honest receipt afterwards is paid as usual (the stand-in counts from the voucher it got).
        afterEachReset();
        const ok = await ask();
        expect(store.latestVoucher(channel.toString())!.total).toBe(before + ok.cost);
    });

    function afterEachReset() {
        tamper = (f) => f;
        signWith = workerKey.secretKey;
        usageDelivered = { prompt_tokens: 7, completion_tokens: 2 };
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
        expect(again.excluded.has(workerStake.toString())).toBe(true);
        expect(rows[0].vouched).toBe(rows[0].verified);
        expect(store.receipts(channel.toString()).at(-1)!.cumulative).toBe(rows[0].verified);
    });
});
