import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Address, Contract, OpenedContract, SenderArguments, beginCell, toNano } from '@ton/core';
import { buildGateway } from '../../client/src/gateway';
import { storeTopUp } from '../../build/PaymentChannel/PaymentChannel_PaymentChannel';
import { ExitCode, describeExitCode } from '../../wrappers/exitCodes';
import { Opcode } from '../../wrappers/opcodes';
import { decodeMessageBody } from '../../wrappers/messageDecoder';
import { buildOperatorServer } from '../../worker/src/operator';
import { WorkerMetrics } from '../../worker/src/metrics';
import { WorkerStore } from '../../worker/src/store/store';
import type { ChainView } from '../../worker/src/chain';
import type { InferenceBackend } from '../../worker/src/inference/types';
import { testKeys } from '../helpers/channel';
import { PRICES, clientWithChannel, flatSchedule } from '../client/standIn';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { rawRequest } from '../fuzz/arbitraries';

/**
 * The JSON behind the pages: what it refuses, by name, and that a refused
 * action moves nothing (the browser suite, tests/console/console.spec.ts,
 * drives the pages themselves against npm start).
 */

/** A request to a listening server (fastify's inject needs an ES module jest cannot load). */
async function call(app: FastifyInstance, o: { url: string; method?: string; payload?: string; headers?: Record<string, string> }) {
    if (!app.server.listening) await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}${o.url}`, { method: o.method ?? 'GET', body: o.payload, headers: o.headers });
    const text = await res.text();
    return { statusCode: res.status, headers: res.headers, json: () => JSON.parse(text) };
}

const channel = new Address(0, Buffer.alloc(32, 7));
const workerStake = new Address(0, Buffer.alloc(32, 9));

describe('gateway console API', () => {
    function setUp(apiKeys?: string[]) {
        const sent: SenderArguments[] = [];
        const { client, store } = clientWithChannel({
            dbPath: join(mkdtempSync(join(tmpdir(), 'cocoon-console-')), 'store.db'),
            channel,
            workerStake,
            channelKey: testKeys('client'),
            wallet: { address: new Address(0, Buffer.alloc(32)), send: async (a: SenderArguments) => void sent.push(a) },
        });
        const app = buildGateway({ client, apiKeys });
        return { app, store, sent };
    }

    it('serves the page without a key and its data only with one', async () => {
        const { app, store } = setUp(['a-secret-key']);
        try {
            for (const path of ['/', '/gateway.js', '/assets/console.js', '/assets/console.css', '/assets/uplot/uPlot.iife.min.js']) expect((await call(app, { url: path })).statusCode).toBe(200);
            // Anything else needs the key first, whatever the path looks like (judged by the route matched, not the URL).
            expect((await call(app, { url: '/assets/uplot/uPlot.cjs.js' })).statusCode).toBe(401);
            expect((await call(app, { url: '/assets/uplot/uPlot.cjs.js', headers: { authorization: 'Bearer a-secret-key' } })).statusCode).toBe(404);
            const { port } = app.server.address() as AddressInfo;
            for (const path of [
                '/assets/../console/api/channels',
                '/assets/%2e%2e/console/api/channels',
                '/assets/..%2fconsole/api/channels',
                '/index.html/../console/api/channels',
                '//console/api/channels',
            ])
                expect((await rawRequest(`http://127.0.0.1:${port}`, { method: 'GET', path })).status).toBe(401);
            const denied = await call(app, { url: '/console/api/channels' });
            expect(denied.statusCode).toBe(401);
            const listed = await call(app, { url: '/console/api/channels', headers: { authorization: 'Bearer a-secret-key' } });
            expect(listed.statusCode).toBe(200);
            expect(listed.json().channels).toEqual([expect.objectContaining({ address: channel.toString(), state: 'open', deposit: '10000000000', paid: '0', balance: '10000000000', receipts: 0 })]);
            // The API's own not-found answers are untouched by the page's routes.
            expect((await call(app, { url: '/v1/nothing', headers: { authorization: 'Bearer a-secret-key' } })).statusCode).toBe(404);
        } finally {
            await app.close();
            store.close();
        }
    });

    it("without API keys answers only this machine's host names (DNS rebinding), and no page of another site may frame it", async () => {
        const { app, store } = setUp();
        const allowed = buildGateway({
            client: clientWithChannel({ dbPath: join(mkdtempSync(join(tmpdir(), 'cocoon-console-')), 'store.db'), channel, workerStake, channelKey: testKeys('client') }).client,
            allowedHosts: ['gw.example'],
        });
        try {
            const home = await call(app, { url: '/' });
            expect(home.headers.get('x-frame-options')).toBe('DENY');
            expect(home.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
            const { port } = app.server.address() as AddressInfo;
            const at = (host: string, path = '/console/api/channels', method = 'GET') =>
                rawRequest(`http://127.0.0.1:${port}`, {
                    method,
                    path,
                    headers: { host, 'content-type': 'application/json', origin: `http://${host}` },
                    body: method === 'POST' ? Buffer.from('{"amount":"1"}') : undefined,
                });
            for (const host of ['evil.example', `evil.example:${port}`, '127.0.0.1.evil.example', 'gw.example']) {
                const r = await at(host);
                expect(r.status).toBe(403);
                expect(JSON.parse(r.body.toString()).error.message).toMatch(/^host: /);
            }
            expect((await at(`evil.example:${port}`, `/console/api/channels/${channel.toString()}/top-up`, 'POST')).status).toBe(403);
            expect((await at(`evil.example:${port}`, '/v1/models')).status).toBe(403);
            for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) expect((await at(host)).status).toBe(200);
            await call(allowed, { url: '/' });
            const other = (allowed.server.address() as AddressInfo).port;
            expect((await rawRequest(`http://127.0.0.1:${other}`, { method: 'GET', path: '/console/api/channels', headers: { host: 'gw.example' } })).status).toBe(200);
        } finally {
            await app.close();
            await allowed.close();
            store.close();
        }
    });

    it('refuses a top-up or close that is not a JSON body from the console, or names a bad field, and sends nothing', async () => {
        const { app, store, sent } = setUp();
        const post = (path: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) => call(app, { method: 'POST', url: path, payload: body, headers });
        const topUp = `/console/api/channels/${channel.toString()}/top-up`;
        try {
            const plain = await post(topUp, 'amount=1', { 'content-type': 'text/plain' });
            expect(plain.statusCode).toBe(415);
            expect(plain.json().error.message).toMatch(/^content-type:/);
            const foreign = await post(topUp, '{"amount":"1"}', { 'content-type': 'application/json', origin: 'https://evil.example' });
            expect(foreign.statusCode).toBe(403);
            expect(foreign.json().error.message).toMatch(/^origin:/);
            const amount = await post(topUp, '{"amount":"lots"}');
            expect(amount.statusCode).toBe(400);
            expect(amount.json().error.message).toMatch(/^amount:/);
            const extra = await post(topUp, '{"amount":"1","to":"me"}');
            expect(extra.statusCode).toBe(400);
            const zero = await post(topUp, '{"amount":"0"}');
            expect(zero.statusCode).toBe(400);
            expect(zero.json().error.message).toMatch(/^amount:/);
            const unknown = await post(`/console/api/channels/${workerStake.toString()}/top-up`, '{"amount":"1"}');
            expect(unknown.statusCode).toBe(404);
            expect(unknown.json().error.message).toMatch(/^address:/);
            const bad = await post('/console/api/channels/not-an-address/close', '{}');
            expect(bad.statusCode).toBe(400);
            expect(bad.json().error.message).toMatch(/^address:/);
            store.setState(channel.toString(), 'closed');
            const closed = await post(`/console/api/channels/${channel.toString()}/close`, '{}');
            expect(closed.statusCode).toBe(409);
            expect(sent).toEqual([]);
            expect(store.channel(channel.toString())!.deposit).toBe(10_000_000_000n);
        } finally {
            await app.close();
            store.close();
        }
    });
});

