import { promises as fs } from 'node:fs';
import { createServer, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Address, Contract, OpenedContract, toNano } from '@ton/core';
import { KeyPair, signVerify } from '@ton/crypto';
import { generateKeyPair, openRequest, X25519KeyPair, ENVELOPE_MEDIA_TYPE, frameToText } from '../../helpers/hpke';
import {
    RECEIPTS_SIGNATURE_HEADER,
    RECEIPTS_TIMESTAMP_HEADER,
    ReceiptWire,
    decodeVoucher,
    modelIdOf,
    paidRequestSchema,
    receiptsQueryDigest,
    requestDigest,
    responseDigest,
} from '../../protocol/paidRequest';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { PriceSchedule, Prices, ReceiptFields, Usage, makeSignedReceipt, receiptMaxCost } from '../../wrappers/receipt';
import type { ContractOpener } from '../../wrappers/toncenter';
import { embeddingsResponseText, paidEmbeddingsRequestSchema } from '../../protocol/embeddings';
import { paidCompletionsRequestSchema } from '../../protocol/completions';
import { CocoonClient, ClientOptions } from '../../client/src/client';
import type { WorkerInfo } from '../../client/src/discovery';
import { ClientStore } from '../../client/src/store';

/**
 * A worker stand-in for the client tests: a real HTTP server that speaks the
 * sealed protocol (helpers/hpke.ts), signs a receipt for each request (which a
 * test can falsify one field at a time), stores it before answering as
 * worker/src/payments.ts does, can lose the final frame, and answers the
 * receipts query (which a test can make lie or fail). Plus a stub chain on
 * which channels are open and funded and the worker's prices are fixed.
 */

export const PRICES: Prices = { prompt: 1_000_000_000n, cached: 500_000_000n, completion: 2_000_000_000n, reasoning: 2_000_000_000n };
export const MODEL = 'cocoon-demo';
export const TEXT = 'Hello there';
/** What the stand-in answers to embeddings. */
export const EMBEDDING_DATA = [{ object: 'embedding', index: 0, embedding: [0.5, -0.25] }];
export const USAGE: Usage = { prompt: 7n, cached: 0n, completion: 2n, reasoning: 0n };

export interface StoredReceipt {
    /** The channel the request came on (the ledger's key, whatever the receipt names). */
    channel: string;
    wire: ReceiptWire;
    fields: ReceiptFields;
}

export interface StandInOptions {
    workerKey: KeyPair;
    /** The client's channel key (the receipts query is signed with it). */
    channelKey: KeyPair;
    workerStake?: Address;
    modelId?: bigint;
    prices?: Prices;
    /** Unix seconds receipts are dated by (default: the system clock). */
    now?: () => number;
    /**
     * Where the next cumulative cost starts: 'ledger' (the stand-in's own
     * receipts on the channel, as the real worker) or 'voucher' (the voucher
     * that came with the request: a rejected receipt is simply forgotten).
     */
    countFrom?: 'ledger' | 'voucher';
    /** Answer the receipts query (default true; false: 404, a worker without recovery). */
    recovery?: boolean;
}

export class StandIn {
    server!: Server;
    url = '';
    enc!: X25519KeyPair;
    readonly workerStake: Address;
    readonly modelId: bigint;
    prices: Prices;
    /** Receipts stored, oldest first. */
    stored: StoredReceipt[] = [];
    /** The voucher total each request carried. */
    vouchersSeen: bigint[] = [];
    /** Receipt queries answered or refused. */
    queries = 0;
    private requestId = 0n;

    // Knobs a test sets; reset() puts them back.
    /** Usage the worker reports and (before `tamper`) charges. */
    usage: Usage = { ...USAGE };
    /** Falsifies the receipt before it is signed (and stored). */
    tamper: (f: ReceiptFields) => ReceiptFields = (f) => f;
    /** The key receipts are signed with. */
    signWith: Buffer;
    /** Falsifies the wire form of the receipt (its summary, its BOC) after signing. */
    wire: (w: ReceiptWire) => ReceiptWire = (w) => w;
    /** Store the receipt, then cut the connection instead of answering. */
    loseFinal = false;
    /**
     * A worker that misbehaves in its HTTP answer: 'stall-refusal' sends a
     * refusal's headers and never the rest of its body; 'garbled-frame'
     * streams a frame that does not open and then holds the connection;
     * 'stall-mid-answer' streams its first frame and then nothing more.
     */
    hostile: null | 'stall-refusal' | 'garbled-frame' | 'stall-mid-answer' = null;
    /** Answers whose connection closed before the stand-in ended them. */
    hangUps = 0;
    /** The receipts endpoint answers 503 (the worker busy restarting). */
    queriesDown = false;
    /** Rewrites what the receipts endpoint returns. */
    forge: (list: ReceiptWire[]) => ReceiptWire[] = (l) => l;

