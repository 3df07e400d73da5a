import { Address, SenderArguments, toNano } from '@ton/core';
import OpenAI from 'openai';
import { unaffordable } from '../../client/src/channels/affordability';
import { operationBounds } from '../../client/src/operation';
import { buildGateway } from '../../client/src/gateway';
import type { WorkerInfo } from '../../client/src/discovery';
import { testKeys } from '../helpers/channel';
import { MODEL, clientWithChannel } from './standIn';

/**
 * A request no channel can pay for is refused before any money moves: the
 * worker would refuse it for want of deposit after the client had topped up
 * (and an OpenAI client retries a 5xx, topping up again each time). A 400,
 * which the official client does not retry, says the cost and what to change.
 */
describe('a request no channel can afford', () => {
    // 10,000 TON per million completion tokens: a million max_tokens cost far more than a 10 TON channel.
    const prices = { prompt: 1_000_000_000n, cached: 500_000_000n, completion: 10_000_000_000_000n, reasoning: 10_000_000_000_000n };
    const worker: WorkerInfo = {
        workerStake: new Address(0, Buffer.alloc(32, 0x57)),
        owner: new Address(0, Buffer.alloc(32, 0x0a)),
        workerKey: testKeys('afford-worker').publicKey,
        encryptionKey: Buffer.alloc(32, 1),
        endpoint: 'http://127.0.0.1:1',
        modelId: 1n,
        model: MODEL,
        prices,
        imageHash: 0n,
        expiresAt: 2_000_000_000,
        tee: 'simulated',
    };
    const channel = new Address(0, Buffer.alloc(32, 0xcc));

    function setUp() {
        const sent: SenderArguments[] = [];
        const { client, store } = clientWithChannel({
            dbPath: ':memory:',
            channel,
            workerStake: worker.workerStake,
            channelKey: testKeys('afford-client'),
            wallet: { address: new Address(0, Buffer.alloc(32, 0xc1)), send: async (a) => void sent.push(a) },
        });
        return { client, store, sent };
    }

    it('is refused by the SDK with request_unaffordable, nothing sent, topped up or recorded', async () => {
        const { client, store, sent } = setUp();
        try {
            const err = await client.call(worker, { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1_000_000 }).catch((e) => e);
            expect(err).toMatchObject({ status: 400, code: 'request_unaffordable' });
            expect(err.message).toMatch(/max_tokens 1000000/);
            expect(err.message).toMatch(/10 TON a channel holds/);
            expect(sent).toHaveLength(0);
            expect(store.channels()).toHaveLength(1);
            expect(store.channels()[0].deposit).toBe(toNano('10'));
            expect(store.pendingAttempts(channel.toString())).toHaveLength(0);
        } finally {
            store.close();
        }
    });

    it('is answered by the gateway with one 400 the official openai client does not retry', async () => {
        const { client, store, sent } = setUp();
        // Discovery stands in for the chain; everything after it is the real gateway and SDK.
        client.workers = async () => [worker];
        const gateway = buildGateway({ client });
        await gateway.listen({ host: '127.0.0.1', port: 0 });
        let calls = 0;
        const openai = new OpenAI({
            baseURL: `http://127.0.0.1:${(gateway.server.address() as { port: number }).port}/v1`,
            apiKey: 'none',
            fetch: (async (url: string, init?: RequestInit) => {
                calls++;
                return fetch(url, init);
            }) as unknown as typeof fetch,
        });
        try {
            const err = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1_000_000 }).catch((e) => e);
            expect(err).toBeInstanceOf(OpenAI.BadRequestError);
            expect(err).toMatchObject({ status: 400, code: 'request_unaffordable' });
            expect(calls).toBe(1);
            expect(sent).toHaveLength(0);
            expect(store.channels()[0].deposit).toBe(toNano('10'));
        } finally {
            await gateway.close();
            store.close();
        }
    });

    it('judges the prompt alone when max_tokens is absent, and lets an affordable request through', () => {
        const ask = (content: string, max_tokens?: number) =>
            unaffordable(worker, operationBounds({ kind: 'chat', request: { model: MODEL, messages: [{ role: 'user', content }], max_tokens } }), toNano('10'));
        // 16 completion tokens at most: 0.32 TON, well within the channel.
        expect(ask('hi', 16)).toBeUndefined();
        expect(ask('hi')).toBeUndefined();
        // No max_tokens: the worker's own default bounds the answer; a prompt of ten billion-odd tokens' worth is still refused.
        const cheapPromptOnly = { ...worker, prices: { ...prices, prompt: 10_000_000_000_000n } };
        const refused = unaffordable(cheapPromptOnly, operationBounds({ kind: 'chat', request: { model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(2000) }] } }), toNano('10'));
        expect(refused).toMatchObject({ status: 400, code: 'request_unaffordable' });
        expect(refused!.message).not.toMatch(/max_tokens \d/);
    });
});
