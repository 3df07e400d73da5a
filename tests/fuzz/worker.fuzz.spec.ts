import '@ton/test-utils';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, Sender, beginCell, toNano } from '@ton/core';
import { keyPairFromSeed, sign } from '@ton/crypto';
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import fc from 'fast-check';
import pino from 'pino';
import { ENVELOPE_MEDIA_TYPE, generateKeyPair, sealRequest } from '../../helpers/hpke';
import { PaidRequest, RECEIPTS_SIGNATURE_HEADER, RECEIPTS_TIMESTAMP_HEADER, decodeVoucher, encodeVoucher, receiptsQueryDigest, sealPaidRequest } from '../../protocol/paidRequest';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { devSimulatedAttestationKey } from '../../wrappers/devnet';
import { signVoucher, verifyCloseApproval } from '../../wrappers/voucher';
import { parseConfig } from '../../worker/src/config';
import { SimulatedProvider } from '../../worker/src/attestation';
import { Worker, createWorker } from '../../worker/src/worker';
import { openChannel, testKeys } from '../helpers/channel';
import { ServingFixture, deployServing } from '../helpers/serving';
import { Upstream, chatBody, sandboxOpener, startUpstream, voucherFor } from '../worker/helpers';
import { anyJson, call, contentTypes, flipBits, invalidUtf8, malformedJson, params, rawRequest, routesOf, textOf, wrongValue } from './arbitraries';

jest.setTimeout(300_000);

/**
 * Bad input against the worker's HTTP API (in process, over a sandbox
 * chain): whatever a client or a network attacker sends, the worker answers
 * 4xx (never 5xx), keeps answering, and its store of receipts and vouchers
 * changes only for a request it actually served.
 */

const PRICES = { prompt: 1_000_000_000_000n, cached: 400_000_000_000n, completion: 2_000_000_000_000n, reasoning: 3_000_000_000_000n };

const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : Buffer.isBuffer(x) ? x.toString('hex') : x));