    constructor(readonly o: StandInOptions) {
        this.workerStake = o.workerStake ?? new Address(0, randomBytes(32));
        this.modelId = o.modelId ?? modelIdOf(MODEL);
        this.prices = o.prices ?? PRICES;
        this.signWith = o.workerKey.secretKey;
    }

    reset() {
        this.usage = { ...USAGE };
        this.tamper = (f) => f;
        this.signWith = this.o.workerKey.secretKey;
        this.wire = (w) => w;
        this.loseFinal = false;
        this.hostile = null;
        this.hangUps = 0;
        this.queriesDown = false;
        this.forge = (l) => l;
        this.queries = 0;
    }

    /** Signs (and does not store) a receipt for these fields, with the stand-in's key unless told otherwise. */
    sign(fields: ReceiptFields, key = this.signWith): { wire: ReceiptWire; fields: ReceiptFields } {
        const { evidence } = makeSignedReceipt(fields, key);
        return {
            fields,
            wire: { boc: evidence.toBoc().toString('base64'), requestId: fields.requestId.toString(), cost: fields.cost.toString(), cumulativeCost: fields.cumulativeCost.toString() },
        };
    }

    /** The honest receipt for a request on `channel` (cumulative per countFrom), before tampering. */
    honest(channel: Address, requestHash: bigint, covered: bigint, usage = this.usage): ReceiptFields {
        const prev = this.o.countFrom === 'voucher' ? covered : (this.stored.filter((r) => r.channel === channel.toString()).at(-1)?.fields.cumulativeCost ?? 0n);
        const cost = receiptMaxCost(this.prices, usage);
        return {
            workerStake: this.workerStake,
            channel,
            requestId: ++this.requestId,
            modelId: this.modelId,
            usage,
            cost,
            cumulativeCost: prev + cost,
            time: BigInt(this.o.now?.() ?? Math.floor(Date.now() / 1000)),
            requestHash,
            responseHash: BigInt('0x' + responseDigest(TEXT, '').toString('hex')),
        };
    }

    /** Signs and stores a receipt, as the worker does before answering. */
    store(channel: Address, fields: ReceiptFields): StoredReceipt {
        const s = this.sign(fields);
        const r = { channel: channel.toString(), fields, wire: this.wire(s.wire) };
        this.stored.push(r);
        return r;
    }

    /** The wire usage object for `u`. */
    static usageJson(u: Usage) {
        return {
            prompt_tokens: Number(u.prompt),
            completion_tokens: Number(u.completion),
            total_tokens: Number(u.prompt + u.completion),
            prompt_tokens_details: { cached_tokens: Number(u.cached) },
            completion_tokens_details: { reasoning_tokens: Number(u.reasoning) },
        };
    }

    async start(): Promise<this> {
        this.enc = await generateKeyPair();
        this.server = createServer((req, res) => {
            this.handle(req, res).catch((e) => {
                if (!res.headersSent) res.writeHead(500).end(String(e));
                else res.destroy();
            });
        });
        await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
        this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
        return this;
    }

