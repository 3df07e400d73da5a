import '@ton/test-utils';
import { Address, Contract, OpenedContract, toNano } from '@ton/core';
import { BlockchainSnapshot, SandboxContract, TreasuryContract } from '@ton/sandbox';
import fc from 'fast-check';
import { RECEIPT_RULES } from '../../client/src/receipts/rules';
import { ExitCode } from '../../wrappers/exitCodes';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { ExtendedWorkerStake } from '../../wrappers/WorkerStake';
import { Prices, ReceiptFields, chargeableTerms, openSignedReceipt, parseReceipt, receiptMaxCost } from '../../wrappers/receipt';
import { ContractOpener } from '../../wrappers/toncenter';
import { Admission, PaymentError } from '../../worker/src/payments';
import { WorkerStore } from '../../worker/src/store/store';
import { openChannel } from '../helpers/channel';
import { ServingFixture, daemonPayments, deployServing } from '../helpers/serving';

/**
 * Property 1 of the money-safety rules: a receipt the shipped daemon signs
 * is never provable overcharge, whatever happens while requests are in
 * flight (price cuts and raises between admission and settlement, a cut in
 * the same second as a receipt, prices from the daemon's cache or from its
 * last good read through an endpoint outage, a host clock up to 60 s off
 * block time), and the client's verifier accepts every one of them.
 *
 * Runs the real Payments, WorkerPricing and ChainView over the sandbox,
 * against a real WorkerStake whose owner changes prices at random.
 */

const P0: Prices = { prompt: 1_000_000_000n, cached: 400_000_000n, completion: 2_000_000_000n, reasoning: 3_000_000_000n };

type Step =
    | { kind: 'advance'; sec: number }
    | { kind: 'clock'; offset: number }
    | { kind: 'price'; pct: [number, number, number, number] }
    | { kind: 'outage'; on: boolean }
    | { kind: 'expire' }
    | { kind: 'admit'; prompt: number; maxTokens: number }
    | { kind: 'settle'; pick: number; promptPct: number; completionPct: number };

const step: fc.Arbitrary<Step> = fc.oneof(
    {
        weight: 3,
        arbitrary: fc.record({ kind: fc.constant('advance' as const), sec: fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 0, max: 120 }), fc.integer({ min: 100, max: 1000 })) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('clock' as const), offset: fc.integer({ min: -60, max: 60 }) }) },
    {
        weight: 3,
        arbitrary: fc.record({
            kind: fc.constant('price' as const),
            pct: fc.tuple(fc.integer({ min: 10, max: 300 }), fc.integer({ min: 10, max: 300 }), fc.integer({ min: 10, max: 300 }), fc.integer({ min: 10, max: 300 })),
        }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('outage' as const), on: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const) }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('admit' as const), prompt: fc.integer({ min: 1, max: 4000 }), maxTokens: fc.integer({ min: 1, max: 4000 }) }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('settle' as const), pick: fc.nat(), promptPct: fc.integer({ min: 0, max: 100 }), completionPct: fc.integer({ min: 0, max: 100 }) }) },
);