describe('console top-ups', () => {
    it('two at once are two top-ups of their own amounts, one after the other; none on a channel the chain shows closed', async () => {
        let deposit = toNano('10');
        let status = 1n;
        const sent: bigint[] = [];
        // A chain where a top-up lands 200 ms after it is sent.
        const opener = {
            open: <T extends Contract>(c: T) =>
                (c instanceof ExtendedPaymentChannel
                    ? {
                          getStatus: async () => status,
                          getDeposit: async () => deposit,
                          sendTopUp: async (_via: unknown, amount: bigint) => void (sent.push(amount), setTimeout(() => (deposit += amount), 200)),
                      }
                    : { getPricesAt: async () => ({ ...PRICES }), getPriceSchedule: async () => flatSchedule(PRICES) }) as unknown as OpenedContract<T>,
            isDeployed: async () => true,
        };
        const { client, store } = clientWithChannel({ dbPath: join(mkdtempSync(join(tmpdir(), 'cocoon-console-')), 'store.db'), channel, workerStake, channelKey: testKeys('client'), opener });
        const app = buildGateway({ client });
        const topUp = (amount: string) =>
            call(app, { method: 'POST', url: `/console/api/channels/${channel.toString()}/top-up`, payload: JSON.stringify({ amount }), headers: { 'content-type': 'application/json' } });
        try {
            const [a, b] = await Promise.all([topUp('1'), topUp('5')]);
            expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
            expect(sent.sort()).toEqual([toNano('1'), toNano('5')].sort());
            expect(store.channel(channel.toString())!.deposit).toBe(toNano('16'));
            status = 2n; // closing, as the chain now says
            const refused = await topUp('1');
            expect(refused.statusCode).toBe(409);
            expect(refused.json().error.message).toMatch(/^address: the chain shows the channel not open/);
            expect(sent).toHaveLength(2);
        } finally {
            await app.close();
            store.close();
        }
    });
});

