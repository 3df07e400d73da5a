import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Address, toNano } from '@ton/core';
import { signVerify } from '@ton/crypto';
import { generateKeyPair, openRequest, X25519KeyPair, ENVELOPE_MEDIA_TYPE } from '../../lib/hpke';
import {
    RECEIPTS_SIGNATURE_HEADER,
    RECEIPTS_TIMESTAMP_HEADER,
    ReceiptWire,
    modelIdOf,
    paidRequestSchema,
    receiptsQueryDigest,
    requestDigest,
    responseDigest,
} from '../../lib/protocol';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { ReceiptFields, makeSignedReceipt, receiptMaxCost } from '../../wrappers/receipt';
import { verifyVoucher } from '../../wrappers/voucher';
import { CocoonClient, CocoonError } from '../../client/src/client';
import type { WorkerInfo } from '../../client/src/discovery';
import { ClientStore } from '../../client/src/store';
import { testKeys } from '../helpers/channel';

/**
 * Receipt recovery in the client: a worker stand-in that stores each
 * receipt before answering (as worker/src/payments.ts does) and can lose the
 * final frame, and whose receipts endpoint a test can make lie. The client
 * pays a genuinely lost receipt and nothing else.
 */

const PRICES = { prompt: 1_000_000_000n, cached: 500_000_000n, completion: 2_000_000_000n, reasoning: 2_000_000_000n };
const MODEL = 'cocoon-dev-model';
const TEXT = 'Hello there';
const USAGE = { prompt: 7n, cached: 0n, completion: 2n, reasoning: 0n };
const COST = receiptMaxCost(PRICES, USAGE);

