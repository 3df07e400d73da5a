import { Address, Cell, toNano } from '@ton/core';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { openSignedReceipt, parseReceipt, receiptMaxCost } from '../../wrappers/receipt';
import { tonClientOpener } from '../../wrappers/toncenter';
import { main as workerCli } from '../../worker/src/cli';
import { loadConfig } from '../../worker/src/config';
import { createLogger } from '../../worker/src/log';
import { WorkerStore } from '../../worker/src/store/store';
import { Worker, createWorker } from '../../worker/src/worker';
import { CocoonClient, CocoonError } from '../../client/src/client';
import type { WorkerInfo } from '../../client/src/discovery';
import { ClientStore } from '../../client/src/store';
import { testKeys } from '../helpers/channel';
import { pollUntil } from '../../helpers/poll';
import { WORDS, chatBody } from '../worker/helpers';
import { Child, MODEL, Network, RegisteredWorker, readGatewayStream, registerWorker, sdkClient, sdkLog, spawnGateway, spawnWorker, startNetwork } from './network';
import { join } from 'node:path';

/**
 * Fault tolerance on a devnet with the deployed network: the
 * chain unreachable while requests flow, the upstream killed mid-stream,
 * the worker SIGKILLed at random points under load, the gateway SIGKILLed
 * and restarted, failover when a worker is SIGKILLed, and a full disk on
 * the worker's store. Every scenario ends by reconciling the ledgers: the
 * worker's receipts, the client's verified receipts and vouchers, and what
 * the chain paid, to the nanoTON.
 *
 * Bounded: 20 worker kills, 3 gateway kills, a 15 s chain outage
 * (FAULT_LONG=1: a full minute). The kill points come from a
 * seeded generator (FAULT_SEED), printed so a failure can be replayed.
 */
jest.setTimeout(600_000);

const LONG = process.env.FAULT_LONG === '1';
const OUTAGE_MS = LONG ? 60_000 : 15_000;
const WORKER_KILLS = 20;
const GATEWAY_KILLS = 3;
const SEED = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);

/** nanoTON per million tokens: about 0.02 TON a request. */
const PRICES = { prompt: 1_000_000_000_000n, cached: 400_000_000_000n, completion: 2_000_000_000_000n, reasoning: 3_000_000_000_000n };
const PRICES_B = { ...PRICES, completion: PRICES.completion * 2n };

function prng(seed: number) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The worker's ledger for a channel, read through a second connection (WAL: safe next to the running worker). */
function workerLedger(w: RegisteredWorker, channel: string) {
    const store = WorkerStore.open(w.config.store.path);
    try {
        return { integrity: store.integrityCheck(), receipts: store.receiptsOf(channel), voucher: store.latestVoucher(channel)?.total ?? 0n, total: store.receiptTotal(channel) };
    } finally {
        store.close();
    }
}

/** The worker's receipts chain without a gap or overlap, and the client holds exactly the same receipts. */
function expectLedgersAgree(w: RegisteredWorker, clientStore: ClientStore, channel: string) {
    const wl = workerLedger(w, channel);
    expect(wl.integrity).toBe('ok');
    let prev = 0n;
    for (const r of wl.receipts) {
        expect(r.cumulative).toBe(prev + r.cost);
        prev = r.cumulative;
    }
    const mine = clientStore.receipts(channel);
    expect(mine.map((r) => r.boc)).toEqual(wl.receipts.map((r) => r.boc.toString('base64')));
    expect(new Set(mine.map((r) => r.requestId)).size).toBe(mine.length);
    const row = clientStore.channel(channel)!;
    expect(row.verified).toBe(wl.total);
    expect(row.vouched).toBe(row.verified);
    return { ...wl, verified: row.verified, lastCost: wl.receipts.at(-1)?.cost ?? 0n };
}

