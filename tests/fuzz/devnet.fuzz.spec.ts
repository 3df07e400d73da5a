import { Address, beginCell, external, storeMessage, toNano } from '@ton/core';
import fc from 'fast-check';
import pino from 'pino';
import { RunningDevnet, buildServer, startDevnet, toncenterMethods } from '../../devnet';
import { JSON_RPC_PATH } from '../../wrappers/devnet';
import { anyJson, call, contentTypes, invalidUtf8, malformedJson, params, rawRequest, routesOf, textOf, wrongValue } from './arbitraries';

jest.setTimeout(300_000);

/**
 * Bad input against the devnet's toncenter v2 API (JSON-RPC and REST) and
 * its /admin endpoints: never a 5xx for a client mistake, the process keeps
 * answering, and an admin request that is refused changes nothing (time,
 * balances).
 */

const METHODS = [
    'getAddressInformation',
    'getAddressBalance',
    'getAddressState',
    'getExtendedAddressInformation',
    'getWalletInformation',
    'runGetMethod',
    'sendBoc',
    'sendBocReturnHash',
    'estimateFee',
    'getTransactions',
    'tryLocateTx',
    'tryLocateResultTx',
    'tryLocateSourceTx',
    'getMasterchainInfo',
    'getConsensusBlock',
    'shards',
    'getBlockTransactions',
    'getConfigParam',
];

const PARAM_NAMES = [
    'address',
    'method',
    'stack',
    'boc',
    'body',
    'init_code',
    'init_data',
    'ignore_chksig',
    'limit',
    'lt',
    'hash',
    'to_lt',
    'source',
    'destination',
    'created_lt',
    'seqno',
    'workchain',
    'config_id',
];

/** What a page's routes serve: files, no input. */
const PAGE_FILES = [
    'GET /explorer',
    'GET /explorer/',
    'GET /explorer/index.html',
    'GET /explorer/explorer.js',
    'GET /',
    'GET /assets/console.css',
    'GET /assets/console.js',
    'GET /assets/uplot/uPlot.iife.min.js',
    'GET /assets/uplot/uPlot.min.css',
];