describe('worker HTTP API under bad input', () => {
    let f: ServingFixture;
    let channel: SandboxContract<ExtendedPaymentChannel>;
    let upstream: Upstream;
    let worker: Worker;
    let dir: string;
    let encKey: Buffer;
    let operator: SandboxContract<TreasuryContract>;
    const clientKeys = testKeys('client');

    const paid = (over: Partial<PaidRequest> = {}, body: Record<string, unknown> = {}): PaidRequest => ({ version: 1, channel: channel.address.toString(), request: chatBody(body), ...over });

    /** Everything the worker would be paid by: receipts, vouchers, totals, per channel. */
    function ledger(): string {
        const channels = worker.store.listChannels();
        return json({
            channels,
            receipts: channels.map((c) => worker.store.receiptsOf(c.address).map((r) => r.requestId)),
            vouchers: channels.map((c) => worker.store.latestVoucher(c.address) ?? null),
            pending: worker.payments.pending,
        });
    }
    const receiptCount = () => worker.store.listChannels().reduce((n, c) => n + c.receipts, 0);

    const post = (payload: Buffer | string, contentType: string | undefined = ENVELOPE_MEDIA_TYPE, route = '/v1/chat/completions') =>
        call(worker.url, { method: 'POST', url: route, headers: contentType === undefined ? {} : { 'content-type': contentType }, payload });
    /** Every route that takes a sealed paid request. */
    const paidRoutes = fc.constantFrom('/v1/chat/completions', '/v1/embeddings', '/v1/completions');

    /** The worker is still up: /health answers 200 (the last test also serves a paid request). */
    async function stillServes() {
        const h = await call(worker.url, { method: 'GET', url: '/health' });
        expect(h.statusCode).toBe(200);
    }

    beforeAll(async () => {
        f = await deployServing({ prices: PRICES });
        ({ channel } = await openChannel(f, { nonce: 1n, deposit: toNano('200') }));
        operator = await f.blockchain.treasury('operator');
        upstream = await startUpstream();
        dir = mkdtempSync(join(tmpdir(), 'cocoon-fuzz-worker-'));
        const devKeyPath = join(dir, 'dev.key');
        writeFileSync(devKeyPath, 'ab'.repeat(32), { mode: 0o600 });
        const config = parseConfig({
            network: { endpoint: 'http://127.0.0.1:1/jsonRPC' },
            contracts: { staking: f.registry.address.toString() },
            keys: { receiptKeyPath: 'unused', encryptionKeyPath: 'unused', walletMnemonicPath: 'unused' },
            payoutAddress: operator.address.toString(),
            http: { port: 0, maxConcurrent: 4, maxBodyBytes: 64 * 1024 },
            backend: { kind: 'openai', baseUrl: upstream.url, modelMap: { 'cocoon-demo': 'llama-3-8b' }, connectTimeoutMs: 5000, idleTimeoutMs: 10_000 },
            prices: { prompt: '1', cached: '1', completion: '1', reasoning: '1' },
            attestation: { provider: 'simulated', devKeyPath },
            payments: { claimThreshold: toNano('100000').toString(), watchIntervalMs: 3_600_000, creditLimit: '1000000000000' },
            limits: { maxTokens: 1_000_000 },
            store: { path: join(dir, 'store.db') },
            shutdownTimeoutMs: 5000,
        });
        const enc = await generateKeyPair();
        encKey = enc.publicKey;
        const sender: Sender = { address: operator.address, send: async (args) => void (await operator.send(args)) };
        worker = await createWorker(config, {
            logger: pino({ level: 'silent' }),
            keys: { receipt: { publicKey: f.workerKeys.publicKey, secretKey: f.workerKeys.secretKey }, encryption: enc },
            opener: sandboxOpener(f.blockchain),
            sender,
            owner: operator.address,
            workerStake: f.workerStake.address,
            attestationProvider: new SimulatedProvider(devSimulatedAttestationKey()),
        });
        await worker.start();
        // One served and paid request, so that "stale" and "replayed" have something to be stale against.
        const first = await sealPaidRequest(encKey, paid());
        expect((await post(first.envelope)).statusCode).toBe(200);
        const owed = worker.store.receiptTotal(channel.address.toString());
        const second = await sealPaidRequest(encKey, paid({ voucher: voucherFor(channel.address, owed, clientKeys.secretKey) }));
        expect((await post(second.envelope)).statusCode).toBe(200);
        expect(worker.store.latestVoucher(channel.address.toString())?.total).toBe(owed);
    });

    afterAll(async () => {
        await worker?.stop();
        await upstream?.close();
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    afterEach(async () => {
        await stillServes();
    });

    it('fuzzes every route the worker serves', () => {
        // A new route must get its bad-input property here before this passes.
        expect(routesOf(worker.server.app)).toEqual(
            [
                'GET /attestation',
                'GET /health',
                'GET /metrics',
                'GET /v1/channels/:channel/receipts',
                'GET /v1/models',
                'POST /v1/channels/:channel/close',
                'POST /v1/channels/:channel/voucher',
                'POST /v1/chat/completions',
                'POST /v1/completions',
                'POST /v1/embeddings',
            ].sort(),
        );
    });

    it('public endpoints: random paths, methods, queries and headers never get a 5xx', async () => {
        const path = fc.oneof(
            fc.constantFrom('/v1/models', '/attestation', '/health', '/metrics', '/v1/chat/completions', '/', '/v1', '/v1/models/x', '//health', '/health/', '/%2e%2e/health'),
            // Origin-form targets only: anything else is refused by Node's HTTP parser before the app sees it.
            fc.webPath().map((x) => (x.startsWith('/') ? x : '/' + x)),
        );
        await fc.assert(
            fc.asyncProperty(
                fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
                path,
                fc.webQueryParameters(),
                fc.dictionary(
                    fc.constantFrom('accept', 'accept-encoding', 'x-forwarded-for', 'range', 'if-none-match', 'authorization'),
                    fc.string({ maxLength: 40 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
                ),
                async (method, p, q, headers) => {
                    const before = ledger();
                    const res = await call(worker.url, { method, url: `${p}${q ? '?' + q : ''}`, headers });
                    expect(res.statusCode).toBeLessThan(500);
                    expect(ledger()).toBe(before);
                },
            ),
            params(60),
        );
    });

    it('receipt recovery: random channels, cursors, timestamps and signatures: never a 5xx, never an answer without the client key', async () => {
        const key = channel.address.toString();
        const mallory = keyPairFromSeed(Buffer.alloc(32, 9));
        const channelArb = fc.oneof(fc.constant(key), fc.constant(channel.address.toRawString()), fc.constant(f.stranger.address.toString()), fc.string({ maxLength: 80 }).map(encodeURIComponent));
        const afterArb = fc.oneof(fc.constant(undefined), fc.bigInt({ min: 0n, max: 1n << 70n }).map(String), fc.string({ maxLength: 30 }));
        const tsArb = fc.oneof(
            fc.constant(() => String(Math.floor(Date.now() / 1000))),
            fc.integer({ min: -1_000_000, max: 1_000_000 }).map((d) => () => String(Math.floor(Date.now() / 1000) + d)),
            fc
                .string({ maxLength: 20 })
                .filter((x) => /^[\x20-\x7e]*$/.test(x))
                .map((x) => () => x),
            fc.constant(() => undefined),
        );
        const signerArb = fc.constantFrom('client', 'mallory', 'junk', 'none');
        await fc.assert(
            fc.asyncProperty(channelArb, afterArb, tsArb, signerArb, async (ch, after, ts, signer) => {
                const timestamp = ts();
                const headers: Record<string, string> = {};
                if (timestamp !== undefined) headers[RECEIPTS_TIMESTAMP_HEADER] = timestamp;
                let digestOk = false;
                if (signer === 'client' || signer === 'mallory') {
                    let addr: Address | undefined;
                    try {
                        addr = Address.parse(decodeURIComponent(ch));
                    } catch {
                        addr = channel.address;
                    }
                    const a = after !== undefined && /^[0-9]+$/.test(after) ? BigInt(after) : 0n;
                    const t = Number(timestamp ?? 0);
                    digestOk = signer === 'client';
                    headers[RECEIPTS_SIGNATURE_HEADER] = sign(receiptsQueryDigest(addr, a, Number.isSafeInteger(t) ? t : 0), (signer === 'client' ? clientKeys : mallory).secretKey).toString('hex');
                } else if (signer === 'junk') headers[RECEIPTS_SIGNATURE_HEADER] = 'ab'.repeat(64);
                const before = ledger();
                const res = await call(worker.url, { url: `/v1/channels/${ch}/receipts${after === undefined ? '' : '?after=' + encodeURIComponent(after)}`, headers });
                expect(res.statusCode).toBeLessThan(500);
                if (res.statusCode === 200) {
                    expect(digestOk).toBe(true);
                    expect(Array.isArray(res.json().receipts)).toBe(true);
                } else expect(res.json().error.code).toEqual(expect.any(String));
                expect(ledger()).toBe(before);
            }),
            params(60),
        );
    });

    /**
     * Paths naming the channel (both address forms), another one or garbage,
     * and bodies that are any JSON, the right fields with wrong values, or a
     * voucher of `totals` signed by the client, by someone else, or for
     * another channel (`_valid`: the client's own, and storable).
     */
    function voucherBodies(channel: Address, totals: fc.Arbitrary<bigint>) {
        const mallory = keyPairFromSeed(Buffer.alloc(32, 9));
        const channelArb = fc.oneof(
            fc.constant(channel.toString()),
            fc.constant(channel.toRawString()),
            fc.constant(f.stranger.address.toString()),
            fc.string({ maxLength: 80 }).map(encodeURIComponent),
        );
        const bodyArb = fc.oneof(
            { arbitrary: anyJson, weight: 1 },
            { arbitrary: fc.record({ total: wrongValue, signature: wrongValue }, { requiredKeys: [] }), weight: 1 },
            {
                arbitrary: fc.tuple(totals, fc.constantFrom('client', 'mallory', 'other-channel')).map(([total, who]) => ({
                    total: total.toString(),
                    signature: signVoucher(who === 'other-channel' ? f.stranger.address : channel, total, (who === 'mallory' ? mallory : clientKeys).secretKey).signature.toString('hex'),
                    _valid: who === 'client' && total < 1n << 63n,
                })),
                weight: 3,
            },
        );
        return { channelArb, bodyArb };
    }

    it("cooperative close: random bodies, channels and signatures: never a 5xx; only the client's own voucher gets an approval", async () => {
        // A channel of its own: an approval marks it closing (no more service), which the other properties must not see.
        const { channel: closing } = await openChannel(f, { nonce: 77n, deposit: toNano('1') });
        const key = closing.address.toString();
        const { channelArb, bodyArb } = voucherBodies(
            closing.address,
            fc.oneof(
                fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
                fc.bigInt({ min: 1n << 63n, max: 10n ** 19n - 1n }),
                fc.bigInt({ min: 10n ** 19n, max: (1n << 120n) - 1n }),
                fc.constant((1n << 63n) - 1n),
                fc.constant(1n << 63n),
            ),
        );
        await fc.assert(
            fc.asyncProperty(channelArb, bodyArb, contentTypes, async (ch, body, ct) => {
                const { _valid, ...sent } = (body && typeof body === 'object' && !Array.isArray(body) ? body : { v: body }) as Record<string, unknown>;
                const payload = body && typeof body === 'object' && !Array.isArray(body) ? sent : body;
                const before = ledger();
                const res = await call(worker.url, { method: 'POST', url: `/v1/channels/${ch}/close`, headers: { 'content-type': ct ?? 'application/json' }, payload: JSON.stringify(payload) ?? '' });
                expect(res.statusCode).toBeLessThan(500);
                const sameChannel = decodeURIComponent(ch) === key || decodeURIComponent(ch) === closing.address.toRawString();
                if (res.statusCode === 200) {
                    expect(_valid && sameChannel && (ct ?? 'application/json').startsWith('application/json')).toBe(true);
                    const a = res.json();
                    expect(verifyCloseApproval(closing.address, BigInt(a.total), Buffer.from(a.signature, 'hex'), f.workerKeys.publicKey)).toBe(true);
                } else expect(ledger()).toBe(before);
            }),
            params(60),
        );
    });

    it("a voucher on its own: random bodies, channels and signatures: never a 5xx; only the client's own voucher, not older than one held, is kept", async () => {
        const { channel: paying } = await openChannel(f, { nonce: 79n, deposit: toNano('1') });
        const key = paying.address.toString();
        const { channelArb, bodyArb } = voucherBodies(
            paying.address,
            fc.oneof(fc.bigInt({ min: 0n, max: toNano('2') }), fc.bigInt({ min: 1n << 63n, max: (1n << 120n) - 1n }), fc.constant((1n << 63n) - 1n)),
        );
        await fc.assert(
            fc.asyncProperty(channelArb, bodyArb, contentTypes, async (ch, body, ct) => {
                const { _valid, ...sent } = (body && typeof body === 'object' && !Array.isArray(body) ? body : { v: body }) as Record<string, unknown>;
                const payload = body && typeof body === 'object' && !Array.isArray(body) ? sent : body;
                const before = ledger();
                const held = worker.store.latestVoucher(key)?.total ?? 0n;
                const res = await call(worker.url, {
                    method: 'POST',
                    url: `/v1/channels/${ch}/voucher`,
                    headers: { 'content-type': ct ?? 'application/json' },
                    payload: JSON.stringify(payload) ?? '',
                });
                expect(res.statusCode).toBeLessThan(500);
                const sameChannel = decodeURIComponent(ch) === key || decodeURIComponent(ch) === paying.address.toRawString();
                if (res.statusCode === 200) {
                    expect(_valid && sameChannel && (ct ?? 'application/json').startsWith('application/json')).toBe(true);
                    expect(BigInt((sent as { total: string }).total)).toBeGreaterThanOrEqual(held);
                    expect(worker.store.latestVoucher(key)!.total).toBe(BigInt(res.json().total));
                } else {
                    expect(res.json().error.code).toEqual(expect.any(String));
                    expect(ledger()).toBe(before);
                    expect(worker.store.latestVoucher(key)?.total ?? 0n).toBe(held);
                }
            }),
            params(60),
        );
    });

    it('regression: a close for a client-signed total above 2^63 is a 400, not a 500', async () => {
        const { channel: other } = await openChannel(f, { nonce: 78n, deposit: toNano('1') });
        const total = (1n << 63n) + 1n;
        const before = ledger();
        const res = await call(worker.url, {
            method: 'POST',
            url: `/v1/channels/${other.address.toString()}/close`,
            headers: { 'content-type': 'application/json' },
            payload: JSON.stringify({ total: total.toString(), signature: signVoucher(other.address, total, clientKeys.secretKey).signature.toString('hex') }),
        });
        expect(res.statusCode).toBe(400);
        expect(ledger()).toBe(before);
    });

    it('paid routes: random bytes, malformed JSON, any JSON and invalid UTF-8 under any content type: 4xx, nothing stored', async () => {
        const body = fc.oneof(
            fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)),
            malformedJson,
            anyJson.map((v) => JSON.stringify(v) ?? ''),
            invalidUtf8,
        );
        await fc.assert(
            fc.asyncProperty(body, contentTypes, paidRoutes, async (payload, ct, route) => {
                const before = ledger();
                const res = await post(payload, ct, route);
                expect(res.statusCode).toBeGreaterThanOrEqual(400);
                expect(res.statusCode).toBeLessThan(500);
                expect(res.json().error.code).toEqual(expect.any(String));
                expect(ledger()).toBe(before);
            }),
            params(100),
        );
    });

    it('paid routes: forged envelopes (bit flips, truncations, extensions, another key, junk with a valid header): 400, nothing stored', async () => {
        const otherKey = await generateKeyPair();
        const valid = await sealPaidRequest(encKey, paid());
        const toOther = await sealPaidRequest(otherKey.publicKey, paid());
        const forged = fc.oneof(
            fc.array(fc.nat(), { minLength: 1, maxLength: 8 }).map((bits) => flipBits(valid.envelope, bits)),
            fc.nat({ max: valid.envelope.length - 1 }).map((n) => valid.envelope.subarray(0, n)),
            fc.uint8Array({ minLength: 1, maxLength: 64 }).map((tail) => Buffer.concat([valid.envelope, Buffer.from(tail)])),
            fc.constant(toOther.envelope),
            fc.array(fc.nat(), { maxLength: 4 }).map((bits) => flipBits(toOther.envelope, [...bits, 80 * 8 + 3])),
            fc.uint8Array({ minLength: 0, maxLength: 600 }).map((rest) => Buffer.concat([valid.envelope.subarray(0, 10), Buffer.from(rest)])),
        );
        await fc.assert(
            fc.asyncProperty(forged, paidRoutes, async (envelope, route) => {
                const before = ledger();
                const res = await post(envelope, ENVELOPE_MEDIA_TYPE, route);
                expect(res.statusCode).toBe(400);
                expect(['bad_envelope', 'wrong_encryption_key']).toContain(res.json().error.code);
                expect(ledger()).toBe(before);
            }),
            params(100),
        );
    });

    it('paid routes: sealed garbage (well-sealed but not a paid request): 400, nothing stored', async () => {
        const plaintext = fc.oneof(
            fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
            malformedJson.map((s) => Buffer.from(s)),
            anyJson.map((v) => Buffer.from(JSON.stringify(v) ?? '')),
            invalidUtf8,
        );
        await fc.assert(
            fc.asyncProperty(plaintext, paidRoutes, async (pt, route) => {
                const before = ledger();
                const sealed = await sealRequest(encKey, pt);
                const res = await post(sealed.envelope, ENVELOPE_MEDIA_TYPE, route);
                expect(res.statusCode).toBe(400);
                expect(ledger()).toBe(before);
            }),
            params(60),
        );
    });

    it('chat: a paid request with one field of a wrong type or value: 4xx and nothing stored, or served and charged exactly once', async () => {
        const fields: Array<(r: any, v: unknown) => void> = [
            (r, v) => (r.version = v),
            (r, v) => (r.channel = v),
            (r, v) => (r.voucher = v),
            (r, v) => (r.request = v),
            (r, v) => (r.extra = v),
            (r, v) => (r.request.model = v),
            (r, v) => (r.request.messages = v),
            (r, v) => (r.request.messages[0] = v),
            (r, v) => (r.request.messages[1].role = v),
            (r, v) => (r.request.messages[1].content = v),
            (r, v) => (r.request.max_tokens = v),
            (r, v) => (r.request.max_completion_tokens = v),
            (r, v) => (r.request.temperature = v),
            (r, v) => (r.request.top_p = v),
            (r, v) => (r.request.seed = v),
            (r, v) => (r.request.stop = v),
            (r, v) => (r.request.n = v),
            (r, v) => (r.request.stream_options = v),
            (r, v) => (r.request.user = v),
        ];
        await fc.assert(
            fc.asyncProperty(fc.nat({ max: fields.length - 1 }), wrongValue, async (i, v) => {
                const r: any = paid();
                fields[i](r, v);
                const before = ledger();
                const receipts = receiptCount();
                const sealed = await sealRequest(encKey, Buffer.from(JSON.stringify(r)));
                const res = await post(sealed.envelope);
                expect(res.statusCode).toBeLessThan(500);
                if (res.statusCode === 200) expect(receiptCount()).toBe(receipts + 1);
                else expect(ledger()).toBe(before);
            }),
            params(80),
        );
    });

    it('embeddings and text completions: a paid request with one field of a wrong type or value: 4xx and nothing stored, or served and charged exactly once', async () => {
        const requests = {
            '/v1/embeddings': () => ({ version: 1, endpoint: 'embeddings', channel: channel.address.toString(), request: { model: 'cocoon-demo', input: ['one', 'two'] } }),
            '/v1/completions': () => ({ version: 1, endpoint: 'completions', channel: channel.address.toString(), request: { model: 'cocoon-demo', prompt: 'Once', max_tokens: 8 } }),
        };
        const fields: Array<(r: any, v: unknown) => void> = [
            (r, v) => (r.version = v),
            (r, v) => (r.endpoint = v),
            (r, v) => (r.channel = v),
            (r, v) => (r.request = v),
            (r, v) => (r.request.model = v),
            (r, v) => (r.request.input = v),
            (r, v) => (r.request.prompt = v),
            (r, v) => (r.request.encoding_format = v),
            (r, v) => (r.request.dimensions = v),
            (r, v) => (r.request.max_tokens = v),
            (r, v) => (r.request.suffix = v),
            (r, v) => (r.request.logprobs = v),
            (r, v) => (r.request.stream = v),
            (r, v) => (r.request[textOf(v)] = v),
        ];
        await fc.assert(
            fc.asyncProperty(fc.constantFrom(...(Object.keys(requests) as Array<keyof typeof requests>)), fc.nat({ max: fields.length - 1 }), wrongValue, async (route, i, v) => {
                const r: any = requests[route]();
                fields[i](r, v);
                const before = ledger();
                const receipts = receiptCount();
                const sealed = await sealRequest(encKey, Buffer.from(JSON.stringify(r)));
                const res = await post(sealed.envelope, ENVELOPE_MEDIA_TYPE, route);
                expect(res.statusCode).toBeLessThan(500);
                if (res.statusCode === 200) expect(receiptCount()).toBe(receipts + 1);
                else expect(ledger()).toBe(before);
            }),
            params(80),
        );
    });

    it('vouchers: forged, for another channel, stale, malformed or absurd: 402, the newest voucher unchanged, nothing served', async () => {
        const key = channel.address.toString();
        const mallory = keyPairFromSeed(Buffer.alloc(32, 9));
        const valid = () => worker.store.latestVoucher(key)!;
        const validWire = () => encodeVoucher({ channel: channel.address, total: valid().total, signature: valid().signature });
        const voucher = fc.oneof(
            // Signed by someone else.
            fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((t) => voucherFor(channel.address, valid().total + t, mallory.secretKey)),
            // The client's own signature, for another channel.
            fc.bigInt({ min: 0n, max: 1n << 40n }).map((t) => voucherFor(f.stranger.address, valid().total + t, clientKeys.secretKey)),
            // (An older voucher of the client's own is no forgery: served, and the newer one kept; tests/worker/api.spec.ts.)
            // Bit-flipped valid voucher.
            fc
                .array(fc.nat(), { minLength: 1, maxLength: 4 })
                .map((bits) => flipBits(Buffer.from(validWire(), 'base64'), bits).toString('base64'))
                // A flip in a BOC header bit that parsing ignores leaves the same, genuine voucher: not a forgery.
                .filter((w) => {
                    try {
                        const d = decodeVoucher(w);
                        return !(d.channel.equals(channel.address) && d.total === valid().total && d.signature.equals(valid().signature));
                    } catch {
                        return true;
                    }
                }),
            // A signature grafted onto a larger total.
            fc.bigInt({ min: 1n, max: 1n << 30n }).map((d) => encodeVoucher({ channel: channel.address, total: valid().total + d, signature: valid().signature })),
            // Valid signature by the client over an absurd total (more than any store or coin field holds).
            fc.bigInt({ min: 1n << 63n, max: (1n << 120n) - 1n }).map((t) => voucherFor(channel.address, t, clientKeys.secretKey)),
            // Not a voucher at all.
            fc.string({ minLength: 1, maxLength: 200 }),
            fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => Buffer.from(b).toString('base64')),
            fc.constant(beginCell().storeUint(0, 8).endCell().toBoc().toString('base64')),
        );
        await fc.assert(
            fc.asyncProperty(voucher, async (v) => {
                const before = ledger();
                const sealed = await sealPaidRequest(encKey, paid({ voucher: v }));
                const res = await post(sealed.envelope);
                expect(res.statusCode).toBeGreaterThanOrEqual(400);
                expect(res.statusCode).toBeLessThan(500);
                expect(['invalid_voucher', 'stale_voucher']).toContain(res.json().error.code);
                expect(ledger()).toBe(before);
            }),
            params(60),
        );
    });

    it('regression: a validly signed voucher over a total above 2^63 is refused with 402, not a 500', async () => {
        const before = ledger();
        const sealed = await sealPaidRequest(encKey, paid({ voucher: voucherFor(channel.address, 1n << 100n, clientKeys.secretKey) }));
        const res = await post(sealed.envelope);
        expect(res.statusCode).toBe(402);
        expect(res.json().error.code).toBe('invalid_voucher');
        expect(ledger()).toBe(before);
    });

    it('replays: a sealed request sent again is refused and not charged again; a replayed voucher moves nothing', async () => {
        const key = channel.address.toString();
        await fc.assert(
            fc.asyncProperty(fc.boolean(), fc.integer({ min: 1, max: 3 }), async (withVoucher, times) => {
                const latest = worker.store.latestVoucher(key)!.total;
                const owed = worker.store.receiptTotal(key);
                const sealed = await sealPaidRequest(encKey, paid(withVoucher ? { voucher: voucherFor(channel.address, owed, clientKeys.secretKey) } : {}));
                const receipts = receiptCount();
                expect((await post(sealed.envelope)).statusCode).toBe(200);
                expect(receiptCount()).toBe(receipts + 1);
                const after = ledger();
                for (let i = 0; i < times; i++) {
                    const again = await post(sealed.envelope);
                    expect(again.statusCode).toBe(409);
                    expect(again.json().error.code).toBe('replayed_request');
                }
                expect(ledger()).toBe(after);
                expect(worker.store.latestVoucher(key)!.total).toBe(withVoucher ? owed : latest);
                // The same voucher in a fresh request (a replay of the voucher, not of the request): served, the newest voucher unchanged.
                if (withVoucher) {
                    const fresh = await sealPaidRequest(encKey, paid({ voucher: voucherFor(channel.address, owed, clientKeys.secretKey) }));
                    expect((await post(fresh.envelope)).statusCode).toBe(200);
                    expect(worker.store.latestVoucher(key)!.total).toBe(owed);
                }
            }),
            params(10),
        );
    });

    it('regression: the same sealed request sent several times at once is served exactly once', async () => {
        const receipts = receiptCount();
        const sealed = await sealPaidRequest(encKey, paid());
        const answers = await Promise.all([1, 2, 3].map(() => post(sealed.envelope)));
        expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 409, 409]);
        expect(receiptCount()).toBe(receipts + 1);
    });

    it('regression: a replayed refused request is still refused after the cause is gone', async () => {
        // Refused (unknown channel) once; the envelope was opened and must never be served later either.
        const sealed = await sealPaidRequest(encKey, paid({ channel: new Address(0, Buffer.alloc(32, 3)).toString() }));
        expect((await post(sealed.envelope)).statusCode).toBe(402);
        const again = await post(sealed.envelope);
        expect(again.statusCode).toBe(409);
    });

    describe('over a real socket', () => {
        it('huge bodies get 413 (or the upload is cut after the 413); nothing stored', async () => {
            const before = ledger();
            for (const ct of [ENVELOPE_MEDIA_TYPE, 'application/json', 'application/octet-stream', 'text/plain']) {
                const res = await rawRequest(worker.url, { path: '/v1/chat/completions', headers: { 'content-type': ct }, body: Buffer.alloc(8 * 1024 * 1024, 0x41) });
                if (res.status !== 0) expect([413, 415]).toContain(res.status);
            }
            // Chunked, no length announced.
            const chunked = await rawRequest(worker.url, {
                path: '/v1/chat/completions',
                headers: { 'content-type': ENVELOPE_MEDIA_TYPE, 'transfer-encoding': 'chunked' },
                body: Array.from({ length: 64 }, () => Buffer.alloc(64 * 1024, 1)),
            });
            if (chunked.status !== 0) expect(chunked.status).toBe(413);
            expect(ledger()).toBe(before);
        });

        it('bad encodings: invalid UTF-8, charset lies, content-encoding lies, malformed HTTP framing: 4xx, nothing stored', async () => {
            const before = ledger();
            await fc.assert(
                fc.asyncProperty(
                    invalidUtf8,
                    fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain; charset=utf-8', ENVELOPE_MEDIA_TYPE),
                    fc.constantFrom(undefined, 'gzip', 'deflate', 'br', 'identity', 'x-unknown'),
                    async (body, ct, encoding) => {
                        const headers: Record<string, string> = { 'content-type': ct };
                        if (encoding) headers['content-encoding'] = encoding;
                        const res = await rawRequest(worker.url, { path: '/v1/chat/completions', headers, body });
                        expect(res.status).toBeGreaterThanOrEqual(400);
                        expect(res.status).toBeLessThan(500);
                    },
                ),
                params(30),
            );
            // Framing the HTTP parser itself refuses (answered 400 by Node, the process unharmed).
            for (const raw of [
                'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
                'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcdefg',
                'GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
                '\x00\x01\x02 / HTTP/9.9\r\n\r\n',
            ]) {
                const u = new URL(worker.url);
                const answer = await new Promise<string>((resolve) => {
                    const s = connect(Number(u.port), u.hostname, () => s.end(raw));
                    let got = '';
                    s.on('data', (d) => (got += d.toString('latin1')));
                    s.on('close', () => resolve(got));
                    s.on('error', () => resolve(got));
                });
                if (answer) expect(answer).toMatch(/^HTTP\/1\.1 4\d\d/);
            }
            expect(ledger()).toBe(before);
        });
    });

    it('still answers and still serves a paid request after all of it', async () => {
        const res = await post((await sealPaidRequest(encKey, paid())).envelope);
        expect(res.statusCode).toBe(200);
        const h = await fetch(`${worker.url}/health`);
        expect(h.status).toBe(200);
    });
});
