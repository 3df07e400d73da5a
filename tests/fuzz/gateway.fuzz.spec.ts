import '@ton/test-utils';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toNano } from '@ton/core';
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { modelIdOf } from '../../protocol/paidRequest';
import { ExtendedEscrow } from '../../wrappers/Escrow';
import { DEV_IMAGE_HASH } from '../../wrappers/devnet';
import { CocoonClient } from '../../client/src/client';
import { buildGateway } from '../../client/src/gateway';
import { ClientStore } from '../../client/src/store';
import type { Worker } from '../../worker/src/worker';
import { testKeys } from '../helpers/channel';
import { linkContracts, passProposal } from '../helpers/registry';
import { StakingFixture, attest, deployStaking, listing, stake } from '../helpers/staking';
import { Upstream, sandboxOpener, startSandboxWorker, startUpstream } from '../worker/helpers';
import { anyJson, call, contentTypes, invalidUtf8, malformedJson, params, rawRequest, routesOf, textOf, wrongValue } from './arbitraries';

jest.setTimeout(300_000);

/**
 * Bad input against the client gateway (the OpenAI-compatible API on
 * localhost), with a real worker behind it on a sandbox chain: wrong or
 * missing API keys, malformed JSON, wrong types, huge bodies, bad
 * encodings. Never a 5xx for the app's mistake, the gateway keeps
 * answering, and a refused request pays nothing and opens no channel.
 */

const API_KEY = 'sk-fuzz-0123456789';
const MODEL = 'cocoon-demo';
const PRICES = { prompt: 1_000_000n, cached: 100_000n, completion: 3_000_000n, reasoning: 3_000_000n };