    private async handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) {
        if (req.method === 'GET') {
            this.queries++;
            if (this.o.recovery === false) return void res.writeHead(404).end();
            const url = new URL(req.url!, 'http://x');
            const channel = decodeURIComponent(url.pathname.split('/')[3] ?? '');
            const after = BigInt(url.searchParams.get('after') ?? '0');
            const ts = Number(req.headers[RECEIPTS_TIMESTAMP_HEADER]);
            const sig = Buffer.from(String(req.headers[RECEIPTS_SIGNATURE_HEADER]), 'hex');
            if (this.queriesDown) return void res.writeHead(503).end('{"error":{"message":"restarting"}}');
            // The real worker checks this against the chain's client key; the stand-in knows it.
            let ch: Address;
            try {
                ch = Address.parse(channel);
            } catch {
                return void res.writeHead(400).end('{}');
            }
            if (!signVerify(receiptsQueryDigest(ch, after, ts), sig, this.o.channelKey.publicKey)) return void res.writeHead(401).end('{}');
            const list = this.forge(this.stored.filter((r) => r.channel === ch.toString() && r.fields.cumulativeCost > after).map((r) => r.wire));
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ channel: ch.toString(), receipts: list, more: false }));
            return;
        }
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        res.on('close', () => {
            if (!res.writableFinished) this.hangUps++;
        });
        if (this.hostile === 'stall-refusal') return void res.writeHead(402, { 'content-type': 'application/json' }).write('{"error":');
        if (this.hostile === 'garbled-frame') return void res.writeHead(200, { 'content-type': 'text/event-stream' }).write('data: not-a-sealed-frame\n\n');
        const opened = await openRequest(Buffer.concat(chunks), this.enc);
        const json = JSON.parse(opened.plaintext.toString('utf8'));
        const embeddings = req.url === '/v1/embeddings';
        const text = req.url === '/v1/completions';
        const paid = embeddings ? paidEmbeddingsRequestSchema.parse(json) : text ? paidCompletionsRequestSchema.parse(json) : paidRequestSchema.parse(json);
        const covered = paid.voucher ? decodeVoucher(paid.voucher).total : 0n;
        this.vouchersSeen.push(covered);
        const channel = Address.parse(paid.channel);
        const usage = this.usage;
        const honest = this.honest(channel, BigInt('0x' + requestDigest(opened.plaintext).toString('hex')), covered, usage);
        if (embeddings) honest.responseHash = BigInt('0x' + responseDigest(embeddingsResponseText(EMBEDDING_DATA), '').toString('hex'));
        const fields = this.tamper(honest);
        const r = this.store(channel, fields); // on "disk" before the answer, as the worker does
        if (this.loseFinal) return void req.socket.destroy();
        const usageJson = StandIn.usageJson(usage);
        if (embeddings) {
            const list = { object: 'list', data: EMBEDDING_DATA, model: MODEL, usage: usageJson, receipt: r.wire };
            return void res.writeHead(200, { 'content-type': ENVELOPE_MEDIA_TYPE }).end(opened.response.final(Buffer.from(JSON.stringify(list))));
        }
        if (text) {
            const completion = {
                id: 'cmpl1',
                object: 'text_completion',
                created: 0,
                model: MODEL,
                choices: [{ text: TEXT, index: 0, logprobs: null, finish_reason: 'stop' }],
                usage: usageJson,
                receipt: r.wire,
            };
            return void res.writeHead(200, { 'content-type': ENVELOPE_MEDIA_TYPE }).end(opened.response.final(Buffer.from(JSON.stringify(completion))));
        }
        const body = {
            id: 'c1',
            object: 'chat.completion',
            created: 0,
            model: MODEL,
            choices: [{ index: 0, message: { role: 'assistant', content: TEXT }, finish_reason: 'stop' }],
            usage: usageJson,
            receipt: r.wire,
        };
        if ('stream' in paid.request && paid.request.stream) {
            res.writeHead(200, { 'content-type': 'text/event-stream' });
            const chunk = { id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: TEXT }, finish_reason: null }] };
            res.write(`data: ${frameToText(opened.response.data(Buffer.from(JSON.stringify(chunk))))}\n\n`);
            if (this.hostile === 'stall-mid-answer') return;
            const last = { ...chunk, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: usageJson, receipt: r.wire };
            res.end(`data: ${frameToText(opened.response.final(Buffer.from(JSON.stringify(last))))}\n\n`);
            return;
        }
        res.writeHead(200, { 'content-type': ENVELOPE_MEDIA_TYPE }).end(opened.response.final(Buffer.from(JSON.stringify(body))));
    }

    /** The WorkerInfo discovery would return for the stand-in. */
    info(): WorkerInfo {
        return {
            workerStake: this.workerStake,
            owner: this.workerStake,
            workerKey: this.o.workerKey.publicKey,
            encryptionKey: this.enc.publicKey,
            endpoint: this.url,
            modelId: this.modelId,
            model: MODEL,
            prices: this.prices,
            imageHash: 1n,
            expiresAt: 0,
            tee: 'simulated',
        };
    }

    close(): Promise<void> {
        return new Promise((r) => this.server.close(() => r()));
    }
}