describe('an honest worker is never slashable for its prices', () => {
    let f: ServingFixture;
    let channel: SandboxContract<ExtendedPaymentChannel>;
    let reporter: SandboxContract<TreasuryContract>;
    let ws: SandboxContract<ExtendedWorkerStake>;
    let start: BlockchainSnapshot;
    const priceRule = RECEIPT_RULES.find((r) => r.name === 'price')!;

    beforeAll(async () => {
        f = await deployServing({ prices: P0 });
        ws = f.workerStake;
        ({ channel } = await openChannel(f, { nonce: 1n, deposit: toNano('50') }));
        reporter = await f.blockchain.treasury('reporter', { balance: toNano('1000') });
        start = f.blockchain.snapshot();
    });

    /** The sandbox as the worker's endpoint: every read fails while `down()`. */
    function flakyOpener(down: () => boolean): ContractOpener {
        const fail = () => {
            if (down()) throw new Error('chain endpoint unreachable');
        };
        return {
            open: <T extends Contract>(c: T) => {
                const opened = f.blockchain.openContract(c) as unknown as Record<string | symbol, unknown>;
                return new Proxy(opened, {
                    get(target, key) {
                        const v = target[key];
                        if (typeof v === 'function' && String(key).startsWith('get'))
                            return (...args: unknown[]) => {
                                fail();
                                return (v as (...a: unknown[]) => unknown).apply(target, args);
                            };
                        return v;
                    },
                }) as unknown as OpenedContract<T>;
            },
            isDeployed: async (a: Address) => {
                fail();
                return (await f.blockchain.getContract(a)).accountState?.type === 'active';
            },
        };
    }

    /** What the chain says of a receipt: the ProveOvercharge exit code (0 would be a slash). */
    async function judge(evidence: Buffer): Promise<number> {
        const { Cell } = await import('@ton/core');
        const r = await ws.sendProveOvercharge(reporter.getSender(), Cell.fromBoc(evidence)[0]);
        const tx = r.transactions.find((t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.dest.equals(ws.address));
        const d = tx?.description;
        if (d?.type !== 'generic' || d.computePhase.type !== 'vm') throw new Error('no compute phase');
        return d.computePhase.exitCode;
    }

    async function clientAccepts(fields: ReceiptFields, boc: Buffer): Promise<boolean> {
        const { receipt, signature } = openSignedReceipt((await import('@ton/core')).Cell.fromBoc(boc)[0]);
        const schedule = await ws.getPriceSchedule();
        const broken = await priceRule.check({ cell: receipt, signature, fields }, {
            terms: { cached: () => undefined, fresh: async () => schedule },
            // The client's clock: block time (the SDK allows its own clock a minute's error either way).
            now: f.blockchain.now!,
        } as never);
        return broken === undefined;
    }

    it('holds over random price changes, admissions, settlements, clock offsets and outages', async () => {
        let runs = 0;
        let receiptsJudged = 0;
        let cutsInFlight = 0;
        await fc.assert(
            fc.asyncProperty(fc.array(step, { minLength: 4, maxLength: 18 }), async (steps) => {
                runs++;
                await f.blockchain.loadFrom(start);
                let offset = 0;
                let down = false;
                const hostNow = () => f.blockchain.now! + offset;
                // A cache that never expires by itself: 'expire' steps decide when the worker reads again.
                const store = WorkerStore.open(':memory:');
                const { chain, payments } = daemonPayments(f, { store, opener: flakyOpener(() => down), ttlMs: 1e12, maxStaleMs: 1e12, now: hostNow });
                const admitted: Array<{ a: Admission; prompt: number; maxTokens: number }> = [];
                const signed: Array<{ boc: Buffer; fields: ReceiptFields }> = [];
                let n = 0;
                try {
                    for (const s of steps) {
                        switch (s.kind) {
                            case 'advance':
                                f.blockchain.now = f.blockchain.now! + s.sec;
                                break;
                            case 'clock':
                                offset = s.offset;
                                break;
                            case 'outage':
                                down = s.on;
                                break;
                            case 'expire':
                                chain.invalidate(ws.address);
                                break;
                            case 'price': {
                                const l = await ws.getListing();
                                const scale = (v: bigint, pct: number) => (v * BigInt(pct)) / 100n;
                                const prices = {
                                    prompt: scale(l.prices.prompt, s.pct[0]),
                                    cached: scale(l.prices.cached, s.pct[1]),
                                    completion: scale(l.prices.completion, s.pct[2]),
                                    reasoning: scale(l.prices.reasoning, s.pct[3]),
                                };
                                if (admitted.length > 0 && (['prompt', 'cached', 'completion', 'reasoning'] as const).some((k) => prices[k] < l.prices[k])) cutsInFlight++;
                                // Refused when the history is full: the chain keeps its terms, as a worker would see.
                                await ws.sendUpdateListing(f.operator.getSender(), { modelId: l.modelId, endpoint: l.endpoint, encryptionKey: l.encryptionKey, prices });
                                break;
                            }
                            case 'admit':
                                try {
                                    admitted.push({
                                        a: await payments.admit({ channel: channel.address.toString(), promptBound: s.prompt, maxTokens: s.maxTokens, modelId: f.modelId }),
                                        prompt: s.prompt,
                                        maxTokens: s.maxTokens,
                                    });
                                } catch (e) {
                                    // Refusing is always safe (stale prices, endpoint down, prices raised past the deposit); anything else is a bug.
                                    if (!(e instanceof PaymentError) || (e.status !== 503 && e.code !== 'insufficient_deposit')) throw e;
                                }
                                break;
                            case 'settle': {
                                if (admitted.length === 0) break;
                                const [{ a, prompt, maxTokens }] = admitted.splice(s.pick % admitted.length, 1);
                                const promptTokens = Math.floor((prompt * s.promptPct) / 100);
                                const completionTokens = Math.floor((maxTokens * s.completionPct) / 100);
                                const h = Buffer.alloc(32, ++n);
                                const wire = await payments.settle(a, {
                                    modelId: f.modelId,
                                    usage: { promptTokens, cachedTokens: Math.floor(promptTokens / 3), completionTokens, reasoningTokens: Math.floor(completionTokens / 2), estimated: false },
                                    requestHash: h,
                                    responseHash: h,
                                });
                                if (!wire) break;
                                const boc = Buffer.from(wire.boc, 'base64');
                                const fields = parseReceipt(openSignedReceipt((await import('@ton/core')).Cell.fromBoc(boc)[0]).receipt);
                                signed.push({ boc, fields });
                                // Filed at once, as the client SDK would.
                                expect(await judge(boc)).toBe(ExitCode.ERR_WS_COST_WITHIN_TERMS);
                                expect(await clientAccepts(fields, boc)).toBe(true);
                                receiptsJudged++;
                                break;
                            }
                        }
                    }
                    // Filed later too: after the grace, and with the price history moved on.
                    f.blockchain.now = f.blockchain.now! + 1000;
                    for (const r of signed) {
                        expect(await judge(r.boc)).toBe(ExitCode.ERR_WS_COST_WITHIN_TERMS);
                        expect(await clientAccepts(r.fields, r.boc)).toBe(true);
                    }
                } finally {
                    store.close();
                }
            }),
            {
                numRuns: Number(process.env.SAFETY_RUNS ?? 30),
                examples: [
                    // Found by this property: a cut in the same second as the previous terms started used to replace
                    // them, so a worker that had read them was judged by the cut.
                    [
                        [
                            { kind: 'admit', prompt: 1, maxTokens: 1 },
                            { kind: 'price', pct: [10, 10, 10, 10] },
                            { kind: 'settle', pick: 0, promptPct: 0, completionPct: 0 },
                            { kind: 'admit', prompt: 2, maxTokens: 1 },
                            { kind: 'advance', sec: 1 },
                            { kind: 'settle', pick: 0, promptPct: 50, completionPct: 0 },
                        ],
                    ],
                ],
            },
        );
        // The property must have exercised what it claims to.
        expect(runs).toBeGreaterThan(0);
        expect(receiptsJudged).toBeGreaterThan(10);
        expect(cutsInFlight).toBeGreaterThan(0);
    });

    it('a cut in the same second as a receipt: the receipt charges the old terms and stands', async () => {
        await f.blockchain.loadFrom(start);
        const store = WorkerStore.open(':memory:');
        const { chain, payments } = daemonPayments(f, { store, opener: flakyOpener(() => false), ttlMs: 1e12, maxStaleMs: 1e12 });
        try {
            const a = await payments.admit({ channel: channel.address.toString(), promptBound: 1000, maxTokens: 1000, modelId: f.modelId });
            f.blockchain.now = f.blockchain.now! + 120;
            const l = await ws.getListing();
            const half = { prompt: P0.prompt / 2n, cached: P0.cached / 2n, completion: P0.completion / 2n, reasoning: P0.reasoning / 2n };
            await ws.sendUpdateListing(f.operator.getSender(), { modelId: l.modelId, endpoint: l.endpoint, encryptionKey: l.encryptionKey, prices: half });
            expect((await ws.getPricesInForce()).prompt).toBe(half.prompt);
            const usage = { promptTokens: 1000, cachedTokens: 0, completionTokens: 1000, reasoningTokens: 0, estimated: false };
            const wire = (await payments.settle(a, { modelId: f.modelId, usage, requestHash: Buffer.alloc(32, 1), responseHash: Buffer.alloc(32, 1) }))!;
            const boc = Buffer.from(wire.boc, 'base64');
            const fields = parseReceipt(openSignedReceipt((await import('@ton/core')).Cell.fromBoc(boc)[0]).receipt);
            // The daemon did not know of the cut: it charged the terms of its read, the old ones.
            expect(fields.cost).toBe(receiptMaxCost(P0, { prompt: 1000n, cached: 0n, completion: 1000n, reasoning: 0n }));
            expect(fields.time).toBe(BigInt(f.blockchain.now!));
            // The chain allows the old terms through the grace after the cut, so no proof can slash it...
            expect(chargeableTerms(await ws.getPriceSchedule(), Number(fields.time)).prompt).toBe(P0.prompt);
            expect(await judge(boc)).toBe(ExitCode.ERR_WS_COST_WITHIN_TERMS);
            expect((await ws.getState()).slashes).toBe(0n);
            // ...and once the worker reads the cut (in force longer than its clock tolerance), it charges it.
            f.blockchain.now = f.blockchain.now! + 100;
            chain.invalidate(ws.address);
            const b = await payments.admit({ channel: channel.address.toString(), promptBound: 1000, maxTokens: 1000, modelId: f.modelId });
            const later = (await payments.settle(b, { modelId: f.modelId, usage, requestHash: Buffer.alloc(32, 2), responseHash: Buffer.alloc(32, 2) }))!;
            expect(BigInt(later.cost)).toBe(receiptMaxCost(half, { prompt: 1000n, cached: 0n, completion: 1000n, reasoning: 0n }));
        } finally {
            store.close();
        }
    });

    it('a read too old to be safe prices nothing: admission is refused, a settlement charges nothing', async () => {
        await f.blockchain.loadFrom(start);
        let down = false;
        const store = WorkerStore.open(':memory:');
        const { chain, payments } = daemonPayments(f, { store, opener: flakyOpener(() => down), ttlMs: 1e12, maxStaleMs: 1e12 });
        try {
            const a = await payments.admit({ channel: channel.address.toString(), promptBound: 100, maxTokens: 100, modelId: f.modelId });
            down = true;
            chain.invalidate(ws.address);
            chain.invalidate(channel.address);
            // The endpoint is down for longer than the grace allows a read to be trusted.
            f.blockchain.now = f.blockchain.now! + Number(await ws.getPriceCutGrace()) + 1;
            await expect(payments.admit({ channel: channel.address.toString(), promptBound: 100, maxTokens: 100, modelId: f.modelId })).rejects.toMatchObject({
                status: 503,
                code: 'prices_unavailable',
            });
            const wire = await payments.settle(a, {
                modelId: f.modelId,
                usage: { promptTokens: 10, cachedTokens: 0, completionTokens: 10, reasoningTokens: 0, estimated: false },
                requestHash: Buffer.alloc(32, 3),
                responseHash: Buffer.alloc(32, 3),
            });
            expect(wire).toBeNull();
            expect(store.receiptTotal(channel.address.toString())).toBe(0n);
        } finally {
            store.close();
        }
    });
});