describe('client gateway under bad input', () => {
    let s: StakingFixture;
    let upstream: Upstream;
    let worker: Worker;
    let store: ClientStore;
    let gateway: FastifyInstance;
    let url: string;
    let dir: string;
    let wallet: SandboxContract<TreasuryContract>;
    const auth = { authorization: `Bearer ${API_KEY}` };

    /** What the client would pay by: channels, receipts and vouchers, bad receipts. */
    function ledger(): string {
        const channels = store.channels();
        return JSON.stringify(
            {
                channels,
                receipts: channels.map((c) => store.receipts(c.address).length),
                vouchers: channels.map((c) => store.latestVoucher(c.address) ?? null),
                bad: store.badReceipts().length,
                workerReceipts: worker.store.listChannels().reduce((n, c) => n + c.receipts, 0),
            },
            (_k, x) => (typeof x === 'bigint' ? x.toString() : Buffer.isBuffer(x) ? x.toString('hex') : x),
        );
    }

    const chat = (payload: Buffer | string, headers: Record<string, string> = { ...auth, 'content-type': 'application/json' }, route = '/v1/chat/completions') =>
        call(url, { method: 'POST', url: route, headers, payload });
    /** Every route an app posts a request to. */
    const ROUTES = [
        '/v1/chat/completions',
        '/v1/responses',
        '/v1/embeddings',
        '/v1/completions',
        '/v1/models',
        '/console/api/network',
        '/console/api/channels',
        '/console/api/activity',
        '/console/api/channels/x/close',
    ];

    beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-fuzz-gateway-'));
        s = await deployStaking();
        // The worker's model in the Registry, an Escrow linked beside the Staking.
        const modelId = modelIdOf(MODEL);
        await passProposal(s, () => s.registry.sendProposeModel(s.owner.getSender(), modelId, MODEL));
        // The simulated attestation's image (what the worker's /attestation names).
        await passProposal(s, () => s.registry.sendProposeImage(s.owner.getSender(), DEV_IMAGE_HASH));
        const escrow = s.blockchain.openContract(await ExtendedEscrow.fromInit(s.registry.address));
        await escrow.sendDeploy(s.owner.getSender());
        await linkContracts(s, { staking: s.staking.address, verifier: s.verifier.address, escrow: escrow.address });
        upstream = await startUpstream();
        const { worker: ws } = await stake(s, toNano('100'), { listing: listing({ modelId, endpoint: 'http://127.0.0.1:1', prices: PRICES }) });
        const started = await startSandboxWorker({
            blockchain: s.blockchain,
            operator: s.provider,
            workerStake: ws.address,
            workerKeys: s.keys,
            backend: { kind: 'openai', baseUrl: upstream.url, modelMap: { [MODEL]: 'llama-3-8b' }, connectTimeoutMs: 5000, idleTimeoutMs: 10_000 },
            prices: PRICES,
            dir,
            overrides: { payments: { claimThreshold: '1000000000000', watchIntervalMs: 3_600_000, creditLimit: '1000000000000' } },
        });
        worker = started.worker;
        // The listing names the worker's real endpoint and the chain its real keys.
        await ws.sendUpdateListing(s.provider.getSender(), listing({ modelId, endpoint: worker.url, encryptionKey: BigInt('0x' + started.encryptionKey.toString('hex')), prices: PRICES }));
        await attest(s, ws.address, { modelId, encryptionKey: BigInt('0x' + started.encryptionKey.toString('hex')), imageHash: DEV_IMAGE_HASH });

        wallet = await s.blockchain.treasury('app-wallet', { balance: toNano('1000') });
        store = ClientStore.open(join(dir, 'client.db'));
        const client = new CocoonClient({
            opener: sandboxOpener(s.blockchain),
            staking: s.staking.address,
            wallet: { address: wallet.address, send: async (args) => void (await wallet.send(args)) },
            channelKey: testKeys('fuzz-client'),
            store,
            deposit: toNano('20'),
            topUpBelow: toNano('1'),
            submitFraudProofs: false,
        });
        gateway = buildGateway({ client, apiKeys: [API_KEY] });
        await gateway.listen({ host: '127.0.0.1', port: 0 });
        url = `http://127.0.0.1:${(gateway.server.address() as { port: number }).port}`;

        // The whole path works: one real paid request through the gateway.
        const ok = await chat(JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 }));
        expect(ok.statusCode).toBe(200);
        expect(ok.json().choices[0].message.content).toBe('Hello there, friend!');
        expect(store.channels()).toHaveLength(1);
    });

    afterAll(async () => {
        await gateway?.close();
        await worker?.stop();
        await upstream?.close();
        store?.close();
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    afterEach(async () => {
        const models = await call(url, { url: '/v1/models', headers: auth });
        expect(models.statusCode).toBe(200);
    });

    it('fuzzes every route the gateway serves', () => {
        expect(routesOf(gateway)).toEqual(
            [
                'GET /v1/models',
                'GET /v1/models/*',
                'POST /v1/chat/completions',
                'POST /v1/completions',
                'POST /v1/embeddings',
                'POST /v1/responses',
                'GET /v1/responses/:id',
                'DELETE /v1/responses/:id',
                // The console: its JSON and actions (fuzzed below) and its page's files (no input, no key).
                'GET /console/api/network',
                'GET /console/api/channels',
                'GET /console/api/activity',
                'POST /console/api/channels/:address/close',
                'POST /console/api/channels/:address/top-up',
                'GET /',
                'GET /index.html',
                'GET /gateway.js',
                'GET /assets/console.css',
                'GET /assets/console.js',
                'GET /assets/uplot/uPlot.iife.min.js',
                'GET /assets/uplot/uPlot.min.css',
            ].sort(),
        );
    });

    it('console actions: any address, any body, any content type: 4xx naming the field, and nothing moves', async () => {
        const open = store.channels()[0].address;
        const validAmount = /^\d+(\.\d{1,9})?$/;
        await fc.assert(
            fc.asyncProperty(
                fc.oneof(fc.string({ maxLength: 60 }), fc.constant(open), fc.constant(wallet.address.toString())),
                fc.constantFrom('close', 'top-up'),
                fc.oneof(
                    wrongValue.map((v) => JSON.stringify({ amount: v })),
                    anyJson.map((v) => JSON.stringify(v) ?? ''),
                    malformedJson,
                ),
                fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', undefined),
                async (address, action, body, ct) => {
                    // A well-formed request on the real channel is the console working, not bad input.
                    let parsed: any;
                    try {
                        parsed = JSON.parse(body);
                    } catch {
                        parsed = undefined;
                    }
                    const wellFormed =
                        ct === 'application/json' &&
                        address === open &&
                        (action === 'close' || (typeof parsed?.amount === 'string' && validAmount.test(parsed.amount) && Object.keys(parsed).length === 1));
                    fc.pre(!wellFormed && address !== '');
                    const before = ledger();
                    const headers: Record<string, string> = { ...auth };
                    if (ct) headers['content-type'] = ct;
                    const res = await call(url, { method: 'POST', url: `/console/api/channels/${encodeURIComponent(address)}/${action}`, headers, payload: body });
                    expect(res.statusCode).toBeGreaterThanOrEqual(400);
                    expect(res.statusCode).toBeLessThan(500);
                    expect(typeof res.json().error.message).toBe('string');
                    expect(ledger()).toBe(before);
                },
            ),
            params(80),
        );
    });

    it('API keys: missing, wrong, malformed or near-miss keys get 401 on every route and cost nothing', async () => {
        const badAuth = fc.oneof(
            fc.constant(undefined),
            fc.constantFrom(
                '',
                'Bearer',
                'Bearer ',
                `bearer ${API_KEY}`,
                `Bearer  ${API_KEY}`,
                `Bearer ${API_KEY.slice(0, -1)}`,
                `Bearer ${API_KEY}x`,
                `Basic ${Buffer.from(API_KEY).toString('base64')}`,
                API_KEY,
                `Bearer ${API_KEY.toUpperCase()}`,
            ),
            // (Trailing spaces are not near-misses: HTTP strips them from header values.)
            fc
                .string({ maxLength: 60 })
                .filter((x) => /^[\x20-\x7e]*$/.test(x) && x.trim() !== API_KEY)
                .map((x) => `Bearer ${x}`),
        );
        await fc.assert(
            fc.asyncProperty(badAuth, fc.constantFrom(...ROUTES, '/v1/models/x', '/v1/responses/resp_x', '/nope'), fc.constantFrom('GET', 'POST', 'DELETE'), async (a, path, method) => {
                const before = ledger();
                const headers: Record<string, string> = { 'content-type': 'application/json' };
                if (a !== undefined) headers.authorization = a;
                const res = await call(url, { method, url: path, headers, payload: method === 'POST' ? JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }) : undefined });
                expect(res.statusCode).toBe(401);
                expect(res.json().error.code).toBe('invalid_api_key');
                expect(ledger()).toBe(before);
            }),
            params(60),
        );
    });

    it('every POST route: malformed JSON, any JSON, invalid UTF-8, random bytes under any content type: 4xx, nothing paid', async () => {
        const body = fc.oneof(
            malformedJson.map((x) => Buffer.from(x)),
            anyJson.map((v) => Buffer.from(JSON.stringify(v) ?? '')),
            invalidUtf8,
            fc.uint8Array({ maxLength: 500 }).map((b) => Buffer.from(b)),
        );
        await fc.assert(
            fc.asyncProperty(body, contentTypes, fc.constantFrom('/v1/chat/completions', '/v1/responses', '/v1/embeddings', '/v1/completions'), async (payload, ct, route) => {
                const before = ledger();
                const headers: Record<string, string> = { ...auth };
                if (ct) headers['content-type'] = ct;
                const res = await chat(payload, headers, route);
                expect(res.statusCode).toBeGreaterThanOrEqual(400);
                expect(res.statusCode).toBeLessThan(500);
                expect(ledger()).toBe(before);
            }),
            params(80),
        );
    });

    it('chat: one field of a wrong type or value (including max_price and worker): 4xx and nothing paid, or served and paid once', async () => {
        const base = () =>
            ({
                model: MODEL,
                messages: [
                    { role: 'system', content: 'be terse' },
                    { role: 'user', content: 'hi' },
                ],
                max_tokens: 8,
            }) as any;
        const fields: Array<(r: any, v: unknown) => void> = [
            (r, v) => (r.model = v),
            (r, v) => (r.messages = v),
            (r, v) => (r.messages[0] = v),
            (r, v) => (r.messages[1].role = v),
            (r, v) => (r.messages[1].content = v),
            (r, v) => (r.max_tokens = v),
            (r, v) => (r.max_completion_tokens = v),
            (r, v) => (r.temperature = v),
            (r, v) => (r.top_p = v),
            (r, v) => (r.stop = v),
            (r, v) => (r.n = v),
            (r, v) => (r.stream = v),
            (r, v) => (r.stream_options = v),
            (r, v) => (r.max_price = v),
            (r, v) => (r.worker = v),
            (r, v) => (r.user = v),
            (r, v) => (r[textOf(v)] = v),
        ];
        await fc.assert(
            fc.asyncProperty(fc.nat({ max: fields.length - 1 }), wrongValue, async (i, v) => {
                const r = base();
                fields[i](r, v);
                const before = ledger();
                const receipts = store.channels().reduce((n, c) => n + store.receipts(c.address).length, 0);
                const res = await chat(JSON.stringify(r));
                expect(res.statusCode).toBeLessThan(500);
                // n choices are n paid requests; a streamed answer (stream: true) is one.
                const streamed = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
                const paid = () => (streamed ? 1 : (res.json().receipts?.length ?? 1));
                if (res.statusCode === 200) expect(store.channels().reduce((n, c) => n + store.receipts(c.address).length, 0)).toBe(receipts + paid());
                else expect(ledger()).toBe(before);
            }),
            params(80),
        );
    });

    it('responses, embeddings and text completions: one field of a wrong type or value: 4xx and nothing paid, or served and paid once', async () => {
        const requests: Record<string, () => any> = {
            '/v1/responses': () => ({ model: MODEL, input: [{ role: 'user', content: 'hi' }], instructions: 'be terse', max_output_tokens: 8 }),
            '/v1/embeddings': () => ({ model: MODEL, input: ['one', 'two'] }),
            '/v1/completions': () => ({ model: MODEL, prompt: 'Once', max_tokens: 8 }),
        };
        const fields: Array<(r: any, v: unknown) => void> = [
            (r, v) => (r.model = v),
            (r, v) => (r.input = v),
            (r, v) => (r.prompt = v),
            (r, v) => (r.instructions = v),
            (r, v) => (r.tools = v),
            (r, v) => (r.text = v),
            (r, v) => (r.previous_response_id = v),
            (r, v) => (r.store = v),
            (r, v) => (r.max_output_tokens = v),
            (r, v) => (r.max_tokens = v),
            (r, v) => (r.encoding_format = v),
            (r, v) => (r.echo = v),
            (r, v) => (r.stream = v),
            (r, v) => (r.max_price = v),
            (r, v) => (r.worker = v),
            (r, v) => (r[textOf(v)] = v),
        ];
        await fc.assert(
            fc.asyncProperty(fc.constantFrom(...Object.keys(requests)), fc.nat({ max: fields.length - 1 }), wrongValue, async (route, i, v) => {
                const r = requests[route]();
                fields[i](r, v);
                const before = ledger();
                const receipts = store.channels().reduce((n, c) => n + store.receipts(c.address).length, 0);
                const res = await chat(JSON.stringify(r), undefined, route);
                expect(res.statusCode).toBeLessThan(500);
                if (res.statusCode === 200) expect(store.channels().reduce((n, c) => n + store.receipts(c.address).length, 0)).toBe(receipts + 1);
                else expect(ledger()).toBe(before);
            }),
            params(80),
        );
    });

    it('stored responses and single models: random ids: 404 or what is there, never a 5xx, nothing paid', async () => {
        await fc.assert(
            fc.asyncProperty(fc.string({ maxLength: 80 }), fc.constantFrom('GET /v1/responses/', 'DELETE /v1/responses/', 'GET /v1/models/'), async (id, route) => {
                const [method, path] = route.split(' ');
                const before = ledger();
                const res = await call(url, { method, url: path + encodeURIComponent(id), headers: auth });
                expect([200, 404]).toContain(res.statusCode);
                if (res.statusCode === 404) expect(res.json().error.code).toEqual(expect.any(String));
                expect(ledger()).toBe(before);
            }),
            params(40),
        );
    });

    it('models: random query strings and headers: 200', async () => {
        await fc.assert(
            fc.asyncProperty(fc.webQueryParameters(), async (q) => {
                const res = await call(url, { url: `/v1/models?${q}`, headers: auth });
                expect(res.statusCode).toBe(200);
                expect(res.json().data.map((m: any) => m.id)).toEqual([MODEL]);
            }),
            params(20),
        );
    });

    it('over a real socket: a huge body gets 413 and costs nothing', async () => {
        const before = ledger();
        const res = await rawRequest(url, { path: '/v1/chat/completions', headers: { ...auth, 'content-type': 'application/json' }, body: Buffer.alloc(8 * 1024 * 1024, 0x20) });
        if (res.status !== 0) expect(res.status).toBe(413);
        expect(ledger()).toBe(before);
    });
});