// The seed is in the suite's name: a failure names the run that reproduces it.
describe(`faults on a devnet (FAULT_SEED=${SEED}${LONG ? ' FAULT_LONG=1' : ''})`, () => {
    let net: Network;
    let a: RegisteredWorker;
    let childA: Child | undefined;
    let childB: Child | undefined;
    let gateway: Child | undefined;
    let inproc: Worker | undefined;
    /** The gateway's state directory, shared by the gateway and failover cases (set once the network is up). */
    let gwDir: string;
    let sdk: CocoonClient;
    let infoA: WorkerInfo;
    const random = prng(SEED);

    /** The channel's latest transactions (a failing settlement says what the chain did with each claim). */
    const chainTrace = async (channel: string) =>
        (await net.direct.getTransactions(Address.parse(channel), { limit: 8 })).map((t) => {
            const d = t.description as any;
            return {
                lt: t.lt.toString(),
                now: t.now,
                from: t.inMessage?.info.src?.toString(),
                exit: d.computePhase?.exitCode,
                aborted: d.aborted,
                body: t.inMessage?.body.beginParse().loadUint(32).toString(16),
            };
        });
    const paidOnChain = (channel: string) =>
        tonClientOpener(net.direct)
            .open(ExtendedPaymentChannel.fromAddress(Address.parse(channel)))
            .getPaid();

    beforeAll(async () => {
        net = await startNetwork('faults');
        gwDir = join(net.dir, 'gateway');
        // A low threshold: claims fall due during the chain outage and must land after it.
        a = await registerWorker(net, 'worker-a', PRICES, { claimThreshold: toNano('0.05').toString() });
        childA = await spawnWorker(a);
        sdk = await sdkClient(net, join(net.dir, 'sdk', 'store.db'), testKeys('faults-sdk'));
        [infoA] = await sdk.workers(MODEL);
        expect(infoA.endpoint).toBe(childA.url);
    });

    afterAll(async () => {
        for (const c of [childA, childB, gateway]) if (c && c.child.exitCode === null && c.child.signalCode === null) await c.kill();
        await inproc?.stop().catch(() => undefined);
        sdk?.o.store.close();
        await net?.close();
    });

    const ask = (stream = false, onChunk?: (c: any) => void) => sdk.call(infoA, { ...chatBody({ stream }), model: MODEL }, onChunk);

    it('upstream killed mid-stream: the client pays exactly the tokens delivered', async () => {
        net.upstream.mode = 'kill';
        try {
            const chunks: string[] = [];
            const s = await ask(true, (c) => chunks.push(c.choices?.[0]?.delta?.content ?? ''));
            expect(s.content).toBe(WORDS.slice(0, 3).join(''));
            // The three words reached the app as streamed chunks (words that arrive together may share one).
            expect(chunks.join('')).toBe(WORDS.slice(0, 3).join(''));
            expect(chunks.filter((c) => c.length > 0).length).toBeGreaterThanOrEqual(1);
            expect(s.fields!.usage.completion).toBe(3n);
            expect(s.cost).toBe(receiptMaxCost(PRICES, s.fields!.usage));
            const n = await ask(false);
            expect(n.content).toBe(WORDS.slice(0, 3).join(''));
            expect(n.fields!.usage.completion).toBe(3n);
        } finally {
            net.upstream.mode = 'usage';
        }
        const ledger = expectLedgersAgree(a, sdk.o.store, sdk.o.store.openChannelFor(infoA.workerStake.toString())!.address);
        expect(ledger.receipts.map((r) => r.completionTokens)).toEqual([3, 3]);
    });

    it(`chain unreachable for ${OUTAGE_MS / 1000} s: serving continues from cached state, claims queue and land afterwards`, async () => {
        const channel = sdk.o.store.openChannelFor(infoA.workerStake.toString())!.address;
        await ask(); // the worker's and the client's views of the chain are fresh
        const paidBefore = await paidOnChain(channel);
        await net.link.cut();
        const until = Date.now() + OUTAGE_MS;
        let served = 0;
        // Paced like real traffic (1.5 s a request): the deposit outlasts the outage, so no top-up (which needs the chain) falls due.
        net.upstream.mode = 'slow';
        try {
            await expect(net.ton.getMasterchainInfo()).rejects.toThrow();
            while (Date.now() < until) {
                const r = await ask(served % 2 === 1).catch((e) => {
                    throw new Error(
                        `request ${served} during the outage failed: ${(e as Error).message}\nchannel ${JSON.stringify(sdk.o.store.channel(channel), (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n${sdkLog.slice(-10).join('\n')}`,
                    );
                });
                expect(r.fields!.cumulativeCost).toBe(sdk.o.store.channel(channel)!.verified);
                served++;
            }
            // Claims fell due (threshold 0.05 TON) and could not be sent: nothing reached the chain.
            expect(await paidOnChain(channel)).toBe(paidBefore);
        } finally {
            net.upstream.mode = 'usage';
            await net.link.restore();
        }
        expect(served).toBeGreaterThanOrEqual(3);
        const held = workerLedger(a, channel).voucher;
        expect(held).toBeGreaterThan(paidBefore);
        // Back online: the queued claim lands without anyone asking.
        await pollUntil(
            'the queued claim to land',
            () => paidOnChain(channel),
            (p) => p >= held,
            { timeoutMs: 90_000 },
        );
        expectLedgersAgree(a, sdk.o.store, channel);
    });

    it(`worker SIGKILLed at random points under load, ${WORKER_KILLS} times: no receipt or voucher lost, nothing paid twice`, async () => {
        const channel = sdk.o.store.openChannelFor(infoA.workerStake.toString())!.address;
        net.upstream.mode = 'slow'; // 1.5 s a request: kills land before, during and after streams
        const outcomes = { ok: 0, failed: 0 };
        try {
            for (let i = 0; i < WORKER_KILLS; i++) {
                const load = [0, 1, 2].map((k) =>
                    ask(k % 2 === 0).then(
                        () => outcomes.ok++,
                        (e) => {
                            expect(e).toBeInstanceOf(CocoonError);
                            // A kill is never mistaken for a bad receipt: the worker stays trusted.
                            // (Its message names the rules the receipt was judged to break.)
                            if ((e as CocoonError).code === 'receipt_rejected') throw new Error(`a kill was taken for a bad receipt: ${(e as Error).message}\n${sdkLog.slice(-10).join('\n')}`);
                            outcomes.failed++;
                        },
                    ),
                );
                await sleep(Math.floor(random() * 2000));
                await childA!.kill();
                await Promise.all(load);
                expect(workerLedger(a, channel).integrity).toBe('ok');
                childA = await spawnWorker(a);
            }
        } finally {
            net.upstream.mode = 'usage';
        }
        expect(outcomes.failed).toBeGreaterThan(0);
        // One clean request: any receipt whose final frame died with the worker is recovered and paid first.
        const last = await ask();
        expect(last.fields!.cumulativeCost).toBe(sdk.o.store.channel(channel)!.verified);
        expect(sdk.excluded.size).toBe(0);
        // The last voucher goes to the worker on its own, with no request after it.
        await sdk.vouchers.settled();
        expect(await childA!.stop()).toBe(0);
        const ledger = expectLedgersAgree(a, sdk.o.store, channel);
        // The worker holds the voucher for everything it served: nothing is left unpaid.
        expect(ledger.voucher).toBe(ledger.verified);
        // Whatever the shutdown could not confirm, `cocoon-worker claim` redeems: the chain pays the voucher exactly, once.
        // An operator re-runs `claim` until it reports the channel settled (a claim sent while the devnet has not yet
        // taken the wallet's previous message can miss its confirmation window; claims are cumulative, so a repeat
        // cannot pay twice).
        const claimed: string[] = [];
        let paidNow = await paidOnChain(channel);
        for (let i = 0; i < 3 && paidNow !== ledger.voucher; i++) {
            await workerCli(['claim', '-c', a.configFile], { out: (l) => claimed.push(l), env: { ...process.env } });
            paidNow = await paidOnChain(channel);
        }
        expect({ paid: paidNow, claims: claimed, trace: paidNow === ledger.voucher ? [] : await chainTrace(channel) }).toEqual({ paid: ledger.voucher, claims: expect.anything(), trace: [] });
        childA = await spawnWorker(a);
    });

    /** What the gateway's ledger holds as rejected receipts (a failure names them: a rejected worker is excluded). */
    const gatewayRejections = () => {
        const store = ClientStore.open(join(gwDir, 'store.db'));
        try {
            return JSON.stringify(store.badReceipts().map((b) => b.reason));
        } finally {
            store.close();
        }
    };

    const gatewayAsk = async (stream: boolean, body: Record<string, unknown> = {}) => {
        const res = await fetch(`${gateway!.url}/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ ...chatBody({ stream }), ...body }),
        });
        if (!stream) {
            const json = (await res.json()) as any;
            // A failure names its cause with what the gateway logged (a test that fails here says why).
            if (res.status !== 200) return { status: res.status, json, error: `${JSON.stringify(json)}\nrejected receipts: ${gatewayRejections()}\n${gateway!.output().slice(-3000)}` };
            return { status: res.status, json };
        }
        return { status: res.status, stream: await readGatewayStream(res) };
    };

    it(`gateway SIGKILLed mid-request and restarted, ${GATEWAY_KILLS} times: it continues its channel without losing or repeating a payment`, async () => {
        gateway = await spawnGateway(net, gwDir);
        const first = await gatewayAsk(false);
        expect(first.error).toBeUndefined();
        net.upstream.mode = 'slow';
        try {
            for (let i = 0; i < GATEWAY_KILLS; i++) {
                const load = [gatewayAsk(true).catch(() => undefined), gatewayAsk(false).catch(() => undefined)];
                await sleep(300 + Math.floor(random() * 2000));
                await gateway.kill();
                await Promise.all(load);
                gateway = await spawnGateway(net, gwDir);
            }
        } finally {
            net.upstream.mode = 'usage';
        }
        // An app that hangs up mid-stream: the gateway stops reading, the worker cuts the answer and keeps a
        // receipt for what it delivered, which the gateway recovers and pays (checked by the reconciliation below).
        const sdkChannel = sdk.o.store.openChannelFor(infoA.workerStake.toString())!.address;
        const gwChannel = await pollUntil(
            'the gateway channel on the worker',
            async () => {
                const store = WorkerStore.open(a.config.store.path);
                try {
                    return store.listChannels().find((c) => c.address !== sdkChannel)?.address;
                } finally {
                    store.close();
                }
            },
            (c) => !!c,
        );
        const before = workerLedger(a, gwChannel!).receipts.length;
        // 1.5 s a word: the hang-up reaches the worker long before the answer's last word would, even on a busy machine.
        net.upstream.mode = 'crawl';
        try {
            const app = new AbortController();
            const res = await fetch(`${gateway!.url}/chat/completions`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify(chatBody({ stream: true })),
                signal: app.signal,
            });
            const reader = res.body!.getReader();
            const decoder = new TextDecoder();
            let got = '';
            for (;;) {
                const { value, done } = await reader.read();
                if (value) got += decoder.decode(value, { stream: true });
                if (got.includes('"content":"Hello"')) break;
                if (done)
                    throw new Error(
                        `the gateway's stream (${res.status}) ended before its first word: ${got.slice(0, 600)}\nrejected receipts: ${gatewayRejections()}\n${gateway!.output().slice(-3000)}`,
                    );
            }
            app.abort();
            const cut = await pollUntil(
                'the receipt of the cut stream',
                async () => workerLedger(a, gwChannel!).receipts.slice(before),
                (r) => r.length === 1,
                { timeoutMs: 30_000 },
            );
            expect(cut[0].completionTokens).toBeLessThan(WORDS.length);
        } finally {
            net.upstream.mode = 'usage';
        }
        const after = await gatewayAsk(true);
        expect(after.status).toBe(200);
        expect(after.stream!.text).toBe(WORDS.join(''));
        expect(after.stream!.done).toBe(true);
        expect(await gateway.stop()).toBe(0);
        gateway = undefined;
        const store = ClientStore.open(join(gwDir, 'store.db'));
        try {
            const rows = store.channels().filter((c) => c.workerStake === infoA.workerStake.toString());
            expect(rows).toHaveLength(1); // the same channel throughout
            expect(store.badReceipts()).toEqual([]);
            const ledger = expectLedgersAgree(a, store, rows[0].address);
            expect(BigInt(after.stream!.last.receipt.cumulativeCost)).toBe(ledger.verified);
        } finally {
            store.close();
        }
    });

    it('failover: with the first worker SIGKILLed mid-load, requests go to the second; each is paid only for what it served', async () => {
        const b = await registerWorker(net, 'worker-b', PRICES_B);
        childB = await spawnWorker(b);
        gateway = await spawnGateway(net, gwDir);
        // The gateway learns of B (its list is cached): one request pinned to B.
        const warm = await gatewayAsk(false, { worker: (await sdk.workers(MODEL, true)).find((w) => w.endpoint === childB!.url)!.workerStake.toString() });
        expect(warm.error).toBeUndefined();
        net.upstream.mode = 'slow';
        let results: Array<{ status: number; json?: any; error?: string }>;
        try {
            const load = [0, 1, 2, 3].map(async (k) => {
                await sleep(k * 400);
                return gatewayAsk(false);
            });
            await sleep(700);
            await childA!.kill();
            childA = undefined;
            results = await Promise.all(load);
        } finally {
            net.upstream.mode = 'usage';
        }
        // Non-streaming: a failure before the answer is retried on the other worker, so every request is answered.
        for (const r of results) {
            expect(r.error).toBeUndefined();
            expect(r.json.choices[0].message.content).toBe(WORDS.join(''));
        }
        const bStake = warm.json.worker;
        expect(results.filter((r) => r.json.worker === bStake).length).toBeGreaterThanOrEqual(1);
        // A comes back; a request pinned to it recovers any receipt it stored for the request cut by the kill.
        childA = await spawnWorker(a);
        const back = await gatewayAsk(false, { worker: infoA.workerStake.toString() });
        expect(back.error).toBeUndefined();
        expect(await gateway.stop()).toBe(0);
        gateway = undefined;
        const store = ClientStore.open(join(gwDir, 'store.db'));
        try {
            const rowA = store.channels().find((c) => c.workerStake === infoA.workerStake.toString())!;
            const rowB = store.channels().find((c) => c.workerStake === bStake)!;
            expectLedgersAgree(a, store, rowA.address);
            const ledgerB = expectLedgersAgree(b, store, rowB.address);
            // B charged its own prices for each request it served.
            for (const r of ledgerB.receipts) expect(r.cost).toBe(receiptMaxCost(PRICES_B, parseReceipt(openSignedReceipt(Cell.fromBase64(r.boc.toString('base64'))).receipt).usage));
            expect(store.badReceipts()).toEqual([]);
        } finally {
            store.close();
        }
        expect(await childB.stop()).toBe(0);
        childB = undefined;
    });

    it('disk full on the worker store: requests refused with a clear 503, no corruption, service resumes when space returns', async () => {
        await childA!.kill(); // the store is crash-safe: no graceful stop needed before reopening it
        childA = undefined;
        // In-process (same config, store and port) so the test can cap the database: SQLite's max_page_count
        // makes every write that needs a new page fail with SQLITE_FULL, as a full disk does.
        inproc = await createWorker(loadConfig({ file: a.configFile, env: {} }), { logger: createLogger({ level: 'silent' }) });
        await inproc.start();
        const channel = sdk.o.store.openChannelFor(infoA.workerStake.toString())!.address;
        const pages = Number(inproc.store.pragma('page_count'));
        inproc.store.pragma(`max_page_count = ${pages}`);
        let refused: CocoonError | undefined;
        for (let i = 0; i < 60 && !refused; i++) {
            try {
                // Non-streaming: the receipt is stored before any byte leaves, so the one that finds the disk full is a clean refusal.
                await ask(false);
            } catch (e) {
                refused = e as CocoonError;
            }
        }
        expect(refused).toBeInstanceOf(CocoonError);
        expect(refused!.code).toBe('storage_unavailable');
        expect(refused!.message).toMatch(/store/);
        // While full, every request is refused before anything is served (streaming too), nothing charged.
        const verified = sdk.o.store.channel(channel)!.verified;
        for (const stream of [false, true]) await expect(ask(stream)).rejects.toMatchObject({ code: 'storage_unavailable' });
        const health = await fetch(`${inproc.url}/health`);
        expect(health.status).toBe(503);
        expect(((await health.json()) as any).storage).toMatch(/SQLITE_FULL|full/i);
        expect(inproc.store.integrityCheck()).toBe('ok');
        expect(sdk.o.store.channel(channel)!.verified).toBe(verified);
        expectLedgersAgree(a, sdk.o.store, channel);
        // Space returns: the next request is served and continues the cumulative chain.
        inproc.store.pragma('max_page_count = 1073741823');
        const r = await ask();
        expect(r.fields!.cumulativeCost).toBe(verified + r.cost);
        expect((await fetch(`${inproc.url}/health`)).status).toBe(200);
        expectLedgersAgree(a, sdk.o.store, channel);
        await inproc.stop();
        inproc = undefined;
    });
});