describe('client receipt recovery', () => {
    let server: Server;
    let enc: X25519KeyPair;
    const workerKey = testKeys('recovery-worker');
    const channelKey = testKeys('recovery-client');
    const workerStake = new Address(0, randomBytes(32));
    let channel: Address;
    let store: ClientStore;
    let client: CocoonClient;
    let worker: WorkerInfo;
    let dir: string;
    /** The stand-in's own ledger, like the worker's store. */
    let stored: Array<{ wire: ReceiptWire; fields: ReceiptFields }> = [];
    let requestId = 0n;
    /** Store the receipt, then cut the connection instead of sending the final frame. */
    let loseFinal = false;
    /** The receipts endpoint answers 503 (the worker busy restarting). */
    let queriesDown = false;
    /** Rewrites what the receipts endpoint returns. */
    let forge: (list: ReceiptWire[]) => ReceiptWire[] = (l) => l;
    let queries = 0;

    function receipt(f: Omit<ReceiptFields, 'requestId' | 'cumulativeCost' | 'cost'> & { cost?: bigint; cumulativeCost?: bigint }): { wire: ReceiptWire; fields: ReceiptFields } {
        const prev = stored.at(-1)?.fields.cumulativeCost ?? 0n;
        const cost = f.cost ?? receiptMaxCost(PRICES, f.usage);
        const fields: ReceiptFields = { ...f, requestId: ++requestId, cost, cumulativeCost: f.cumulativeCost ?? prev + cost };
        const { evidence } = makeSignedReceipt(fields, workerKey.secretKey);
        return { fields, wire: { boc: evidence.toBoc().toString('base64'), requestId: fields.requestId.toString(), cost: cost.toString(), cumulativeCost: fields.cumulativeCost.toString() } };
    }

    function fieldsFor(requestHash: bigint, usage = USAGE) {
        return {
            workerStake,
            channel,
            modelId: modelIdOf(MODEL),
            usage,
            time: BigInt(Math.floor(Date.now() / 1000)),
            requestHash,
            responseHash: BigInt('0x' + responseDigest(TEXT, '').toString('hex')),
        };
    }

    beforeAll(async () => {
        enc = await generateKeyPair();
        server = createServer(async (req, res) => {
            if (req.method === 'GET') {
                queries++;
                const url = new URL(req.url!, 'http://x');
                const after = BigInt(url.searchParams.get('after') ?? '0');
                const ts = Number(req.headers[RECEIPTS_TIMESTAMP_HEADER]);
                const sig = Buffer.from(String(req.headers[RECEIPTS_SIGNATURE_HEADER]), 'hex');
                // The real worker checks this against the chain's client key; the stand-in knows it.
                if (queriesDown) return void res.writeHead(503).end('{"error":{"message":"restarting"}}');
                if (!signVerify(receiptsQueryDigest(channel, after, ts), sig, channelKey.publicKey)) return void res.writeHead(401).end('{}');
                const list = forge(stored.filter((r) => r.fields.cumulativeCost > after).map((r) => r.wire));
                res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ channel: channel.toString(), receipts: list, more: false }));
                return;
            }
            const chunks: Buffer[] = [];
            for await (const c of req) chunks.push(c as Buffer);
            const opened = await openRequest(Buffer.concat(chunks), enc);
            paidRequestSchema.parse(JSON.parse(opened.plaintext.toString('utf8')));
            const r = receipt(fieldsFor(BigInt('0x' + requestDigest(opened.plaintext).toString('hex'))));
            stored.push(r); // on "disk" before the answer, as the worker does
            if (loseFinal) return void req.socket.destroy();
            const body = {
                id: 'c1',
                object: 'chat.completion',
                created: 0,
                model: MODEL,
                choices: [{ index: 0, message: { role: 'assistant', content: TEXT }, finish_reason: 'stop' }],
                usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 },
                receipt: r.wire,
            };
            res.writeHead(200, { 'content-type': ENVELOPE_MEDIA_TYPE }).end(opened.response.final(Buffer.from(JSON.stringify(body))));
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        dir = await fs.mkdtemp(join(tmpdir(), 'cocoon-client-recovery-'));
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

    beforeEach(() => {
        // A fresh channel and ledger per test: each starts from a clean cumulative chain.
        channel = new Address(0, randomBytes(32));
        stored = [];
        loseFinal = false;
        queriesDown = false;
        forge = (l) => l;
        queries = 0;
        store = ClientStore.open(join(dir, `store-${channel.hash.toString('hex').slice(0, 8)}.db`));
        store.addChannel({ address: channel.toString(), workerStake: workerStake.toString(), nonce: 1n, deposit: toNano('10') });
        client = new CocoonClient({
            opener: {
                open: (c) => (c instanceof ExtendedPaymentChannel ? ({ getStatus: async () => 1n, getDeposit: async () => toNano('10') } as any) : ({ getPricesAt: async () => ({ ...PRICES }) } as any)),
                isDeployed: async () => true,
            },
            staking: new Address(0, Buffer.alloc(32)),
            wallet: { address: new Address(0, Buffer.alloc(32)), send: async () => undefined },
            channelKey,
            store,
            deposit: toNano('10'),
            topUpBelow: toNano('1'),
            submitFraudProofs: false,
        });
    });

    afterEach(() => store.close());

    afterAll(async () => {
        await new Promise((r) => server.close(r));
        await fs.rm(dir, { recursive: true, force: true });
    });

    const ask = () => client.call(worker, { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    const ch = () => channel.toString();

    it('pays a receipt whose final frame was lost, once, right after the broken call', async () => {
        await ask();
        loseFinal = true;
        const err = await ask().catch((e) => e);
        expect(err).toBeInstanceOf(CocoonError);
        expect(err.code).toBe('worker_unreachable'); // cut before the headers, as a worker killed between storing and answering
        // The worker stored it; the client read it back, checked it against its own request and paid it.
        expect(queries).toBe(1);
        expect(store.receipts(ch()).map((r) => r.cumulative)).toEqual([COST, 2n * COST]);
        const v = store.latestVoucher(ch())!;
        expect(v.total).toBe(2n * COST);
        expect(verifyVoucher(channel, v.total, v.signature, channelKey.publicKey)).toBe(true);
        expect(store.pendingAttempts(ch())).toEqual([]);
        expect(client.excluded.size).toBe(0);
        loseFinal = false;
        const next = await ask();
        expect(next.fields!.cumulativeCost).toBe(3n * COST);
    });

    it('recovers a lost receipt when the next receipt skips ahead (the worker could not be asked at once)', async () => {
        loseFinal = true;
        queriesDown = true;
        await expect(ask()).rejects.toMatchObject({ code: 'worker_unreachable' });
        expect(store.receipts(ch())).toEqual([]);
        expect(store.pendingAttempts(ch())).toHaveLength(1);
        loseFinal = false;
        queriesDown = false;
        // The receipt in hand says 2 x COST: the one between is fetched, checked and paid first.
        const r = await ask();
        expect(r.fields!.cumulativeCost).toBe(2n * COST);
        expect(store.receipts(ch()).map((x) => x.cumulative)).toEqual([COST, 2n * COST]);
        expect(store.latestVoucher(ch())!.total).toBe(2n * COST);
        expect(store.pendingAttempts(ch())).toEqual([]);
    });

    async function expectRejected(reason: RegExp) {
        const bad = store.badReceipts().length;
        const err = await ask().catch((e) => e);
        expect(err).toBeInstanceOf(CocoonError);
        expect(err.code).toBe('receipt_rejected');
        expect(err.message).toMatch(reason);
        expect(store.badReceipts()).toHaveLength(bad + 1);
        expect(client.excluded.has(workerStake.toString())).toBe(true);
    }

    it('serves on through a chain outage from the channel state last seen, and discovery from the workers last verified', async () => {
        let chainDown = false;
        const down = () => Promise.reject(new Error('connect ECONNREFUSED (chain unreachable)'));
        client = new CocoonClient({
            ...client.o,
            channelRecheckSec: 0, // every call re-checks the channel on chain
            opener: {
                open: (c) =>
                    c instanceof ExtendedPaymentChannel
                        ? ({ getStatus: async () => (chainDown ? down() : 1n), getDeposit: async () => (chainDown ? down() : toNano('10')) } as any)
                        : ({ getPricesAt: async () => ({ ...PRICES }) } as any),
                isDeployed: async () => (chainDown ? down() : true),
            },
        });
        await ask();
        chainDown = true;
        const r = await ask();
        expect(r.fields!.cumulativeCost).toBe(2n * COST);
        // A channel that needs a top-up cannot be served without the chain.
        store.setDeposit(ch(), 2n * COST + toNano('0.5'));
        await expect(ask()).rejects.toThrow(/ECONNREFUSED/);
    });

    it('rejects a fabricated receipt whose request hash is none of ours, and signs nothing for it', async () => {
        await ask();
        // The worker invents a receipt for a request never sent, and skips ahead past it.
        stored.push(receipt(fieldsFor(BigInt('0x' + randomBytes(32).toString('hex')))));
        await expectRejected(/matches no request of ours/);
        expect(store.latestVoucher(ch())!.total).toBe(COST);
        expect(store.channel(ch())!.verified).toBe(COST);
    });

    it('rejects a second receipt for one request (each attempt pays once)', async () => {
        await ask();
        loseFinal = true;
        queriesDown = true;
        await expect(ask()).rejects.toMatchObject({ code: 'worker_unreachable' });
        const lost = stored.at(-1)!.fields;
        // Two receipts for the one lost request.
        stored.push(receipt(fieldsFor(lost.requestHash)));
        loseFinal = false;
        queriesDown = false;
        await expectRejected(/matches no request of ours/);
        // The first of the two was genuine and is paid; the duplicate is not.
        expect(store.channel(ch())!.verified).toBe(2n * COST);
        expect(store.latestVoucher(ch())!.total).toBe(2n * COST);
    });

    it('rejects a recovered receipt for a request already paid', async () => {
        await ask();
        const paid = stored[0].fields;
        stored.push(receipt(fieldsFor(paid.requestHash)));
        await expectRejected(/matches no request of ours/);
        expect(store.latestVoucher(ch())!.total).toBe(COST);
    });

    it('rejects a gap in the recovered chain', async () => {
        loseFinal = true;
        // The endpoint leaves a hole: the lost receipt claims a cumulative above 0 + its cost.
        forge = (list) =>
            list.map((w) => {
                const f = stored.find((x) => x.wire.boc === w.boc)!.fields;
                const fake = { ...f, cumulativeCost: f.cumulativeCost + 5n };
                return { ...w, cumulativeCost: fake.cumulativeCost.toString(), boc: makeSignedReceipt(fake, workerKey.secretKey).evidence.toBoc().toString('base64') };
            });
        await expectRejected(/gap or an overlap/);
        expect(store.latestVoucher(ch())).toBeUndefined();
    });

    it("rejects a recovered receipt above its request's max_tokens", async () => {
        loseFinal = true;
        // Re-signed with more completion tokens than the request allowed (4), cost and cumulative to match.
        forge = (list) =>
            list.map((w) => {
                const f = stored.find((x) => x.wire.boc === w.boc)!.fields;
                const usage = { ...f.usage, completion: 9n };
                const cost = receiptMaxCost(PRICES, usage);
                const fake = { ...f, usage, cost, cumulativeCost: cost };
                return { ...w, cost: cost.toString(), cumulativeCost: cost.toString(), boc: makeSignedReceipt(fake, workerKey.secretKey).evidence.toBoc().toString('base64') };
            });
        await expectRejected(/max_tokens/);
        expect(store.latestVoucher(ch())).toBeUndefined();
    });
});
