import { randomBytes } from 'node:crypto';
import { Address } from '@ton/core';
import { ReceiptFields, Usage, receiptMaxCost } from '../../wrappers/receipt';
import { CocoonClient, CocoonError } from '../../client/src/client';
import { CLOCK_SKEW_SEC, MALFORMED, RECEIPT_RULES, ReceiptPath } from '../../client/src/receipts/rules';
import { ClientStore } from '../../client/src/store';
import { testKeys } from '../helpers/channel';
import { EMBEDDING_DATA, MODEL, PRICES, StandIn, TEXT, USAGE, standInPerTest } from './standIn';

/**
 * One table, every receipt rule of client/src/receipts/rules.ts, both paths:
 * for each rule a receipt that breaks only that rule is refused, by that
 * rule's name, when it arrives with the answer (live) and when it is read
 * back from the worker after the final frame was lost (recovered); nothing
 * is signed for it, it is kept as evidence and the worker is excluded.
 * Live-only rules (what only the delivered answer can tell) are checked on
 * the live path, and the table must name every rule.
 */

/** Re-prices a receipt for `usage`, cost and cumulative to match (so only the usage rules can object). */
function recost(f: ReceiptFields, usage: Usage): ReceiptFields {
    const cost = receiptMaxCost(PRICES, usage);
    return { ...f, usage, cost, cumulativeCost: f.cumulativeCost - f.cost + cost };
}

interface Case {
    rule: string;
    what: string;
    arrange: (si: StandIn) => void;
    paths: ReceiptPath[];
}

const BOTH: ReceiptPath[] = ['live', 'recovered'];

const CASES: Case[] = [
    { rule: MALFORMED, what: 'evidence that is not a signed receipt', arrange: (si) => (si.wire = (w) => ({ ...w, boc: Buffer.from('not a receipt').toString('base64') })), paths: BOTH },
    { rule: 'signature', what: 'signed by another key', arrange: (si) => (si.signWith = testKeys('someone-else').secretKey), paths: BOTH },
    { rule: 'worker', what: 'naming another WorkerStake', arrange: (si) => (si.tamper = (f) => ({ ...f, workerStake: new Address(0, randomBytes(32)) })), paths: BOTH },
    { rule: 'channel', what: 'naming another channel', arrange: (si) => (si.tamper = (f) => ({ ...f, channel: new Address(0, randomBytes(32)) })), paths: BOTH },
    { rule: 'model', what: 'naming another model', arrange: (si) => (si.tamper = (f) => ({ ...f, modelId: f.modelId + 1n })), paths: BOTH },
    { rule: 'request', what: 'for another request', arrange: (si) => (si.tamper = (f) => ({ ...f, requestHash: f.requestHash ^ 1n })), paths: BOTH },
    // A 7-byte prompt reported and charged as a million tokens: no fraud proof can catch it, only the client.
    { rule: 'prompt-bound', what: 'charging a million prompt tokens for a 2-byte prompt', arrange: (si) => (si.usage = { ...USAGE, prompt: 1_000_000n }), paths: BOTH },
    { rule: 'cached-within-prompt', what: 'with more cached tokens than prompt tokens', arrange: (si) => (si.usage = { ...USAGE, cached: USAGE.prompt + 1n }), paths: BOTH },
    { rule: 'reasoning-within-completion', what: 'with more reasoning tokens than completion tokens', arrange: (si) => (si.usage = { ...USAGE, reasoning: USAGE.completion + 1n }), paths: BOTH },
    { rule: 'max-tokens', what: 'charging more completion tokens than max_tokens', arrange: (si) => (si.usage = { ...USAGE, completion: 9n }), paths: BOTH },
    { rule: 'usage-reported', what: 'charging usage other than the usage reported', arrange: (si) => (si.tamper = (f) => recost(f, { ...f.usage, prompt: f.usage.prompt - 1n })), paths: ['live'] },
    { rule: 'text-counted', what: 'counting no completion token for delivered text', arrange: (si) => (si.usage = { ...USAGE, completion: 0n }), paths: ['live'] },
    { rule: 'response-hash', what: 'for another response', arrange: (si) => (si.tamper = (f) => ({ ...f, responseHash: f.responseHash ^ 1n })), paths: ['live'] },
    { rule: 'time', what: 'backdated an hour', arrange: (si) => (si.tamper = (f) => ({ ...f, time: f.time - 3600n })), paths: BOTH },
    { rule: 'time', what: 'dated an hour ahead', arrange: (si) => (si.tamper = (f) => ({ ...f, time: f.time + 3600n })), paths: BOTH },
    {
        rule: 'cost-positive',
        what: 'charging nothing',
        arrange: (si) => {
            si.tamper = (f) => ({ ...f, cost: 0n, cumulativeCost: f.cumulativeCost - f.cost });
            // A zero-cost receipt is not above the verified total: only a worker that lists it anyway can offer it for recovery.
            si.forge = () => si.stored.slice(-1).map((r) => r.wire);
        },
        paths: BOTH,
    },
    { rule: 'price', what: 'one nanoTON above the price terms', arrange: (si) => (si.tamper = (f) => ({ ...f, cost: f.cost + 1n, cumulativeCost: f.cumulativeCost + 1n })), paths: BOTH },
    { rule: 'cumulative', what: 'whose cumulative cost skips ahead', arrange: (si) => (si.tamper = (f) => ({ ...f, cumulativeCost: f.cumulativeCost + 5n })), paths: BOTH },
    { rule: 'summary', what: 'whose wire summary differs from the signed receipt', arrange: (si) => (si.wire = (w) => ({ ...w, requestId: w.requestId + '0' })), paths: BOTH },
];