describe('devnet HTTP API under bad input', () => {
    let devnet: RunningDevnet;
    let wallet: Address;

    const sampleBoc = () => beginCell().storeUint(0xdeadbeef, 32).endCell().toBoc().toString('base64');

    /** Values that look right for some parameter (so the fuzzer gets past the first check) mixed with wrong ones. */
    const paramValue = () =>
        fc.oneof(
            wrongValue,
            fc.constantFrom(wallet.toString(), wallet.toRawString(), '0:' + 'ab'.repeat(32), '-1:' + '00'.repeat(32), 'seqno', 'get_public_key', '85143', 'x'.repeat(300)),
            fc.constantFrom(sampleBoc(), sampleBoc().replace(/=+$/, ''), 'te6cc', '////', '===='),
            fc.bigInt({ min: -(1n << 300n), max: 1n << 300n }).map(String),
            fc.bigInt({ min: 0n, max: 1n << 70n }).map((x) => '0x' + x.toString(16)),
            fc.constantFrom(1e21, 2 ** 53, -(2 ** 53), 4294967296, -2147483649),
            fc.array(
                fc.tuple(
                    fc.constantFrom('num', 'int', 'cell', 'tvm.Cell', 'slice', 'tvm.Slice', 'builder', 'null', 'tuple', 'list', 'x'),
                    fc.oneof(wrongValue, fc.constant(sampleBoc()), fc.bigInt({ min: -(1n << 300n), max: 1n << 300n }).map(String)),
                ),
                { maxLength: 4 },
            ),
        );
    const paramsArb = () => fc.dictionary(fc.oneof(fc.constantFrom(...PARAM_NAMES), fc.string({ maxLength: 10 })), paramValue(), { maxKeys: 6 });
    const methodArb = fc.oneof(
        { arbitrary: fc.constantFrom(...METHODS), weight: 5 },
        { arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', ''), weight: 1 },
        { arbitrary: fc.string({ maxLength: 20 }), weight: 1 },
    );

    beforeAll(async () => {
        devnet = await startDevnet({ port: 0, logLevel: 'silent', accounts: 1 });
        wallet = devnet.chain.wallets[0].address;
    });

    afterAll(async () => {
        await devnet?.close();
    });

    afterEach(async () => {
        const ready = await call(devnet.url, { url: '/ready' });
        expect(ready.statusCode).toBe(200);
    });

    it('fuzzes every route and every toncenter method the devnet serves', async () => {
        const app = buildServer(devnet.chain, devnet.config, pino({ level: 'silent' }));
        await app.ready();
        expect(routesOf(app)).toEqual(
            [
                'GET /api/v2/:method',
                'GET /devnet/info',
                'GET /ready',
                'POST /admin/advance-time',
                'POST /admin/faucet',
                `POST ${JSON_RPC_PATH}`,
                'POST /api/v2/:method',
                // The explorer: its JSON (fuzzed below) and its page's files (no input).
                'GET /explorer/api/blocks',
                'GET /explorer/api/accounts/:address',
                ...PAGE_FILES,
            ].sort(),
        );
        await app.close();
        expect(Object.keys(toncenterMethods(devnet.chain)).sort()).toEqual([...METHODS].sort());
    });

    it('explorer JSON: random limits, block numbers and addresses: 4xx naming the field, or the answer', async () => {
        await fc.assert(
            fc.asyncProperty(
                fc.oneof(fc.constant(undefined), wrongValue.map(textOf), fc.integer({ min: -5, max: 150 }).map(String)),
                fc.oneof(fc.constant(undefined), wrongValue.map(textOf), fc.integer({ min: -5, max: 1000 }).map(String)),
                fc.oneof(wrongValue.map(textOf), fc.constantFrom(devnet.chain.wallets[0].address.toString(), devnet.chain.wallets[0].address.toRawString())),
                async (limit, before, address) => {
                    const q = new URLSearchParams();
                    if (limit !== undefined) q.set('limit', limit);
                    if (before !== undefined) q.set('before', before);
                    const blocks = await call(devnet.url, { url: `/explorer/api/blocks?${q}` });
                    expect(blocks.statusCode === 200 || blocks.statusCode === 400).toBe(true);
                    if (blocks.statusCode === 400) expect(blocks.json().error.message).toMatch(/^(limit|before):/);
                    else expect(Array.isArray(blocks.json().blocks)).toBe(true);
                    const account = await call(devnet.url, { url: `/explorer/api/accounts/${encodeURIComponent(address)}` });
                    expect([200, 400, 404]).toContain(account.statusCode);
                    if (account.statusCode === 200) expect(account.json().account.address).toBe(devnet.chain.wallets[0].address.toString());
                },
            ),
            params(60),
        );
    });

    it('JSON-RPC: random methods, params and ids: never a 5xx, always the toncenter answer shape', async () => {
        await fc.assert(
            fc.asyncProperty(methodArb, fc.oneof(paramsArb(), wrongValue), fc.oneof(fc.constant(undefined), wrongValue), async (method, p, id) => {
                const res = await call(devnet.url, {
                    method: 'POST',
                    url: JSON_RPC_PATH,
                    headers: { 'content-type': 'application/json' },
                    payload: JSON.stringify({ jsonrpc: '2.0', id, method, params: p }),
                });
                expect(res.statusCode).toBeLessThan(500);
                const body = res.json();
                expect(typeof body.ok).toBe('boolean');
                if (!body.ok) expect(typeof body.error).toBe('string');
            }),
            params(150),
        );
    });

    it('JSON-RPC and REST: malformed JSON, wrong top-level types, bad encodings and content types: 4xx', async () => {
        const body = fc.oneof(
            malformedJson.map((s) => Buffer.from(s)),
            anyJson.map((v) => Buffer.from(JSON.stringify(v) ?? '')),
            invalidUtf8,
            fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
        );
        await fc.assert(
            fc.asyncProperty(
                fc.oneof(
                    fc.constant(JSON_RPC_PATH),
                    methodArb.map((m) => `/api/v2/${encodeURIComponent(m) || 'x'}`),
                ),
                body,
                contentTypes,
                async (path, payload, ct) => {
                    const res = await call(devnet.url, { method: 'POST', url: path, headers: ct ? { 'content-type': ct } : {}, payload });
                    expect(res.statusCode).toBeLessThan(500);
                },
            ),
            params(100),
        );
    });

    it('REST GET: random methods and query strings: never a 5xx', async () => {
        await fc.assert(
            fc.asyncProperty(methodArb, paramsArb(), async (method, p) => {
                const q = new URLSearchParams();
                for (const [k, v] of Object.entries(p)) q.append(k, typeof v === 'string' ? v : (JSON.stringify(v) ?? ''));
                const res = await call(devnet.url, { url: `/api/v2/${encodeURIComponent(method) || 'x'}?${q.toString()}` });
                expect(res.statusCode).toBeLessThan(500);
            }),
            params(100),
        );
    });

    it('sendBoc: random cells, random external messages to real and absent accounts: accepted or 4xx, never a 5xx', async () => {
        const boc = fc.oneof(
            fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('base64')),
            fc.tuple(fc.uint8Array({ maxLength: 100 }), fc.constantFrom(wallet, new Address(0, Buffer.alloc(32, 5)), new Address(-1, Buffer.alloc(32, 1)))).map(([b, to]) =>
                beginCell()
                    .store(storeMessage(external({ to, body: beginCell().storeBuffer(Buffer.from(b)).endCell() })))
                    .endCell()
                    .toBoc()
                    .toString('base64'),
            ),
            fc.constant(sampleBoc()),
        );
        await fc.assert(
            fc.asyncProperty(fc.constantFrom('sendBoc', 'sendBocReturnHash'), boc, async (method, b) => {
                const res = await call(devnet.url, {
                    method: 'POST',
                    url: JSON_RPC_PATH,
                    headers: { 'content-type': 'application/json' },
                    payload: JSON.stringify({ id: 1, method, params: { boc: b } }),
                });
                expect(res.statusCode).toBeLessThan(500);
            }),
            params(60),
        );
    });

    it('admin: refused time travel and faucet requests change neither the clock nor any balance', async () => {
        const target = new Address(0, Buffer.alloc(32, 0x42));
        const balance = async () => (await devnet.chain.account(target)).balance;
        const advance = fc.oneof(
            anyJson,
            // Valid values excluded: a whole number of seconds, 1 to ten years, as a number or digits.
            fc.record({
                seconds: wrongValue.filter(
                    (x) => !((typeof x === 'number' || (typeof x === 'string' && /^[0-9]+$/.test(x))) && Number.isInteger(Number(x)) && Number(x) > 0 && Number(x) <= 10 * 365 * 24 * 3600),
                ),
            }),
            fc.record({ seconds: fc.oneof(fc.constant(0), fc.integer({ max: -1 }), fc.constant(10 * 365 * 24 * 3600 + 1), fc.double({ noInteger: true }), fc.constant(1e300)) }),
            fc.record({ seconds: fc.constant(1), extra: wrongValue }),
        );
        const faucet = fc.oneof(
            anyJson,
            fc.record({ address: wrongValue, amount: fc.constant('1') }),
            fc.record({
                address: fc.constant(target.toString()),
                amount: fc.oneof(
                    wrongValue.filter(
                        (x) => !(typeof x === 'number' && x > 0 && x <= 1_000_000) && !(typeof x === 'string' && /^[0-9]+(\.[0-9]{1,9})?$/.test(x) && Number(x) > 0 && Number(x) <= 1_000_000),
                    ),
                    fc.constantFrom('0', '0.0', '1000000.000000001', '1e3', '-1', '1.0000000001', 0, -1, 1e7, '99999999999999999999999'),
                ),
            }),
            fc.record({ address: fc.constant(target.toString()), amount: fc.constant('1'), extra: wrongValue }),
        );
        await fc.assert(
            fc.asyncProperty(
                fc.oneof(
                    advance.map((b) => ['/admin/advance-time', b] as const),
                    faucet.map((b) => ['/admin/faucet', b] as const),
                ),
                async ([path, b]) => {
                    const now = devnet.chain.now();
                    const before = await balance();
                    const res = await call(devnet.url, { method: 'POST', url: path, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(b) ?? '' });
                    expect(res.statusCode).toBeGreaterThanOrEqual(400);
                    expect(res.statusCode).toBeLessThan(500);
                    // The devnet clock follows the wall clock; a refused advance moves it by no more than the seconds elapsed.
                    expect(devnet.chain.now() - now).toBeLessThan(60);
                    expect(await balance()).toBe(before);
                },
            ),
            params(80),
        );
        // And a genuine faucet request still works.
        const ok = await call(devnet.url, {
            method: 'POST',
            url: '/admin/faucet',
            headers: { 'content-type': 'application/json' },
            payload: JSON.stringify({ address: target.toString(), amount: '1.5' }),
        });
        expect(ok.statusCode).toBe(200);
        await expect(balance()).resolves.toBeGreaterThanOrEqual(toNano('1.5') - toNano('0.1'));
    });

    it('regressions: config id outside int32, `seconds: true`, a faucet amount of 1e308, a fee estimate the account refuses: 4xx, not 5xx or accepted', async () => {
        for (const id of ['-9007199254740992', '4294967296', '0x1000000000']) {
            const res = await call(devnet.url, { url: `/api/v2/getConfigParam?config_id=${id}` });
            expect(res.statusCode).toBe(404);
        }
        const now = devnet.chain.now();
        for (const seconds of [true, [5], '1e3', ' 7 ']) {
            const res = await call(devnet.url, { method: 'POST', url: '/admin/advance-time', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ seconds }) });
            expect(res.statusCode).toBe(400);
        }
        expect(devnet.chain.now() - now).toBeLessThan(60);
        // A faucet amount with no decimal form.
        const huge = await call(devnet.url, {
            method: 'POST',
            url: '/admin/faucet',
            headers: { 'content-type': 'application/json' },
            payload: JSON.stringify({ address: wallet.toString(), amount: 1.7976931348623143e308 }),
        });
        expect(huge.statusCode).toBe(400);
        // A fee estimate for a message the (absent) account cannot accept.
        const fee = await call(devnet.url, { url: `/api/v2/estimateFee?address=0:${'a0'.repeat(32)}` });
        expect(fee.statusCode).toBe(400);
        expect(fee.json().error).toContain('cannot apply external message');
    });

    it('a huge body over a real socket: 413 (or the upload cut after it), the devnet still answers', async () => {
        for (const path of [JSON_RPC_PATH, '/admin/faucet', '/api/v2/sendBoc']) {
            const res = await rawRequest(devnet.url, { path, headers: { 'content-type': 'application/json' }, body: Buffer.alloc(8 * 1024 * 1024, 0x20) });
            if (res.status !== 0) expect(res.status).toBe(413);
        }
    });
});