/** A price schedule with one entry, in force since ever. */
export function flatSchedule(prices: Prices = PRICES): PriceSchedule {
    return { entries: [{ from: 0, prices }], grace: 900, historySince: 0 };
}

/**
 * Stub chain: every channel is open with 10 TON; every WorkerStake's prices
 * are `prices` at any time. `down()` true makes channel reads fail (a chain
 * outage).
 */
export function stubOpener(prices: Prices = PRICES, down: () => boolean = () => false): ContractOpener {
    const fail = () => Promise.reject(new Error('connect ECONNREFUSED (chain unreachable)'));
    return {
        open: <T extends Contract>(c: T) => {
            if (c instanceof ExtendedPaymentChannel) return { getStatus: async () => (down() ? fail() : 1n), getDeposit: async () => (down() ? fail() : toNano('10')) } as unknown as OpenedContract<T>;
            return { getPricesAt: async () => ({ ...prices }), getPriceSchedule: async () => flatSchedule(prices) } as unknown as OpenedContract<T>;
        },
        isDeployed: async () => (down() ? fail() : true),
    };
}

/** A client with a funded channel to `workerStake` at `channel` in a fresh ledger at `dbPath`. */
export function clientWithChannel(o: { dbPath: string; channel: Address; workerStake: Address; channelKey: KeyPair; opener?: ContractOpener } & Partial<ClientOptions>): {
    client: CocoonClient;
    store: ClientStore;
} {
    const store = ClientStore.open(o.dbPath);
    store.addChannel({ address: o.channel.toString(), workerStake: o.workerStake.toString(), nonce: 1n, deposit: toNano('10') });
    const { dbPath: _d, channel: _c, workerStake: _w, ...rest } = o;
    const client = new CocoonClient({
        staking: new Address(0, Buffer.alloc(32)),
        wallet: { address: new Address(0, Buffer.alloc(32)), send: async () => undefined },
        deposit: toNano('10'),
        topUpBelow: toNano('1'),
        submitFraudProofs: false,
        ...rest,
        opener: o.opener ?? stubOpener(),
        store,
    });
    return { client, store };
}

/** What standInPerTest hands each test: the describe block's stand-in, and the test's own channel, store and client. */
export interface PerTest {
    readonly si: StandIn;
    readonly channel: Address;
    readonly store: ClientStore;
    readonly client: CocoonClient;
}

/**
 * A stand-in worker for the describe block this is called in, and for each
 * test a fresh channel (so each starts from a clean cumulative chain), with
 * its own store and client; registered as the block's jest hooks. Read the
 * fields inside tests (they change from one test to the next).
 */
export function standInPerTest(name: string, o: { workerKey: KeyPair; channelKey: KeyPair } & Partial<ClientOptions>): PerTest {
    const { workerKey, channelKey, ...clientOptions } = o;
    const state = {} as { si: StandIn; channel: Address; store: ClientStore; client: CocoonClient; dir: string };
    beforeAll(async () => {
        state.si = await new StandIn({ workerKey, channelKey }).start();
        state.dir = await fs.mkdtemp(join(tmpdir(), `cocoon-client-${name}-`));
    });
    beforeEach(() => {
        state.si.reset();
        state.channel = new Address(0, randomBytes(32));
        const dbPath = join(state.dir, `${state.channel.hash.toString('hex').slice(0, 8)}.db`);
        ({ client: state.client, store: state.store } = clientWithChannel({ ...clientOptions, dbPath, channel: state.channel, workerStake: state.si.workerStake, channelKey }));
    });
    afterEach(() => state.store.close());
    afterAll(async () => {
        await state.si.close();
        await fs.rm(state.dir, { recursive: true, force: true });
    });
    return state;
}