/** A worker dashboard over a fresh store, a backend that says it is healthy and a chain without the WorkerStake. */
function dashboard(o: { token?: string } = {}) {
    const store = WorkerStore.open(join(mkdtempSync(join(tmpdir(), 'cocoon-dashboard-')), 'store.db'));
    const metrics = new WorkerMetrics(store);
    const backend = { health: async () => ({ ok: true, detail: 'test backend' }) } as unknown as InferenceBackend;
    const chain = { workerStake: async () => null } as unknown as ChainView;
    const op = buildOperatorServer({ store, metrics, backend, chain, workerStake, attestationNotAfter: () => 2_000_000_000, publicUrl: () => 'http://127.0.0.1:1', token: o.token });
    return { store, metrics, op };
}

describe('worker dashboard API', () => {
    it('needs the operator token when one is set, and shows claims, refusals and money from the store', async () => {
        const { store, metrics, op } = dashboard({ token: 'operator-token-0123456789' });
        try {
            expect((await call(op.app, { url: '/' })).statusCode).toBe(200);
            expect((await call(op.app, { url: '/api/summary' })).statusCode).toBe(401);
            expect((await call(op.app, { url: '/api/summary', headers: { authorization: 'Bearer wrong-token-0123456789x' } })).statusCode).toBe(401);
            const { port } = op.app.server.address() as AddressInfo;
            // With a token, any host name may ask (the token is the credential).
            expect(
                (await rawRequest(`http://127.0.0.1:${port}`, { method: 'GET', path: '/api/summary', headers: { host: 'dash.example', authorization: 'Bearer operator-token-0123456789' } })).status,
            ).toBe(200);
            for (const path of ['/%61pi/summary', '//api/summary', '/x/../api/summary', '/api/series?x=1'])
                expect((await rawRequest(`http://127.0.0.1:${port}`, { method: 'GET', path })).status).not.toBe(200);
            store.markClaimed(channel.toString(), 5_000n);
            store.markClaimed(channel.toString(), 5_000n); // the same total again: no new claim
            store.markClaimed(channel.toString(), 8_000n);
            metrics.refused(402, 'insufficient_deposit', 'the deposit does not cover it');
            const r = await call(op.app, { url: '/api/summary', headers: { authorization: 'Bearer operator-token-0123456789' } });
            expect(r.statusCode).toBe(200);
            const s = r.json();
            expect(s.claims).toEqual([
                { channel: channel.toString(), total: '8000', gained: '3000', at: expect.any(Number) },
                { channel: channel.toString(), total: '5000', gained: '5000', at: expect.any(Number) },
            ]);
            expect(s.money.claimed).toBe('8000');
            expect(s.stake).toBeNull();
            expect(s.attestation.evidenceNotAfter).toBe(2_000_000_000);
            expect(s.backend).toEqual({ ok: true, detail: 'test backend' });
            expect(s.refusals.byCode).toEqual({ insufficient_deposit: 1 });
            expect(s.refusals.recent[0]).toMatchObject({ status: 402, code: 'insufficient_deposit' });
            await op.sample();
            const series = (await call(op.app, { url: '/api/series', headers: { authorization: 'Bearer operator-token-0123456789' } })).json();
            expect(series.samples.at(-1)).toMatchObject({ claimed: '8000' });
            expect(series.rates.length).toBe(series.samples.length - 1);
        } finally {
            await op.close();
            store.close();
        }
    });
});

