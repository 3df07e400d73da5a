import '@ton/test-utils';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, Cell, Sender, toNano } from '@ton/core';
import { SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox';
import pino from 'pino';
import { Writable } from 'node:stream';
import { ENVELOPE_MEDIA_TYPE, generateKeyPair, sealRequest } from '../../helpers/hpke';
import { IMAGE_TOKENS_BOUND, PaidRequest, decodeVoucher, promptTokenBound, requestDigest, responseDigest } from '../../protocol/paidRequest';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { openSignedReceipt, parseReceipt, receiptMaxCost, verifyReceipt } from '../../wrappers/receipt';
import { devSimulatedAttestationKey, DEV_IMAGE_HASH, DEV_MODEL_ID } from '../../wrappers/devnet';
import { simulatedDigest } from '../../wrappers/tdx';
import { signVerify } from '@ton/crypto';
import { parseConfig } from '../../worker/src/config';
import { SimulatedProvider } from '../../worker/src/attestation';
import { Worker, createWorker } from '../../worker/src/worker';
import { openChannel, testKeys } from '../helpers/channel';
import { SERVING_PRICES, ServingFixture, deployServing } from '../helpers/serving';
import { paidOut } from '../helpers/messages';
import {
    UPSTREAM_CACHED_TOKENS,
    UPSTREAM_EMBEDDING_TOKENS,
    UPSTREAM_PROMPT_TOKENS,
    Upstream,
    WORDS,
    callWorker,
    chatBody,
    readAnswer,
    sandboxOpener,
    startUpstream,
    upstreamEmbedding,
    voucherFor,
} from './helpers';
import { embeddingsResponseText } from '../../protocol/embeddings';

jest.setTimeout(60_000);

/** nanoTON per million tokens. */
// About 0.02 TON a request: claims move amounts that pay for their own gas.
const PRICES = SERVING_PRICES;
const usageOf = (u: any) => ({
    prompt: BigInt(u.prompt_tokens),
    cached: BigInt(u.prompt_tokens_details.cached_tokens),
    completion: BigInt(u.completion_tokens),
    reasoning: BigInt(u.completion_tokens_details.reasoning_tokens),
});

describe('worker HTTP API (openai backend, sandbox chain)', () => {
    let f: ServingFixture;
    let channel: SandboxContract<ExtendedPaymentChannel>;
    let upstream: Upstream;
    let worker: Worker;
    let dir: string;
    let encKey: Buffer;
    let operator: SandboxContract<TreasuryContract>;
    let lastSend: SendMessageResult | undefined;
    const logLines: string[] = [];
    const clientKeys = testKeys('client');
    const workerKeys = testKeys('worker');

    const req = (over: Partial<PaidRequest> = {}, body: Record<string, unknown> = {}): PaidRequest => ({
        version: 1,
        channel: channel.address.toString(),
        request: chatBody(body),
        ...over,
    });
    const call = (r: PaidRequest) => callWorker(worker.url, encKey, r);
    const chKey = () => channel.address.toString();

    beforeAll(async () => {
        f = await deployServing();
        ({ channel } = await openChannel(f, { nonce: 1n, deposit: toNano('10') }));
        operator = await f.blockchain.treasury('operator');
        upstream = await startUpstream();
        dir = mkdtempSync(join(tmpdir(), 'cocoon-worker-api-'));
        const devKeyPath = join(dir, 'dev.key');
        writeFileSync(devKeyPath, 'ab'.repeat(32), { mode: 0o600 });
        const config = parseConfig({
            network: { endpoint: 'http://127.0.0.1:1/jsonRPC' },
            contracts: { staking: f.registry.address.toString() },
            keys: { receiptKeyPath: 'unused', encryptionKeyPath: 'unused', walletMnemonicPath: 'unused' },
            payoutAddress: operator.address.toString(),
            http: { port: 0, maxConcurrent: 1, maxBodyBytes: 64 * 1024 },
            backend: { kind: 'openai', baseUrl: upstream.url, modelMap: { 'cocoon-demo': 'llama-3-8b' }, connectTimeoutMs: 5000, idleTimeoutMs: 10_000 },
            prices: { prompt: '1', cached: '1', completion: '1', reasoning: '1' },
            attestation: { provider: 'simulated', devKeyPath },
            // These tests send vouchers only where they test them (see lifecycle.spec for the unpaid-receipt rule).
            payments: { claimThreshold: toNano('1000').toString(), watchIntervalMs: 3_600_000, creditLimit: '1000000000000' },
            limits: { maxTokens: 1_000_000 },
            store: { path: join(dir, 'store.db') },
            shutdownTimeoutMs: 5000,
        });
        const enc = await generateKeyPair();
        encKey = enc.publicKey;
        const sender: Sender = {
            address: operator.address,
            send: async (args) => {
                lastSend = await operator.send(args);
            },
        };
        const logger = pino(
            { level: 'info' },
            new Writable({
                write(c, _e, cb) {
                    logLines.push(String(c));
                    cb();
                },
            }),
        );
        worker = await createWorker(config, {
            logger,
            keys: { receipt: { publicKey: workerKeys.publicKey, secretKey: workerKeys.secretKey }, encryption: enc },
            opener: sandboxOpener(f.blockchain),
            sender,
            owner: operator.address,
            workerStake: f.workerStake.address,
            attestationProvider: new SimulatedProvider(devSimulatedAttestationKey()),
        });
        await worker.start();
    });

    afterAll(async () => {
        await worker?.stop();
        await upstream?.close();
        rmSync(dir, { recursive: true, force: true });
    });

    it('serves the public endpoints: models, attestation, health, metrics', async () => {
        const models = (await (await fetch(`${worker.url}/v1/models`)).json()) as any;
        expect(models.data.map((m: any) => m.id)).toEqual(['cocoon-demo']);
        expect(BigInt('0x' + models.data[0].model_id)).toBe(DEV_MODEL_ID);

        const att = (await (await fetch(`${worker.url}/attestation`)).json()) as any;
        expect(att.provider).toBe('simulated');
        expect(att.claims.workerStake).toBe(f.workerStake.address.toString());
        expect(att.claims.encryptionKey).toBe(encKey.toString('hex'));
        expect(att.claims.workerKey).toBe(workerKeys.publicKey.toString('hex'));
        expect(BigInt('0x' + att.imageHash)).toBe(DEV_IMAGE_HASH);
        const e = worker.evidence()!;
        expect(signVerify(simulatedDigest(e.claims, e.imageHash), Buffer.from(att.signature, 'hex'), devSimulatedAttestationKey().publicKey)).toBe(true);

        const health = await fetch(`${worker.url}/health`);
        expect(health.status).toBe(200);
        expect(((await health.json()) as any).backend.ok).toBe(true);

        const metrics = await (await fetch(`${worker.url}/metrics`)).text();
        expect(metrics).toContain('cocoon_worker_active_requests');
        expect(metrics).toContain('cocoon_worker_unclaimed_nanoton');
    });

    it('serves a non-streaming paid request with a receipt that verifies and matches the usage', async () => {
        const r = await call(req());
        expect(r.status).toBe(200);
        expect(r.headers.get('content-type')).toContain(ENVELOPE_MEDIA_TYPE);
        const c = r.final;
        expect(c.object).toBe('chat.completion');
        expect(c.choices[0].message.content).toBe(WORDS.join(''));
        expect(c.usage.prompt_tokens).toBe(UPSTREAM_PROMPT_TOKENS);
        expect(c.usage.prompt_tokens_details.cached_tokens).toBe(UPSTREAM_CACHED_TOKENS);
        expect(c.usage.completion_tokens).toBe(WORDS.length);

        const { receipt, signature } = openSignedReceipt(Cell.fromBase64(c.receipt.boc));
        expect(verifyReceipt(receipt, signature, workerKeys.publicKey)).toBe(true);
        const fields = parseReceipt(receipt);
        expect(fields.channel.equals(channel.address)).toBe(true);
        expect(fields.workerStake.equals(f.workerStake.address)).toBe(true);
        expect(fields.modelId).toBe(DEV_MODEL_ID);
        expect(fields.usage).toEqual(usageOf(c.usage));
        expect(fields.cost).toBe(receiptMaxCost(PRICES, fields.usage));
        expect(fields.cost).toBeGreaterThan(0n);
        expect(fields.cumulativeCost).toBe(fields.cost);
        expect(fields.requestId.toString()).toBe(c.receipt.requestId);
        expect(fields.requestHash).toBe(BigInt('0x' + requestDigest(r.plaintext).toString('hex')));
        expect(fields.responseHash).toBe(BigInt('0x' + responseDigest(WORDS.join(''), '').toString('hex')));

        // Stored before the answer completed.
        const stored = worker.store.receipt(c.receipt.requestId)!;
        expect(stored.cost).toBe(fields.cost);
        expect(stored.boc.toString('base64')).toBe(c.receipt.boc);
        // The upstream was asked for usage.
        expect(upstream.requests.at(-1).stream_options).toEqual({ include_usage: true });
    });

    it('streams encrypted chunks and ends with the receipt; the voucher is stored; ids and totals advance', async () => {
        const before = worker.store.receiptTotal(chKey());
        const voucher = voucherFor(channel.address, before, clientKeys.secretKey);
        const r = await call(req({ voucher }, { stream: true }));
        expect(r.status).toBe(200);
        const data = r.frames.filter((x) => !x.final);
        expect(data.map((x) => x.json.choices[0].delta.content).join('')).toBe(WORDS.join(''));
        expect(data.every((x) => x.json.object === 'chat.completion.chunk')).toBe(true);
        const last = r.final;
        expect(last.choices[0].finish_reason).toBe('stop');
        const fields = parseReceipt(openSignedReceipt(Cell.fromBase64(last.receipt.boc)).receipt);
        expect(fields.usage).toEqual(usageOf(last.usage));
        expect(fields.cumulativeCost).toBe(before + fields.cost);
        expect(BigInt(last.receipt.requestId)).toBeGreaterThan(1n);
        expect(worker.store.latestVoucher(chKey())?.total ?? 0n).toBe(before);
        // The plaintext never reached the logs.
        expect(logLines.join('')).not.toContain('Say hello');
        expect(logLines.join('')).not.toContain('friend');
    });

    it('charges the tokens delivered when the upstream breaks mid-stream', async () => {
        upstream.mode = 'kill';
        try {
            const before = worker.store.receiptsOf(chKey()).length;
            const r = await call(req({}, { stream: true }));
            expect(r.status).toBe(200);
            const text = r.frames
                .filter((x) => !x.final)
                .map((x) => x.json.choices[0].delta.content)
                .join('');
            expect(text).toBe(WORDS.slice(0, 3).join(''));
            expect(r.final.choices[0].finish_reason).toBe('error');
            expect(r.final.usage.completion_tokens).toBe(3);
            expect(r.final.usage.estimated).toBe(true);
            const fields = parseReceipt(openSignedReceipt(Cell.fromBase64(r.final.receipt.boc)).receipt);
            expect(fields.usage.completion).toBe(3n);
            expect(worker.store.receiptsOf(chKey())).toHaveLength(before + 1);
        } finally {
            upstream.mode = 'usage';
        }
    });

    it('charges what was delivered when the client goes away mid-stream', async () => {
        upstream.mode = 'slow';
        try {
            const before = worker.store.receiptsOf(chKey()).length;
            const ac = new AbortController();
            const sealed = await sealRequest(encKey, Buffer.from(JSON.stringify(req({}, { stream: true }))));
            const res = await fetch(`${worker.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': ENVELOPE_MEDIA_TYPE }, body: sealed.envelope, signal: ac.signal });
            const reader = res.body!.getReader();
            let got = '';
            while (!got.includes('\n\n')) got += new TextDecoder().decode((await reader.read()).value);
            ac.abort();
            await reader.cancel().catch(() => undefined);
            // The worker settles once the generation stops.
            const deadline = Date.now() + 20_000;
            while (worker.store.receiptsOf(chKey()).length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
            const rec = worker.store.receiptsOf(chKey()).at(-1)!;
            expect(worker.store.receiptsOf(chKey())).toHaveLength(before + 1);
            expect(rec.completionTokens).toBeGreaterThanOrEqual(1);
            expect(rec.completionTokens).toBeLessThan(WORDS.length);
        } finally {
            upstream.mode = 'usage';
        }
    });

    it('serves paid embeddings: prompt tokens only, the receipt committing to the request (its endpoint included) and to the data; an envelope is spent on every route, and one of either kind sent to the other route is refused; nothing charged for a refusal', async () => {
        /** Seals `plaintext` and posts it to `path`, as the client SDK does. */
        const post = async (path: string, plaintext: Buffer) => {
            const sealed = await sealRequest(encKey, plaintext);
            const send = () => fetch(`${worker.url}${path}`, { method: 'POST', headers: { 'content-type': ENVELOPE_MEDIA_TYPE }, body: sealed.envelope });
            return { sealed, send };
        };
        const receipts = () => worker.store.listChannels().reduce((n, c) => n + c.receipts, 0);
        const before = worker.store.receiptTotal(chKey());
        const inputs = ['one', 'two', 'three'];
        const plaintext = Buffer.from(JSON.stringify({ version: 1, endpoint: 'embeddings', channel: chKey(), request: { model: 'cocoon-demo', input: inputs } }));
        const { sealed, send } = await post('/v1/embeddings', plaintext);
        const r = await readAnswer(await send(), sealed.response, plaintext, false);
        expect(r.status).toBe(200);
        expect(r.final.data.map((d: any) => d.embedding)).toEqual(inputs.map((_, i) => upstreamEmbedding(i).map(Math.fround)));
        expect(r.final.usage).toEqual({ prompt_tokens: 3 * UPSTREAM_EMBEDDING_TOKENS, completion_tokens: 0, total_tokens: 3 * UPSTREAM_EMBEDDING_TOKENS });
        const fields = parseReceipt(openSignedReceipt(Cell.fromBase64(r.final.receipt.boc)).receipt);
        expect(fields.usage).toEqual({ prompt: BigInt(3 * UPSTREAM_EMBEDDING_TOKENS), cached: 0n, completion: 0n, reasoning: 0n });
        expect(fields.cost).toBe(receiptMaxCost(PRICES, fields.usage));
        expect(fields.cumulativeCost).toBe(before + fields.cost);
        expect(fields.requestHash).toBe(BigInt('0x' + requestDigest(plaintext).toString('hex')));
        expect(fields.responseHash).toBe(BigInt('0x' + responseDigest(embeddingsResponseText(r.final.data), '').toString('hex')));
        const served = receipts();

        // Sent again, to either route: a replay, refused before anything is opened twice.
        for (const path of ['/v1/embeddings', '/v1/chat/completions']) {
            const again = await fetch(`${worker.url}${path}`, { method: 'POST', headers: { 'content-type': ENVELOPE_MEDIA_TYPE }, body: sealed.envelope });
            expect(again.status).toBe(409);
            expect(((await again.json()) as any).error.code).toBe('replayed_request');
        }
        // An embeddings plaintext on the chat route, a chat plaintext on the embeddings route: refused by name.
        const crossed = await post('/v1/chat/completions', Buffer.from(JSON.stringify({ version: 1, endpoint: 'embeddings', channel: chKey(), request: chatBody() })));
        const toChat = await readAnswer(await crossed.send(), crossed.sealed.response, Buffer.alloc(0), false);
        expect(toChat.status).toBe(400);
        expect(toChat.error!.message).toMatch(/endpoint: not supported/);
        const chatToEmbeddings = await post('/v1/embeddings', Buffer.from(JSON.stringify({ version: 1, channel: chKey(), request: { model: 'cocoon-demo', input: 'x' } })));
        const toEmbeddings = await readAnswer(await chatToEmbeddings.send(), chatToEmbeddings.sealed.response, Buffer.alloc(0), false);
        expect(toEmbeddings.status).toBe(400);
        expect(toEmbeddings.error!.message).toMatch(/endpoint: /);
        // More input than the channel's deposit covers at the prompt price: refused before the upstream is asked.
        const { channel: small } = await openChannel(f, { nonce: 40n, deposit: toNano('0.05') });
        const asked = upstream.requests.length;
        const big = await post(
            '/v1/embeddings',
            Buffer.from(JSON.stringify({ version: 1, endpoint: 'embeddings', channel: small.address.toString(), request: { model: 'cocoon-demo', input: 'x'.repeat(40_000) } })),
        );
        const refused = await readAnswer(await big.send(), big.sealed.response, Buffer.alloc(0), false);
        expect(refused.status).toBe(402);
        expect(refused.error!.code).toBe('insufficient_deposit');
        expect(upstream.requests.length).toBe(asked);
        expect(receipts()).toBe(served);
    });

    it('passes images to an OpenAI-compatible upstream as the API spells them, sealed end to end; admission bounds each image as IMAGE_TOKENS_BOUND prompt tokens and the receipt charges what the upstream counted', async () => {
        const content = [
            { type: 'text' as const, text: 'What is in the picture?' },
            { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' as const } },
        ];
        const request = { ...chatBody(), messages: [{ role: 'user' as const, content }] };
        // One image may count up to IMAGE_TOKENS_BOUND tokens: more than this suite's 10 TON channel holds at its prompt price.
        const small = await call({ version: 1, channel: chKey(), request });
        expect(small.status).toBe(402);
        expect(small.error!.code).toBe('insufficient_deposit');
        const { channel: roomy } = await openChannel(f, { nonce: 41n, deposit: toNano('50') });
        const r = await call({ version: 1, channel: roomy.address.toString(), request });
        expect(r.status).toBe(200);
        expect(upstream.requests.at(-1).messages).toEqual([{ role: 'user', content }]);
        const fields = parseReceipt(openSignedReceipt(Cell.fromBase64(r.final.receipt.boc)).receipt);
        expect(fields.usage.prompt).toBe(BigInt(UPSTREAM_PROMPT_TOKENS));
        expect(fields.requestHash).toBe(BigInt('0x' + requestDigest(r.plaintext).toString('hex')));
        expect(promptTokenBound(request)).toBeGreaterThan(IMAGE_TOKENS_BOUND);
    });

    describe('refusals (nothing served, nothing charged)', () => {
        let receiptsBefore: number;
        beforeEach(() => {
            receiptsBefore = worker.store.listChannels().reduce((n, c) => n + c.receipts, 0);
        });
        afterEach(() => {
            expect(worker.store.listChannels().reduce((n, c) => n + c.receipts, 0)).toBe(receiptsBefore);
        });

        it('unknown channel', async () => {
            const r = await call(req({ channel: new Address(0, Buffer.alloc(32, 7)).toString() }));
            expect(r.status).toBe(402);
            expect(r.error!.code).toBe('unknown_channel');
        });

        it('a channel of another worker', async () => {
            const { channel: other } = await openChannel(f, { nonce: 2n, workerOwner: f.stranger.address });
            const r = await call(req({ channel: other.address.toString() }));
            expect(r.status).toBe(403);
            expect(r.error!.code).toBe('channel_of_another_worker');
        });

        it('insufficient deposit for the unpaid receipts plus max_tokens at current prices', async () => {
            const { channel: small } = await openChannel(f, { nonce: 3n, deposit: toNano('0.5') });
            const r = await call(req({ channel: small.address.toString() }, { max_tokens: 100_000 }));
            expect(r.status).toBe(402);
            expect(r.error!.code).toBe('insufficient_deposit');
            // A small request fits.
            const ok = await call(req({ channel: small.address.toString() }, { max_tokens: 8 }));
            expect(ok.status).toBe(200);
            receiptsBefore += 1;
        });

        it('a top-up the cached chain view has not seen yet: admission reads the chain itself before refusing', async () => {
            const { channel: small } = await openChannel(f, { nonce: 4n, deposit: toNano('0.5') });
            const big = { max_tokens: 2000 };
            const refused = await call(req({ channel: small.address.toString() }, big));
            expect(refused.status).toBe(402);
            expect(refused.error!.code).toBe('insufficient_deposit');
            // The view now holds the 0.5 TON deposit for its lifetime; the client tops up meanwhile.
            await small.sendTopUp(f.client.getSender(), toNano('10'));
            await new Promise((r) => setTimeout(r, 1100));
            const served = await call(req({ channel: small.address.toString() }, big));
            expect(served.status).toBe(200);
            receiptsBefore += 1;
        });

        it('an older voucher with a request (a newer one arrived on its own first): served, the newer one kept', async () => {
            const latest = worker.store.latestVoucher(chKey())?.total ?? 0n;
            const newer = latest + 1000n;
            expect((await call(req({ voucher: voucherFor(channel.address, newer, clientKeys.secretKey) }))).status).toBe(200);
            const r = await call(req({ voucher: voucherFor(channel.address, latest, clientKeys.secretKey) }));
            expect(r.status).toBe(200);
            receiptsBefore += 2;
            expect(worker.store.latestVoucher(chKey())!.total).toBe(newer);
            // Still checked: an older voucher the client never signed is refused.
            const forged = await call(req({ voucher: voucherFor(channel.address, latest, testKeys('mallory').secretKey) }));
            expect(forged.status).toBe(402);
            expect(forged.error!.code).toBe('invalid_voucher');
        });

        it('a forged voucher, or one for another channel', async () => {
            const total = (worker.store.latestVoucher(chKey())?.total ?? 0n) + 5000n;
            let r = await call(req({ voucher: voucherFor(channel.address, total, testKeys('mallory').secretKey) }));
            expect(r.status).toBe(402);
            expect(r.error!.code).toBe('invalid_voucher');
            r = await call(req({ voucher: voucherFor(f.stranger.address, total, clientKeys.secretKey) }));
            expect(r.status).toBe(402);
            expect(r.error!.code).toBe('invalid_voucher');
            r = await call(req({ voucher: 'not-a-boc' }));
            expect(r.status).toBe(402);
            expect(worker.store.latestVoucher(chKey())?.total ?? 0n).toBeLessThan(total);
        });

        it('malformed envelope, malformed JSON and a request that fails the schema', async () => {
            let res = await fetch(`${worker.url}/v1/chat/completions`, {
                method: 'POST',
                headers: { 'content-type': ENVELOPE_MEDIA_TYPE },
                body: Buffer.from('garbage garbage garbage garbage garbage garbage garbage garbage'),
            });
            expect(res.status).toBe(400);
            expect(((await res.json()) as any).error.code).toBe('bad_envelope');

            const sealedJunk = await sealRequest(encKey, Buffer.from('{not json'));
            res = await fetch(`${worker.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': ENVELOPE_MEDIA_TYPE }, body: sealedJunk.envelope });
            expect(res.status).toBe(400);

            const r = await call({ ...req(), request: { model: 'cocoon-demo', messages: [{ role: 'wizard', content: 'secret words' }] } as any });
            expect(r.status).toBe(400);
            expect(r.error!.code).toBe('invalid_request');
            expect(r.error!.message).toContain('messages.0.role');
            expect(r.error!.message).not.toContain('wizard');

            const plain = await fetch(`${worker.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chatBody()) });
            expect(plain.status).toBe(415);
        });

        it('an oversized body', async () => {
            const res = await fetch(`${worker.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': ENVELOPE_MEDIA_TYPE }, body: Buffer.alloc(100 * 1024, 1) });
            expect(res.status).toBe(413);
        });

        it('a request sealed to another encryption key', async () => {
            const other = await generateKeyPair();
            const r = await callWorker(worker.url, other.publicKey, req());
            expect(r.status).toBe(400);
            expect(r.error!.code).toBe('wrong_encryption_key');
        });

        it('an unknown model', async () => {
            const r = await call(req({}, { model: 'gpt-17' }));
            expect(r.status).toBe(404);
            expect(r.error!.code).toBe('model_not_found');
        });

        it('a backend that is down: 503, no charge, the voucher is still kept', async () => {
            upstream.mode = 'down';
            try {
                const total = (worker.store.latestVoucher(chKey())?.total ?? 0n) + 1n;
                const r = await call(req({ voucher: voucherFor(channel.address, total, clientKeys.secretKey) }));
                expect(r.status).toBe(503);
                expect(r.error!.code).toBe('backend_unavailable');
                expect(worker.store.latestVoucher(chKey())?.total ?? 0n).toBe(total);
                const health = await fetch(`${worker.url}/health`);
                expect(health.status).toBe(503);
                expect(((await health.json()) as any).backend.ok).toBe(false);
            } finally {
                upstream.mode = 'usage';
            }
        });

        it('over capacity: 429 with Retry-After', async () => {
            upstream.mode = 'slow';
            try {
                const first = call(req({}, { stream: true }));
                // Wait until the first request is being served.
                const deadline = Date.now() + 10_000;
                while (worker.server.active === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
                const second = await call(req());
                expect(second.status).toBe(429);
                expect(second.headers.get('retry-after')).toBe('1');
                expect((await first).status).toBe(200);
                receiptsBefore += 1;
            } finally {
                upstream.mode = 'usage';
            }
        });
    });

    it('counts requests and tokens in /metrics', async () => {
        const text = await (await fetch(`${worker.url}/metrics`)).text();
        expect(text).toMatch(/cocoon_worker_requests_total\{status="200"\} \d+/);
        expect(text).toMatch(/cocoon_worker_requests_total\{status="402"\} \d+/);
        expect(text).toMatch(/cocoon_worker_tokens_total\{class="completion"\} \d+/);
        expect(text).toMatch(/cocoon_worker_time_to_first_token_seconds_count \d+/);
        const earned = Number(/cocoon_worker_earned_nanoton (\d+)/.exec(text)![1]);
        expect(earned).toBeGreaterThan(0);
    });

    it('claims the newest voucher on demand: the fee accrues for the treasury, the rest goes to the WorkerStake owner', async () => {
        const owed = worker.store.receiptTotal(chKey());
        const voucher = voucherFor(channel.address, owed, clientKeys.secretKey);
        expect((await call(req({ voucher }))).status).toBe(200);
        const total = decodeVoucher(voucher).total;
        const results = await worker.claimer.claimAll();
        expect(results.find((x) => x.channel === chKey())).toMatchObject({ claimed: true, paid: total });
        expect(await channel.getPaid()).toBe(total);
        const feeBps = f.params.protocolFeeBps;
        const fee = (total * feeBps) / 10000n;
        expect(fee).toBeGreaterThan(0n);
        expect(paidOut(lastSend!.transactions, channel.address, f.workerOwner.address)).toBe(total - fee);
        expect(await channel.getFeeDue()).toBe(fee);
        expect(worker.store.channel(chKey())!.claimedTotal).toBe(total);
        expect(worker.store.unclaimed(chKey())).toBe(0n);
        // Idempotent: nothing more to claim.
        lastSend = undefined;
        await worker.claimer.claimAll();
        expect(lastSend).toBeUndefined();
    });

    it('redeems a closing channel at once, below the threshold', async () => {
        const owed = worker.store.receiptTotal(chKey());
        expect((await call(req({ voucher: voucherFor(channel.address, owed, clientKeys.secretKey) }))).status).toBe(200);
        expect(worker.store.unclaimed(chKey())).toBeGreaterThan(0n);
        // Below the threshold: a normal round claims nothing.
        lastSend = undefined;
        await worker.claimer.tick();
        expect(lastSend).toBeUndefined();
        // The client asks to close.
        await channel.sendRequestClose(f.client.getSender());
        const results = await worker.claimer.tick();
        expect(results.find((x) => x.channel === chKey())?.claimed).toBe(true);
        expect(await channel.getPaid()).toBe(owed);
        expect(worker.store.channel(chKey())!.state).toBe('closing');
        // New requests on a closing channel are refused.
        const r = await call(req());
        expect(r.status).toBe(402);
        expect(r.error!.code).toBe('channel_not_open');
    });
});