describe('receipt rules, live and recovered', () => {
    const workerKey = testKeys('rules-worker');
    const channelKey = testKeys('rules-client');
    const t = standInPerTest('rules', { workerKey, channelKey });
    let si: StandIn, channel: Address, store: ClientStore, client: CocoonClient;
    beforeEach(() => ({ si, channel, store, client } = t));

    const ask = () => client.call(si.info(), { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    const cost = receiptMaxCost(PRICES, USAGE);

    it('the table covers every rule, each with a reason, and says which rules only the live path can judge', () => {
        const names = RECEIPT_RULES.map((r) => r.name);
        expect(new Set(names).size).toBe(names.length);
        for (const r of RECEIPT_RULES) expect(r.reason.length).toBeGreaterThan(20);
        expect(new Set(CASES.map((c) => c.rule))).toEqual(new Set([MALFORMED, ...names]));
        for (const r of RECEIPT_RULES) expect(new Set(CASES.filter((c) => c.rule === r.name).flatMap((c) => c.paths))).toEqual(new Set(r.paths));
        expect(RECEIPT_RULES.filter((r) => !r.paths.includes('recovered')).map((r) => r.name)).toEqual(['usage-reported', 'text-counted', 'response-hash']);
        expect(CLOCK_SKEW_SEC).toBe(120);
    });

    it('pays an honest receipt on the live path', async () => {
        const r = await ask();
        expect(r.content).toBe(TEXT);
        expect(store.latestVoucher(channel.toString())!.total).toBe(cost);
    });

    it('pays an honest receipt on the recovery path', async () => {
        si.loseFinal = true;
        await expect(ask()).rejects.toMatchObject({ code: 'worker_unreachable' });
        expect(store.latestVoucher(channel.toString())!.total).toBe(cost);
        expect(client.excluded.size).toBe(0);
    });

    describe('embeddings: the same rules, with no completion token allowed', () => {
        const embed = () => client.embed(si.info(), { model: MODEL, input: 'hi' });
        const promptOnly = { ...USAGE, completion: 0n, reasoning: 0n };

        it('pays an honest receipt for the data delivered, charging prompt tokens only, live and recovered', async () => {
            si.usage = promptOnly;
            const r = await embed();
            expect(r.final.data).toEqual(EMBEDDING_DATA);
            expect(store.latestVoucher(channel.toString())!.total).toBe(receiptMaxCost(PRICES, promptOnly));
            si.loseFinal = true;
            await expect(embed()).rejects.toMatchObject({ code: 'worker_unreachable' });
            expect(store.latestVoucher(channel.toString())!.total).toBe(2n * receiptMaxCost(PRICES, promptOnly));
            expect(client.excluded.size).toBe(0);
        });

        it.each([
            ['max-tokens', 'charging a completion token', (x: StandIn) => (x.usage = { ...promptOnly, completion: 1n })],
            ['response-hash', 'for other data', (x: StandIn) => (x.tamper = (f) => ({ ...f, responseHash: f.responseHash ^ 1n }))],
            ['prompt-bound', 'charging more tokens than the input can hold', (x: StandIn) => (x.usage = { ...promptOnly, prompt: 1000n })],
        ] as const)('refuses by name (%s) a receipt %s, and pays nothing', async (rule, _what, arrange) => {
            si.usage = promptOnly;
            arrange(si);
            const err = await embed().catch((e) => e);
            expect(err).toMatchObject({ code: 'receipt_rejected', rules: [rule] });
            expect(store.latestVoucher(channel.toString())).toBeUndefined();
            expect(client.excluded.has(si.workerStake.toString())).toBe(true);
        });
    });

    describe("text completions: the same rules, max_tokens held to OpenAI's default of 16 when none is sent", () => {
        const complete = () => client.pay(si.info(), { kind: 'completions', request: { model: MODEL, prompt: 'hi there, how are you doing today?' } });

        it('pays an honest receipt for the text delivered', async () => {
            const r = await complete();
            expect(r.content).toBe(TEXT);
            expect(store.latestVoucher(channel.toString())!.total).toBe(cost);
        });

        it.each([
            ['max-tokens', 'charging 17 completion tokens with no max_tokens sent', (x: StandIn) => (x.usage = { ...USAGE, completion: 17n })],
            ['text-counted', 'counting no completion token for delivered text', (x: StandIn) => (x.usage = { ...USAGE, completion: 0n, reasoning: 0n })],
            ['response-hash', 'for other text', (x: StandIn) => (x.tamper = (f) => ({ ...f, responseHash: f.responseHash ^ 1n }))],
        ] as const)('refuses by name (%s) a receipt %s, and pays nothing', async (rule, _what, arrange) => {
            arrange(si);
            const err = await complete().catch((e) => e);
            expect(err).toMatchObject({ code: 'receipt_rejected', rules: [rule] });
            expect(store.latestVoucher(channel.toString())).toBeUndefined();
        });
    });

    const rows = CASES.flatMap((c) => c.paths.map((path) => [c.rule, path, c.what, c] as const));

    it.each(rows)('rule %s, %s path: refuses a receipt %s, by name, and pays nothing', async (rule, path, _what, c) => {
        c.arrange(si);
        if (path === 'recovered') si.loseFinal = true;
        const err = await ask().catch((e) => e);
        expect(err).toBeInstanceOf(CocoonError);
        expect(err.code).toBe('receipt_rejected');
        // Broken: this rule and no other.
        expect(err.rules).toEqual([rule]);
        expect(err.message).toContain(`[${rule}]`);
        if (path === 'recovered') expect(err.message).toContain('recovered receipt');
        expect(store.latestVoucher(channel.toString())).toBeUndefined();
        expect(store.channel(channel.toString())!.verified).toBe(0n);
        expect(store.badReceipts()).toHaveLength(1);
        expect(client.excluded.has(si.workerStake.toString())).toBe(true);
    });

    it('allows the clock skew: a receipt dated 100 s before the request or 100 s ahead is paid, on both paths', async () => {
        si.tamper = (f) => ({ ...f, time: f.time - 100n });
        await ask();
        si.tamper = (f) => ({ ...f, time: f.time + 100n });
        si.loseFinal = true;
        await expect(ask()).rejects.toMatchObject({ code: 'worker_unreachable' });
        expect(store.latestVoucher(channel.toString())!.total).toBe(2n * cost);
    });
});