describe('worker dashboard without a token', () => {
    it("answers only this machine's host names", async () => {
        const { store, op } = dashboard();
        try {
            expect((await call(op.app, { url: '/api/summary' })).statusCode).toBe(200);
            const { port } = op.app.server.address() as AddressInfo;
            const r = await rawRequest(`http://127.0.0.1:${port}`, { method: 'GET', path: '/api/summary', headers: { host: `rebound.example:${port}` } });
            expect(r.status).toBe(403);
            expect(JSON.parse(r.body.toString()).error.message).toMatch(/^host: rebound\.example is not a name of this machine/);
        } finally {
            await op.close();
            store.close();
        }
    });
});

describe('the explorer decodes with the wrappers', () => {
    it('names protocol messages and their fields, comments, bounces, and what it cannot read', () => {
        const topUp = beginCell()
            .store(storeTopUp({ $$type: 'TopUp', queryId: 5n, amount: 1_000n }))
            .endCell();
        expect(decodeMessageBody(topUp)).toEqual({ kind: 'message', op: Number(Opcode.TopUp), name: 'TopUp', fields: { queryId: '5', amount: '1000' } });
        expect(decodeMessageBody(beginCell().storeUint(0, 32).storeStringTail('hello').endCell())).toEqual({ kind: 'comment', text: 'hello' });
        expect(decodeMessageBody(beginCell().storeUint(0xffffffff, 32).storeUint(Number(Opcode.TopUp), 32).endCell())).toEqual({ kind: 'bounced', op: Number(Opcode.TopUp), name: 'TopUp' });
        expect(decodeMessageBody(beginCell().storeUint(0x12345678, 32).endCell())).toEqual({ kind: 'unknown', op: 0x12345678 });
        const truncated = decodeMessageBody(beginCell().storeUint(Number(Opcode.TopUp), 32).storeUint(1, 8).endCell());
        expect(truncated).toMatchObject({ kind: 'unknown', op: Number(Opcode.TopUp), error: expect.stringMatching(/^malformed TopUp/) });
        expect(decodeMessageBody(undefined)).toEqual({ kind: 'empty' });
        expect(describeExitCode(ExitCode.ERR_CHANNEL_NOT_OPEN)).toBe('ERR_CHANNEL_NOT_OPEN');
        expect(describeExitCode(130)).toBe('Invalid incoming message');
        expect(describeExitCode(0)).toBeUndefined();
        expect(describeExitCode(65_000)).toBeUndefined();
    });
});
