import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, Cell } from '@ton/core';
import { toNano } from '@ton/core';
import { TonClient } from '@ton/ton';
import OpenAI from 'openai';
import type { FastifyInstance } from 'fastify';
import { RunningDevnet, startDevnet } from '../../devnet/server';
import { DEVNET_MNEMONIC } from '../../wrappers/devnet';
import { makeSignedReceipt, openSignedReceipt, parseReceipt, receiptMaxCost, verifyReceipt } from '../../wrappers/receipt';
import { verifyVoucher } from '../../wrappers/voucher';
import { tonClientOpener } from '../../wrappers/toncenter';
import { loadConfig } from '../../worker/src/config';
import { createLogger } from '../../worker/src/log';
import { OperatorWallet } from '../../wrappers/wallet';
import { Worker, createWorker } from '../../worker/src/worker';
import { CocoonClient } from '../../client/src/client';
import { main as clientCli } from '../../client/src/cli';
import { ChannelStatus, ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { ExtendedRegistry } from '../../wrappers/Registry';
import { Opcode } from '../../wrappers/opcodes';
import { ExtendedWorkerStake, WorkerStatus } from '../../wrappers/WorkerStake';
import { buildGateway } from '../../client/src/gateway';
import { ResponseStore } from '../../client/src/gateway/responseStore';
import { ClientStore } from '../../client/src/store';
import { testKeys } from '../helpers/channel';
import {
    TOOL_CALLS,
    Upstream,
    UPSTREAM_CACHED_TOKENS,
    UPSTREAM_EMBEDDING_TOKENS,
    UPSTREAM_PROMPT_TOKENS,
    WORDS,
    startUpstream,
    upstreamEmbedding,
    upstreamLogprob,
    upstreamTextLogprobs,
} from '../worker/helpers';
import { embeddingsResponseText } from '../../protocol/embeddings';
import { requestMaxCost, responseDigest } from '../../protocol/paidRequest';
import { requestCostBound } from '../../client/src/channels/affordability';
import { operationBounds } from '../../client/src/operation';
import { textLogprobsOf } from '../../protocol/completions';
import { bytesToUint } from '../../helpers/bytes';
import { pollUntil } from '../../helpers/poll';
import { deployNetworkTo, registerWorker } from '../../scripts/local/devnetNetwork';
import { BINS, Daemon } from '../../scripts/lib/daemon';

/**
 * End to end on a devnet: the deployed network, a registered worker (openai
 * backend over a fake upstream), the gateway, and the official `openai`
 * package as the app.
 */
jest.setTimeout(300_000);

/** nanoTON per million tokens: a request costs about 0.2 TON, so protocol fees are above their minimum. */
const PRICES = { prompt: 10_000_000_000_000n, cached: 5_000_000_000_000n, completion: 20_000_000_000_000n, reasoning: 20_000_000_000_000n };
/**
 * The worker's shares the channel at `channel` paid to `owner` after logical time `sinceLt` (the amounts in the
 * WorkerPaid bodies; the claim's payout value adds what the claimer's value left).
 */
async function sharesPaid(ton: TonClient, owner: Address, channel: Address, sinceLt: bigint): Promise<bigint> {
    let sum = 0n;
    for (const t of await ton.getTransactions(owner, { limit: 50 })) {
        const info = t.inMessage?.info;
        if (t.lt <= sinceLt || info?.type !== 'internal' || !info.src.equals(channel)) continue;
        const body = t.inMessage!.body.beginParse();
        if (body.remainingBits < 32 || body.loadUint(32) !== Opcode.WorkerPaid) continue;
        body.skip(64);
        sum += body.loadCoins();
    }
    return sum;
}
const MODEL = 'cocoon-demo';
const API_KEY = 'sk-test-gateway';

describe('client gateway on a devnet', () => {
    let devnet: RunningDevnet;
    let upstream: Upstream;
    let dir: string;
    let ton: TonClient;
    let contracts: Record<string, string>;
    let worker: Worker;
    let workerB: Worker | undefined;
    let store: ClientStore;
    let sdk: CocoonClient;
    let gateway: FastifyInstance;
    let openai: OpenAI;
    const channelKey = testKeys('client-e2e-channel');

    async function startGateway(storeName: string) {
        const wallet = await OperatorWallet.open(ton, DEVNET_MNEMONIC.split(' '), 'v4');
        store = ClientStore.open(join(dir, 'client', storeName));
        sdk = new CocoonClient({
            opener: tonClientOpener(ton),
            staking: Address.parse(contracts.staking),
            wallet: wallet.sender() as ReturnType<OperatorWallet['sender']> & { address: Address },
            channelKey,
            store,
            deposit: toNano('3'),
            topUpBelow: toNano('0.5'),
        });
        gateway = buildGateway({ client: sdk, apiKeys: [API_KEY] });
        await gateway.listen({ host: '127.0.0.1', port: 0 });
        const port = (gateway.server.address() as { port: number }).port;
        openai = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: API_KEY, maxRetries: 0, timeout: 120_000 });
    }

    /** A gateway over `client` listening on a free port, and the official openai client pointed at it. */
    async function gatewayFor(client: CocoonClient, responses?: ResponseStore) {
        const g = buildGateway({ client, responses });
        await g.listen({ host: '127.0.0.1', port: 0 });
        const app = new OpenAI({ baseURL: `http://127.0.0.1:${(g.server.address() as { port: number }).port}/v1`, apiKey: 'none', maxRetries: 0 });
        return { g, app };
    }

    /** A second SDK client on the devnet wallet, with a ledger and a channel key of its own. */
    async function clientOfItsOwn(name: string, deposit: bigint) {
        const wallet = await OperatorWallet.open(ton, DEVNET_MNEMONIC.split(' '), 'v4');
        const ownStore = ClientStore.open(join(dir, 'client', `${name}.db`));
        const client = new CocoonClient({
            opener: tonClientOpener(ton),
            staking: Address.parse(contracts.staking),
            wallet: wallet.sender() as ReturnType<OperatorWallet['sender']> & { address: Address },
            channelKey: testKeys(`client-e2e-${name}`),
            store: ownStore,
            deposit,
            topUpBelow: toNano('0.5'),
        });
        return { client, store: ownStore };
    }

    beforeAll(async () => {
        dir = await fs.mkdtemp(join(tmpdir(), 'cocoon-client-e2e-'));
        devnet = await startDevnet({ port: 0, logLevel: 'silent' });
        upstream = await startUpstream();
        ({ contracts } = await deployNetworkTo(devnet.endpoint, dir));
        ton = new TonClient({ endpoint: devnet.endpoint });

        worker = await startWorker('worker-a', PRICES);
        await startGateway('store.db');
    });

    /** A worker registered through its own CLI, listening where its listing says. */
    async function startWorker(name: string, prices: typeof PRICES): Promise<Worker> {
        const { configFile } = await registerWorker({
            dir: join(dir, name),
            endpoint: devnet.endpoint,
            staking: contracts.staking,
            backend: { upstreamUrl: upstream.url },
            prices,
            configure: (cfg) => {
                cfg.payments = { claimThreshold: toNano('100').toString(), watchIntervalMs: 2000 };
                // A proxy to an upstream takes a burst at once (the default suits a GPU).
                cfg.http = { ...(cfg.http ?? {}), maxConcurrent: 128 };
            },
        });
        const w = await createWorker(loadConfig({ file: configFile, env: {} }), { logger: createLogger({ level: 'silent' }) });
        await w.start();
        return w;
    }

    afterAll(async () => {
        await gateway?.close();
        store?.close();
        await worker?.stop().catch(() => undefined);
        await workerB?.stop().catch(() => undefined);
        await upstream?.close();
        await devnet?.close();
        await fs.rm(dir, { recursive: true, force: true });
    });

    const messages = [
        { role: 'system' as const, content: 'You are terse.' },
        { role: 'user' as const, content: 'Say hello.' },
    ];
    const expectedUsage = { prompt: BigInt(UPSTREAM_PROMPT_TOKENS), cached: BigInt(UPSTREAM_CACHED_TOKENS), completion: BigInt(WORDS.length), reasoning: 0n };
    const expectedCost = receiptMaxCost(PRICES, expectedUsage);

    function checkReceipt(receipt: any, cost: bigint, cumulative: bigint) {
        const { receipt: cell, signature } = openSignedReceipt(Cell.fromBase64(receipt.boc));
        expect(verifyReceipt(cell, signature, worker.keys.receipt.publicKey)).toBe(true);
        const f = parseReceipt(cell);
        expect(f.workerStake.equals(worker.workerStake)).toBe(true);
        expect(f.usage).toEqual(expectedUsage);
        expect(f.cost).toBe(cost);
        expect(f.cumulativeCost).toBe(cumulative);
        return f;
    }

    it('lists the model with its live worker and price range; refuses a wrong API key', async () => {
        const models = await openai.models.list();
        const m = models.data.find((x) => x.id === MODEL) as any;
        expect(m).toBeDefined();
        expect(m.workers).toBe(1);
        // The devnet's worker attests with the development key: no hardware behind it, and the list says so.
        expect(m.tee).toEqual({ simulated: 1 });
        expect(m.pricing.completion).toEqual({ min: PRICES.completion.toString(), max: PRICES.completion.toString() });
        expect(m.pricing.unit).toBe('nanoTON per million tokens');
        // What its worker's backend (OpenAI-compatible) serves, as the worker says.
        expect(m.capabilities).toEqual({ chat: true, completions: true, embeddings: true, tools: true, json_schema: true, logprobs: true, vision: true });
        const one: any = await openai.models.retrieve(MODEL);
        expect(one).toEqual(m);
        await expect(openai.models.retrieve('no-such-model')).rejects.toMatchObject({ status: 404 });
        const bad = new OpenAI({ baseURL: openai.baseURL, apiKey: 'wrong', maxRetries: 0 });
        await expect(bad.models.list()).rejects.toMatchObject({ status: 401 });
    });

    let channel: string;
    let paid = 0n;

    it('a non-streaming completion: answer, usage, cost, verified receipt, signed voucher', async () => {
        const r: any = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16 });
        expect(r.choices[0].message.content).toBe(WORDS.join(''));
        expect(r.usage).toMatchObject({ prompt_tokens: UPSTREAM_PROMPT_TOKENS, completion_tokens: WORDS.length, total_tokens: UPSTREAM_PROMPT_TOKENS + WORDS.length });
        expect(r.usage.prompt_tokens_details.cached_tokens).toBe(UPSTREAM_CACHED_TOKENS);
        expect(r.cost).toBe(expectedCost.toString());
        expect(expectedCost).toBeGreaterThan(0n);
        const f = checkReceipt(r.receipt, expectedCost, expectedCost);
        channel = f.channel.toString();
        expect(r.worker).toBe(worker.workerStake.toString());
        // The voucher for the verified cumulative cost is signed and stored.
        const v = store.latestVoucher(channel)!;
        expect(v.total).toBe(expectedCost);
        expect(verifyVoucher(f.channel, v.total, v.signature, channelKey.publicKey)).toBe(true);
        expect(store.receipts(channel)).toHaveLength(1);
        paid = expectedCost;
    });

    it('a streaming completion: chunks, usage and cost and receipt in the last chunk; the voucher reaches the worker', async () => {
        const s = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16, stream: true, stream_options: { include_usage: true } });
        let text = '';
        let last: any;
        for await (const chunk of s) {
            text += chunk.choices[0]?.delta?.content ?? '';
            last = chunk;
        }
        expect(text).toBe(WORDS.join(''));
        expect(last.usage).toMatchObject({ prompt_tokens: UPSTREAM_PROMPT_TOKENS, completion_tokens: WORDS.length });
        expect(last.cost).toBe(expectedCost.toString());
        const f = checkReceipt(last.receipt, expectedCost, paid + expectedCost);
        expect(f.channel.toString()).toBe(channel);
        paid += expectedCost;
        expect(store.latestVoucher(channel)!.total).toBe(paid);
        // Each voucher reaches the worker on its own as soon as its receipt is verified, no later request needed.
        await sdk.vouchers.settled();
        expect(worker.store.latestVoucher(channel)!.total).toBe(paid);
    });

    it('restarted, the gateway continues the same channel without repeating or losing a payment', async () => {
        await gateway.close();
        store.close();
        await startGateway('store.db');
        const r: any = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16 });
        const f = checkReceipt(r.receipt, expectedCost, paid + expectedCost);
        expect(f.channel.toString()).toBe(channel);
        // The worker received the voucher the previous gateway signed.
        expect(worker.store.latestVoucher(channel)!.total).toBe(paid);
        paid += expectedCost;
        expect(store.latestVoucher(channel)!.total).toBe(paid);
        expect(store.channels()).toHaveLength(1);
    });

    it('honours max_price and worker; refuses malformed requests without calling a worker', async () => {
        await expect(openai.chat.completions.create({ model: MODEL, messages: [], max_tokens: 16 })).rejects.toMatchObject({ status: 400 });
        await expect(openai.chat.completions.create({ model: MODEL, messages, max_price: 'cheap' } as any)).rejects.toMatchObject({ status: 400 });
        await expect(openai.chat.completions.create({ model: MODEL, messages, worker: 'nobody' } as any)).rejects.toMatchObject({ status: 400 });
        await expect(openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16, max_price: 1 } as any)).rejects.toMatchObject({ status: 404 });
        const other = Address.parse(contracts.escrow).toString();
        await expect(openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16, worker: other } as any)).rejects.toMatchObject({ status: 404 });
        const r: any = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16, worker: worker.workerStake.toString(), max_price: PRICES.completion.toString() } as any);
        checkReceipt(r.receipt, expectedCost, paid + expectedCost);
        paid += expectedCost;
    });

    it('carries response_format, penalties and logit_bias from the openai client to the upstream of the worker, sealed end to end', async () => {
        // JSON mode: a schema would count as prompt (its text) and outgrow what this test's prices let a channel pay for.
        const asked = { presence_penalty: 0.5, frequency_penalty: 0.25, logit_bias: { '42': -100 }, response_format: { type: 'json_object' as const } };
        // A tool choice with no tools asks for nothing (and upstreams refuse it alone): it does not travel on.
        const r: any = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16, ...asked, tool_choice: 'none', parallel_tool_calls: false });
        expect(upstream.requests.at(-1)).toMatchObject(asked);
        for (const field of ['tools', 'tool_choice', 'parallel_tool_calls']) expect(upstream.requests.at(-1)).not.toHaveProperty(field);
        checkReceipt(r.receipt, expectedCost, paid + expectedCost);
        paid += expectedCost;
    });

    it('tool calling with the openai client: the calls, streamed and whole, their results sent back; each receipt commits to the calls and is paid', async () => {
        // A client of its own with a deposit for offered tools' prompt allowance (TOOLS_TEMPLATE_TOKENS) at this test's prices.
        const { client: toolClient, store: toolStore } = await clientOfItsOwn('tools', toNano('20'));
        const { g: toolGateway, app } = await gatewayFor(toolClient);
        let toolPaid = 0n;
        try {
            const tools = [
                { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
                { type: 'function' as const, function: { name: 'get_time' } },
            ];
            const ask = [{ role: 'user' as const, content: 'Weather and time in Paris?' }];
            /** The receipt's usage and cost, and that it continues the channel: what the upstream counted, one completion token a piece. */
            const paysFor = (receipt: any, usage: { prompt: number; cached: number; completion: number }) => {
                const f = parseReceipt(openSignedReceipt(Cell.fromBase64(receipt.boc)).receipt);
                const counted = { prompt: BigInt(usage.prompt), cached: BigInt(usage.cached), completion: BigInt(usage.completion), reasoning: 0n };
                expect(f.usage).toEqual(counted);
                expect(f.cost).toBe(receiptMaxCost(PRICES, counted));
                expect(f.cumulativeCost).toBe(toolPaid + f.cost);
                toolPaid += f.cost;
                return f;
            };
            const r: any = await app.chat.completions.create({ model: MODEL, messages: ask, max_tokens: 16, tools, tool_choice: 'auto' });
            const message = r.choices[0].message;
            expect(r.choices[0].finish_reason).toBe('tool_calls');
            expect(message.content).toBeNull();
            expect(message.tool_calls.map((c: any) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments }))).toEqual(TOOL_CALLS);
            const channel = paysFor(r.receipt, { prompt: UPSTREAM_PROMPT_TOKENS, cached: 0, completion: 4 }).channel.toString();

            const stream = await app.chat.completions.create({ model: MODEL, messages: ask, max_tokens: 16, tools, parallel_tool_calls: false, stream: true });
            const pieces: any[] = [];
            let last: any;
            for await (const chunk of stream) {
                pieces.push(...(chunk.choices[0]?.delta?.tool_calls ?? []));
                last = chunk;
            }
            expect(pieces.map((p) => p.function?.arguments ?? '').join('')).toBe(TOOL_CALLS[0].arguments);
            expect(pieces[0]).toMatchObject({ index: 0, id: TOOL_CALLS[0].id, type: 'function', function: { name: TOOL_CALLS[0].name } });
            paysFor(last.receipt, { prompt: UPSTREAM_PROMPT_TOKENS, cached: 0, completion: 3 });

            const history = [...ask, message, ...message.tool_calls.map((c: any) => ({ role: 'tool' as const, tool_call_id: c.id, content: 'sunny' }))];
            const after: any = await app.chat.completions.create({ model: MODEL, messages: history, max_tokens: 16 });
            expect(after.choices[0].message.content).toBe(WORDS.join(''));
            expect(upstream.requests.at(-1).messages.slice(1)).toEqual([
                { role: 'assistant', content: null, tool_calls: message.tool_calls },
                { role: 'tool', content: 'sunny', tool_call_id: TOOL_CALLS[0].id },
                { role: 'tool', content: 'sunny', tool_call_id: TOOL_CALLS[1].id },
            ]);
            paysFor(after.receipt, { prompt: UPSTREAM_PROMPT_TOKENS, cached: UPSTREAM_CACHED_TOKENS, completion: WORDS.length });

            // The SDK's tool runner: it calls the functions the model asks for, sends their results back, and ends with the model's answer; two paid requests.
            const called: string[] = [];
            const runner = app.beta.chat.completions.runTools({
                model: MODEL,
                messages: ask,
                max_tokens: 16,
                tools: [
                    {
                        type: 'function',
                        function: {
                            name: 'get_weather',
                            description: 'the weather in a city',
                            parameters: { type: 'object', properties: { city: { type: 'string' } } },
                            function: (a: { city: string }) => (called.push(`weather ${a.city}`), 'sunny'),
                            parse: JSON.parse,
                        },
                    },
                    {
                        type: 'function',
                        function: { name: 'get_time', description: 'the time', parameters: { type: 'object', properties: {} }, function: () => (called.push('time'), 'noon'), parse: JSON.parse },
                    },
                ],
            });
            expect(await runner.finalContent()).toBe(WORDS.join(''));
            expect(called).toEqual(['weather Paris', 'time']);
            const [first, second] = runner.allChatCompletions() as any[];
            paysFor(first.receipt, { prompt: UPSTREAM_PROMPT_TOKENS, cached: 0, completion: 4 });
            paysFor(second.receipt, { prompt: UPSTREAM_PROMPT_TOKENS, cached: UPSTREAM_CACHED_TOKENS, completion: WORDS.length });
            expect(toolStore.latestVoucher(channel)!.total).toBe(toolPaid);
            await toolClient.vouchers.settled();
            expect(worker.store.latestVoucher(channel)!.total).toBe(toolPaid);
        } finally {
            await toolGateway.close();
            toolStore.close();
        }
    });

    it('the Responses API with the openai client: text whole and streamed, a function tool round trip through previous_response_id kept across a gateway restart, structured output, refusals by name; each receipt paid', async () => {
        // A client of its own with a deposit for offered tools' prompt allowance at this test's prices.
        const { client: rc, store: rs } = await clientOfItsOwn('responses', toNano('20'));
        const responsesFile = join(dir, 'client', 'responses-kept.db');
        const open = async () => {
            const kept = ResponseStore.open(responsesFile);
            return { ...(await gatewayFor(rc, kept)), kept };
        };
        let { g, kept, app } = await open();
        let total = 0n;
        const paysFor = (response: any, usage: { prompt: number; cached: number; completion: number }) => {
            const f = parseReceipt(openSignedReceipt(Cell.fromBase64(response.receipt.boc)).receipt);
            const counted = { prompt: BigInt(usage.prompt), cached: BigInt(usage.cached), completion: BigInt(usage.completion), reasoning: 0n };
            expect(f.usage).toEqual(counted);
            expect(response.cost).toBe(receiptMaxCost(PRICES, counted).toString());
            expect(f.cumulativeCost).toBe(total + f.cost);
            total += f.cost;
            return f.channel.toString();
        };
        const text = { prompt: UPSTREAM_PROMPT_TOKENS, cached: UPSTREAM_CACHED_TOKENS, completion: WORDS.length };
        try {
            const whole: any = await app.responses.create({ model: MODEL, instructions: 'You are terse.', input: 'Say hello.', max_output_tokens: 16, metadata: { app: 'e2e' } });
            expect(whole).toMatchObject({ object: 'response', status: 'completed', model: MODEL, metadata: { app: 'e2e' }, instructions: 'You are terse.' });
            expect(whole.output_text).toBe(WORDS.join(''));
            expect(whole.output).toEqual([
                expect.objectContaining({ type: 'message', role: 'assistant', status: 'completed', content: [expect.objectContaining({ type: 'output_text', text: WORDS.join('') })] }),
            ]);
            expect(whole.usage).toEqual({
                input_tokens: UPSTREAM_PROMPT_TOKENS,
                input_tokens_details: { cached_tokens: UPSTREAM_CACHED_TOKENS },
                output_tokens: WORDS.length,
                output_tokens_details: { reasoning_tokens: 0 },
                total_tokens: UPSTREAM_PROMPT_TOKENS + WORDS.length,
            });
            expect(upstream.requests.at(-1)).toMatchObject({ messages, max_tokens: 16 });
            const channel = paysFor(whole, text);

            const streamed = await app.responses.create({ model: MODEL, input: [{ role: 'user', content: 'Say hello.' }], max_output_tokens: 16, stream: true });
            const types: string[] = [];
            let deltas = '';
            let completed: any;
            for await (const event of streamed) {
                types.push(event.type);
                if (event.type === 'response.output_text.delta') deltas += event.delta;
                if (event.type === 'response.completed') completed = event.response;
            }
            expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
            expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
            expect(deltas).toBe(WORDS.join(''));
            expect(completed.output[0].content[0].text).toBe(WORDS.join(''));
            paysFor(completed, text);
            // The SDK's stream helper assembles the same events into the final response.
            const assembled = await app.responses.stream({ model: MODEL, input: 'Say hello.', max_output_tokens: 16 }).finalResponse();
            expect(assembled.output).toEqual([expect.objectContaining({ type: 'message', content: [expect.objectContaining({ text: WORDS.join('') })] })]);
            paysFor(assembled, text);

            const tools = [
                { type: 'function' as const, name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false },
                { type: 'function' as const, name: 'get_time', parameters: { type: 'object', properties: {} }, strict: false },
            ];
            const asked: any = await app.responses.create({ model: MODEL, input: 'Weather and time in Paris?', tools, max_output_tokens: 16 });
            const calls = asked.output.filter((i: any) => i.type === 'function_call');
            expect(calls.map((c: any) => ({ id: c.call_id, name: c.name, arguments: c.arguments }))).toEqual(TOOL_CALLS);
            paysFor(asked, { prompt: UPSTREAM_PROMPT_TOKENS, cached: 0, completion: 4 });
            // The conversation is the gateway's, in its own file: a restarted gateway continues it.
            await g.close();
            kept.close();
            ({ g, kept, app } = await open());
            const answered: any = await app.responses.create({
                model: MODEL,
                previous_response_id: asked.id,
                input: calls.map((c: any) => ({ type: 'function_call_output' as const, call_id: c.call_id, output: 'sunny' })),
                max_output_tokens: 16,
            });
            expect(answered.output_text).toBe(WORDS.join(''));
            expect(answered.previous_response_id).toBe(asked.id);
            expect(upstream.requests.at(-1).messages).toEqual([
                { role: 'user', content: 'Weather and time in Paris?' },
                { role: 'assistant', content: null, tool_calls: TOOL_CALLS.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) },
                { role: 'tool', content: 'sunny', tool_call_id: TOOL_CALLS[0].id },
                { role: 'tool', content: 'sunny', tool_call_id: TOOL_CALLS[1].id },
            ]);
            paysFor(answered, text);

            const streamedCall = await app.responses.create({ model: MODEL, input: 'Weather in Paris?', tools, parallel_tool_calls: false, stream: true, max_output_tokens: 16 });
            let args = '';
            const added: any[] = [];
            let last: any;
            for await (const event of streamedCall) {
                if (event.type === 'response.output_item.added') added.push(event.item);
                if (event.type === 'response.function_call_arguments.delta') args += event.delta;
                if (event.type === 'response.completed') last = event.response;
            }
            expect(added).toEqual([expect.objectContaining({ type: 'function_call', call_id: TOOL_CALLS[0].id, name: TOOL_CALLS[0].name })]);
            expect(args).toBe(TOOL_CALLS[0].arguments);
            paysFor(last, { prompt: UPSTREAM_PROMPT_TOKENS, cached: 0, completion: 3 });

            const schema = { type: 'object', properties: { greeting: { type: 'string' } }, required: ['greeting'], additionalProperties: false };
            const formatted: any = await app.responses.create({
                model: MODEL,
                input: 'Say hello.',
                text: { format: { type: 'json_schema', name: 'greeting', schema, strict: true } },
                max_output_tokens: 16,
            });
            expect(upstream.requests.at(-1).response_format).toEqual({ type: 'json_schema', json_schema: { name: 'greeting', schema, strict: true } });
            expect(formatted.text.format).toMatchObject({ type: 'json_schema', name: 'greeting' });
            paysFor(formatted, text);

            expect(await app.responses.retrieve(answered.id)).toMatchObject({ id: answered.id, output: answered.output, receipt: answered.receipt });
            await app.responses.del(answered.id);
            await expect(app.responses.retrieve(answered.id)).rejects.toMatchObject({ status: 404 });
            const unstored: any = await app.responses.create({ model: MODEL, input: 'Say hello.', max_output_tokens: 16, store: false });
            paysFor(unstored, text);
            await expect(app.responses.retrieve(unstored.id)).rejects.toMatchObject({ status: 404 });

            // Refused by name before any worker is asked: nothing is charged.
            const requestsBefore = upstream.requests.length;
            const refusal = async (body: Record<string, unknown>, status: number, words: RegExp) => {
                const err: any = await app.responses.create({ model: MODEL, max_output_tokens: 16, ...body } as any).catch((e) => e);
                expect(err.status).toBe(status);
                expect(err.message).toMatch(words);
            };
            await refusal({ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-1' }] }] }, 400, /input\.0\.content\.0\.type/);
            // An image goes where the chat request takes one (a user message); anywhere else it is refused by name.
            await refusal({ input: [{ role: 'system', content: [{ type: 'input_image', image_url: 'https://example.com/a.png' }] }] }, 400, /messages\.0\.content\.0\.type: must be "text"/);
            await refusal({ input: 'Hi', reasoning: { effort: 'high' } }, 400, /reasoning: not supported/);
            await refusal({ input: 'Hi', tools: [{ type: 'web_search' }] }, 400, /tools\.0\.type/);
            await refusal({ input: 'Hi', tool_choice: 'required' }, 400, /tool_choice: asks for a tool call/);
            await refusal({ input: 'Hi', previous_response_id: 'resp_unknown' }, 404, /previous_response_id/);
            expect(upstream.requests.length).toBe(requestsBefore);
            expect(rs.latestVoucher(channel)!.total).toBe(total);
            await rc.vouchers.settled();
            expect(worker.store.latestVoucher(channel)!.total).toBe(total);
        } finally {
            await g.close();
            kept.close();
            rs.close();
        }
    });

    it('embeddings with the openai client, as floats and base64: the vectors the upstream made, prompt tokens charged at the prompt price, the receipt committing to the data and paid; a bad field refused by name, nothing charged', async () => {
        const inputs = ['first text', 'second text'];
        const asFloats: any = await openai.embeddings.create({ model: MODEL, input: inputs, encoding_format: 'float' });
        expect(upstream.requests.at(-1)).toEqual({ model: 'llama-3-8b', input: inputs, encoding_format: 'float' });
        expect(asFloats.data.map((d: any) => d.embedding)).toEqual(inputs.map((_, i) => upstreamEmbedding(i).map(Math.fround)));
        expect(asFloats.usage).toEqual({ prompt_tokens: 2 * UPSTREAM_EMBEDDING_TOKENS, total_tokens: 2 * UPSTREAM_EMBEDDING_TOKENS });
        const usage = { prompt: BigInt(2 * UPSTREAM_EMBEDDING_TOKENS), cached: 0n, completion: 0n, reasoning: 0n };
        const cost = receiptMaxCost(PRICES, usage);
        expect(asFloats.cost).toBe(cost.toString());
        const { receipt: cell, signature } = openSignedReceipt(Cell.fromBase64(asFloats.receipt.boc));
        expect(verifyReceipt(cell, signature, worker.keys.receipt.publicKey)).toBe(true);
        const f = parseReceipt(cell);
        expect(f.usage).toEqual(usage);
        expect(f.channel.toString()).toBe(channel);
        expect(f.cumulativeCost).toBe(paid + cost);
        expect(f.responseHash).toBe(bytesToUint(responseDigest(embeddingsResponseText(asFloats.data), '')));
        paid += cost;

        // The SDK's default: base64 on the wire, decoded by the SDK into the same float32 values.
        const decoded: any = await openai.embeddings.create({ model: MODEL, input: 'first text' });
        expect(decoded.data[0].embedding).toEqual(upstreamEmbedding(0).map(Math.fround));
        expect(parseReceipt(openSignedReceipt(Cell.fromBase64(decoded.receipt.boc)).receipt).cumulativeCost).toBe(paid + cost / 2n);
        paid += cost / 2n;
        expect(store.latestVoucher(channel)!.total).toBe(paid);

        const before = upstream.requests.length;
        await expect(openai.embeddings.create({ model: MODEL, input: ['ok', ''] })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/input\.1: an empty string/) });
        await expect(openai.embeddings.create({ model: MODEL, input: 'x', task: 'retrieval' } as any)).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/task: not supported/) });
        expect(upstream.requests.length).toBe(before);
        expect(store.latestVoucher(channel)!.total).toBe(paid);
    });

    it('n: 2 with the openai client, whole and streamed: two choices, each a paid request with its receipt, seeds apart; n beyond the cap refused by name', async () => {
        const r: any = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16, n: 2, seed: 7 });
        expect(r.choices.map((c: any) => [c.index, c.message.content, c.finish_reason])).toEqual([
            [0, WORDS.join(''), 'stop'],
            [1, WORDS.join(''), 'stop'],
        ]);
        expect(
            upstream.requests
                .slice(-2)
                .map((b) => b.seed)
                .sort(),
        ).toEqual([7, 8]);
        expect(r.usage).toMatchObject({ prompt_tokens: 2 * UPSTREAM_PROMPT_TOKENS, completion_tokens: 2 * WORDS.length });
        expect(r.cost).toBe((2n * expectedCost).toString());
        expect(r.receipts).toHaveLength(2);
        const cumulative = r.receipts.map((x: any) => checkReceipt(x, expectedCost, BigInt(x.cumulativeCost)).cumulativeCost).sort((a: bigint, b: bigint) => (a < b ? -1 : 1));
        expect(cumulative).toEqual([paid + expectedCost, paid + 2n * expectedCost]);
        paid += 2n * expectedCost;

        const s = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16, n: 2, stream: true });
        const texts = ['', ''];
        const finished: number[] = [];
        let last: any;
        for await (const chunk of s) {
            for (const c of chunk.choices) {
                texts[c.index] += c.delta?.content ?? '';
                if (c.finish_reason) finished.push(c.index);
            }
            last = chunk;
        }
        expect(texts).toEqual([WORDS.join(''), WORDS.join('')]);
        expect(finished.sort()).toEqual([0, 1]);
        expect(last.usage).toMatchObject({ completion_tokens: 2 * WORDS.length });
        expect(last.cost).toBe((2n * expectedCost).toString());
        expect(last.receipts).toHaveLength(2);
        paid += 2n * expectedCost;
        expect(store.latestVoucher(channel)!.total).toBe(paid);

        const asked = upstream.requests.length;
        await expect(openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16, n: 9 })).rejects.toMatchObject({
            status: 400,
            message: expect.stringMatching(/n: must be an integer from 1 to 8/),
        });
        expect(upstream.requests.length).toBe(asked);
    });

    it("logprobs and top_logprobs with the openai client, whole and streamed: the upstream's log probabilities delivered, and the receipt commits to them", async () => {
        const expected = WORDS.map((w) => upstreamLogprob(w, 2));
        const r: any = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16, logprobs: true, top_logprobs: 2 });
        expect(upstream.requests.at(-1)).toMatchObject({ logprobs: true, top_logprobs: 2 });
        expect(r.choices[0].logprobs.content).toEqual(expected);
        const f = checkReceipt(r.receipt, expectedCost, paid + expectedCost);
        expect(f.responseHash).toBe(bytesToUint(responseDigest(WORDS.join(''), '', [], expected)));
        expect(f.responseHash).not.toBe(bytesToUint(responseDigest(WORDS.join(''), '')));
        paid += expectedCost;

        const s = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16, logprobs: true, stream: true });
        const streamed: any[] = [];
        let last: any;
        for await (const chunk of s) {
            streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
            last = chunk;
        }
        expect(streamed).toEqual(WORDS.map((w) => upstreamLogprob(w, 0)));
        checkReceipt(last.receipt, expectedCost, paid + expectedCost);
        paid += expectedCost;
        expect(store.latestVoucher(channel)!.total).toBe(paid);
    });

    it('text completions (/v1/completions) with the openai client, whole, streamed and echoed: the prompt continued, paid with a verified receipt; what the protocol does not carry refused by name', async () => {
        const usage = { prompt: BigInt(UPSTREAM_PROMPT_TOKENS), cached: 0n, completion: BigInt(WORDS.length), reasoning: 0n };
        const cost = receiptMaxCost(PRICES, usage);
        const receiptOf = (r: any) => {
            const { receipt: cell, signature } = openSignedReceipt(Cell.fromBase64(r.receipt.boc));
            expect(verifyReceipt(cell, signature, worker.keys.receipt.publicKey)).toBe(true);
            const f = parseReceipt(cell);
            expect(f.usage).toEqual(usage);
            expect(f.cumulativeCost).toBe(paid + cost);
            paid += cost;
            return f;
        };
        const whole: any = await openai.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 16, suffix: 'The end.' });
        expect(upstream.requests.at(-1)).toMatchObject({ model: 'llama-3-8b', prompt: 'Once upon a time', suffix: 'The end.', max_tokens: 16, stream: true });
        expect(whole).toMatchObject({ object: 'text_completion', model: MODEL, choices: [{ index: 0, text: WORDS.join(''), finish_reason: 'stop' }] });
        expect(whole.usage).toMatchObject({ prompt_tokens: UPSTREAM_PROMPT_TOKENS, completion_tokens: WORDS.length });
        expect(whole.cost).toBe(cost.toString());
        expect(receiptOf(whole).responseHash).toBe(bytesToUint(responseDigest(WORDS.join(''), '')));

        const stream = await openai.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 16, stream: true, echo: true });
        let text = '';
        let last: any;
        for await (const chunk of stream) {
            text += chunk.choices[0]?.text ?? '';
            last = chunk;
        }
        expect(text).toBe('Once upon a time' + WORDS.join(''));
        expect(upstream.requests.at(-1)).not.toHaveProperty('echo');
        receiptOf(last);
        // Without max_tokens the worker is held to OpenAI's default for this API, 16.
        const echoed: any = await openai.completions.create({ model: MODEL, prompt: ['Once upon a time'], echo: true });
        expect(upstream.requests.at(-1).max_tokens).toBe(16);
        expect(echoed.choices[0].text).toBe('Once upon a time' + WORDS.join(''));
        receiptOf(echoed);
        expect(store.latestVoucher(channel)!.total).toBe(paid);

        const asked = upstream.requests.length;
        const refused = async (extra: Record<string, unknown>, words: RegExp) =>
            expect(openai.completions.create({ model: MODEL, prompt: 'x', max_tokens: 4, ...extra } as any)).rejects.toMatchObject({ status: 400, message: expect.stringMatching(words) });
        await refused({ logprobs: 6 }, /logprobs: Number must be less than or equal to 5/);
        await refused({ logprobs: 1, echo: true }, /echo: not served together with logprobs/);
        await refused({ best_of: 3 }, /best_of: must be 1/);
        await refused({ prompt: Array.from({ length: 5 }, () => 'a'), n: 2 }, /prompt: 5 prompts times n 2 is more than 8 completions/);
        await refused({ n: 9 }, /n: must be an integer from 1 to 8/);
        expect(upstream.requests.length).toBe(asked);

        await sdk.vouchers.settled();
        expect(store.latestVoucher(channel)!.total).toBe(paid);
    });

    it('text completions on a client of their own: logprobs whole and streamed, several prompts and n, each a paid request with its receipt', async () => {
        const usage = { prompt: BigInt(UPSTREAM_PROMPT_TOKENS), cached: 0n, completion: BigInt(WORDS.length), reasoning: 0n };
        const cost = receiptMaxCost(PRICES, usage);
        const { client: cc, store: cs } = await clientOfItsOwn('completions', toNano('20'));
        const { g: cg, app } = await gatewayFor(cc);
        let spent = 0n;
        try {
            // Log probabilities, whole and streamed: the upstream's, in the legacy shape, committed to by the receipt (the SDK checked it before paying).
            const withLogprobs: any = await app.completions.create({ model: MODEL, prompt: 'Once', max_tokens: 16, logprobs: 2 });
            expect(upstream.requests.at(-1).logprobs).toBe(2);
            const lp = withLogprobs.choices[0].logprobs;
            expect(lp.tokens).toEqual(WORDS);
            expect(lp.token_logprobs).toEqual(WORDS.map(() => -0.25));
            expect(lp.top_logprobs).toEqual(WORDS.map((w) => upstreamTextLogprobs(w)));
            expect(lp.text_offset).toEqual(WORDS.map((_, i) => WORDS.slice(0, i).join('').length));
            const lpReceipt = parseReceipt(openSignedReceipt(Cell.fromBase64(withLogprobs.receipt.boc)).receipt);
            expect(lpReceipt.responseHash).toBe(bytesToUint(responseDigest(WORDS.join(''), '', [], textLogprobsOf(lp))));
            expect(lpReceipt.responseHash).not.toBe(bytesToUint(responseDigest(WORDS.join(''), '')));
            spent += cost;
            const lpStream = await app.completions.create({ model: MODEL, prompt: 'Once', max_tokens: 16, logprobs: 1, stream: true });
            const streamedTokens: string[] = [];
            for await (const chunk of lpStream) streamedTokens.push(...(chunk.choices[0]?.logprobs?.tokens ?? []));
            expect(streamedTokens).toEqual(WORDS);
            spent += cost;

            // Several prompts and n choices: that many paid requests, in OpenAI's order of choices, each with its receipt.
            const sent = upstream.requests.length;
            const several: any = await app.completions.create({ model: MODEL, prompt: ['First', 'Second'], n: 2, max_tokens: 16, echo: true });
            expect(upstream.requests.length).toBe(sent + 4);
            expect(several.choices.map((c: any) => [c.index, c.text])).toEqual([
                [0, 'First' + WORDS.join('')],
                [1, 'First' + WORDS.join('')],
                [2, 'Second' + WORDS.join('')],
                [3, 'Second' + WORDS.join('')],
            ]);
            expect(several.usage).toMatchObject({ prompt_tokens: 4 * UPSTREAM_PROMPT_TOKENS, completion_tokens: 4 * WORDS.length });
            expect(several.cost).toBe((4n * cost).toString());
            expect(several.receipts).toHaveLength(4);
            for (const r of several.receipts) expect(parseReceipt(openSignedReceipt(Cell.fromBase64(r.boc)).receipt).usage).toEqual(usage);
            spent += 4n * cost;
            const streamed = await app.completions.create({ model: MODEL, prompt: ['First', 'Second'], max_tokens: 16, stream: true });
            const texts = ['', ''];
            let end: any;
            for await (const chunk of streamed) {
                for (const c of chunk.choices) texts[c.index] += c.text ?? '';
                end = chunk;
            }
            expect(texts).toEqual([WORDS.join(''), WORDS.join('')]);
            expect(end.receipts).toHaveLength(2);
            spent += 2n * cost;
            await cc.vouchers.settled();
            expect(cs.latestVoucher(cs.channels()[0].address)!.total).toBe(spent);
        } finally {
            await cg.close();
            cs.close();
        }
    });

    it('concurrent requests to one worker are paid one after another on its channel, each exactly once', async () => {
        const rs: any[] = await Promise.all([0, 1, 2].map(() => openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16 })));
        const fields = rs.map((r) => parseReceipt(openSignedReceipt(Cell.fromBase64(r.receipt.boc)).receipt));
        expect(new Set(fields.map((f) => f.requestId)).size).toBe(3);
        expect(fields.map((f) => f.cumulativeCost).sort((a, b) => (a < b ? -1 : 1))).toEqual([1n, 2n, 3n].map((k) => paid + k * expectedCost));
        paid += 3n * expectedCost;
        expect(store.latestVoucher(channel)!.total).toBe(paid);
    });

    it("the worker's claim of the client's voucher lands on chain: the owner's share exact to the nanoTON, the fee accrued for the treasury", async () => {
        const ch = tonClientOpener(ton).open(ExtendedPaymentChannel.fromAddress(Address.parse(channel)));
        const ws = tonClientOpener(ton).open(ExtendedWorkerStake.fromAddress(worker.workerStake));
        const registry = ton.open(ExtendedRegistry.fromAddress(Address.parse(contracts.registry)));
        const params = await registry.getParams();
        const owner = (await ws.getState()).owner;
        const before = await ch.getState();
        const ownerLt = BigInt((await ton.getContractState(owner)).lastTransaction?.lt ?? '0');
        // The worker holds every voucher the client signed: each went to it on its own.
        await sdk.vouchers.settled();
        const held = worker.store.latestVoucher(channel)!.total;
        expect(held).toBe(paid);
        const results = await worker.claimer.claimAll();
        expect(results.find((x) => x.channel === channel)).toMatchObject({ claimed: true, paid: held });
        const after = await ch.getState();
        expect(after.paid).toBe(held);
        const delta = held - before.paid;
        const fee = (delta * params.protocolFeeBps) / 10000n;
        expect(fee).toBeGreaterThan(0n);
        // The channel pays the WorkerStake's owner straight away; the fee stays in the channel, owed to the treasury.
        expect(after.payee.equals(owner)).toBe(true);
        expect(after.feeDue).toBe(before.feeDue + fee);
        const share = await pollUntil(
            'the payout',
            () => sharesPaid(ton, owner, ch.address, ownerLt),
            (x) => x > 0n,
        );
        expect(share).toBe(delta - fee);
        // What the client's ledger says it owes and what the chain paid agree.
        expect(store.channel(channel)!.verified).toBe(paid);
        expect(await ch.getDeposit()).toBe(store.channel(channel)!.deposit);
    });

    it('the CLI: models, chat, channels and balance', async () => {
        const lines: string[] = [];
        const io = { out: (l: string) => lines.push(l), env: { ...process.env, COCOON_ENDPOINT: devnet.endpoint, COCOON_STAKING: contracts.staking } };
        const cdir = join(dir, 'cli');
        await clientCli(['models', '-d', cdir], io);
        expect(lines.join('\n')).toContain(`${MODEL}: 1 worker(s)`);
        expect(lines.join('\n')).toContain(' on simulated; TON per million tokens: prompt');
        await clientCli(['chat', '-d', cdir, '-m', MODEL, '--deposit', '3', '--max-tokens', '16', 'Say hello.'], io);
        expect(lines).toContain(WORDS.join(''));
        expect(lines.join('\n')).toMatch(/cost \d+ nanoTON .* verified/);
        lines.length = 0;
        await clientCli(['channels', '-d', cdir], io);
        expect(lines.join('\n')).toMatch(/worker .* open: receipts .* on chain: Open/);
        await clientCli(['balance', '-d', cdir], io);
        expect(lines.join('\n')).toMatch(/open channels: 1, unspent deposits/);

        // The installed command: `cocoon-client gateway` serves until SIGTERM.
        const gatewayCommand = Daemon.spawn('gateway', BINS.client, ['gateway', '-d', cdir, '--port', '0'], { env: { COCOON_ENDPOINT: devnet.endpoint, COCOON_STAKING: contracts.staking } });
        try {
            const url = await gatewayCommand.listening(90_000);
            const models = (await (await fetch(`${url}/models`)).json()) as any;
            expect(models.data.map((m: any) => m.id)).toContain(MODEL);
        } finally {
            expect(await gatewayCommand.stop()).toBe(0);
        }
    });

    it('the CLI closes its channel cooperatively; the deposit, the payout, the fee and every fee of gas add up to the nanoTON across client, worker owner and treasury', async () => {
        const lines: string[] = [];
        const io = { out: (l: string) => lines.push(l), env: { ...process.env, COCOON_ENDPOINT: devnet.endpoint, COCOON_STAKING: contracts.staking } };
        const cdir = join(dir, 'cli');
        const cliStore = ClientStore.open(join(cdir, 'store.db'));
        const row = cliStore.channels().find((c) => c.state === 'open')!;
        const verified = row.verified;
        cliStore.close();
        expect(verified).toBeGreaterThan(0n);
        const address = Address.parse(row.address);
        const ch = tonClientOpener(ton).open(ExtendedPaymentChannel.fromAddress(address));
        const before = await ch.getState();
        const ws = tonClientOpener(ton).open(ExtendedWorkerStake.fromAddress(worker.workerStake));
        const wsBefore = await ws.getState();
        const params = await ton.open(ExtendedRegistry.fromAddress(Address.parse(contracts.registry))).getParams();
        // Everyone the close touches: the client's wallet (also the treasury here), the channel, the WorkerStake, the worker owner's wallet.
        const accounts = [before.client, address, worker.workerStake, wsBefore.owner, params.treasury].filter((a, i, all) => all.findIndex((b) => b.equals(a)) === i);
        const snapshot = async () =>
            Promise.all(
                accounts.map(async (a) => {
                    const st = await ton.getContractState(a);
                    return { balance: st.balance, lt: BigInt(st.lastTransaction?.lt ?? '0') };
                }),
            );
        await devnet.chain.idle();
        const start = await snapshot();

        await clientCli(['channels', '-d', cdir, '--close', row.address], io);
        expect(lines.join('\n')).toMatch(/closed cooperatively: worker paid/);
        await devnet.chain.idle();
        const after = await ch.getState();
        expect(after.status).toBe(ChannelStatus.Closed);
        // The channel: the client's ledger total is exactly what the worker got; the rest went back.
        expect(after.paid).toBe(verified);
        expect(worker.store.receiptTotal(row.address)).toBe(verified);
        expect(after.paid + after.refunded).toBe(before.deposit);
        // The worker's side: its owner got the payment less the protocol fee; the treasury every fee the channel accrued.
        const delta = after.paid - before.paid;
        const fee = (delta * params.protocolFeeBps) / 10000n;
        expect(await sharesPaid(ton, wsBefore.owner, address, start[accounts.findIndex((a) => a.equals(wsBefore.owner))].lt)).toBe(delta - fee);
        expect(after.feeDue).toBe(0n);
        // Conservation over every transaction of the close, to the nanoTON: what the accounts lost is exactly what the network charged in gas and forwarding.
        const end = await snapshot();
        let charged = 0n;
        for (const [i, a] of accounts.entries()) {
            const txs = (await ton.getTransactions(a, { limit: 50 })).filter((t) => t.lt > start[i].lt && t.lt <= end[i].lt);
            for (const t of txs) {
                charged += t.totalFees.coins;
                for (const m of t.outMessages.values()) if (m.info.type === 'internal') charged += m.info.forwardFee;
                // Every message of the close stays among these accounts.
                for (const m of t.outMessages.values()) if (m.info.type === 'internal') expect(accounts.some((x) => x.equals(m.info.dest as Address))).toBe(true);
            }
        }
        const moved = end.reduce((sum, e, i) => sum + (e.balance - start[i].balance), 0n);
        expect(moved + charged).toBe(0n);
        expect(charged).toBeGreaterThan(0n);
        // The worker agreed to this total and serves nothing more on the closed channel.
        expect(worker.store.channelState(row.address)).not.toBe('open');
    });

    it('a burst of 64 concurrent requests at a fresh client opens one channel; each receipt is paid once, in order; the worker holds the voucher for all of it', async () => {
        // Enough deposit for every request's most possible cost at once: none waits for another.
        const deposit = toNano('40');
        const { client: burst, store: burstStore } = await clientOfItsOwn('burst', deposit);
        try {
            const w = (await burst.workers(MODEL)).find((x) => x.workerStake.equals(worker.workerStake))!;
            const results = await Promise.all(Array.from({ length: 64 }, () => burst.call(w, { model: MODEL, messages, max_tokens: 16 })));
            expect(new Set(results.map((r) => r.channel)).size).toBe(1);
            expect(burstStore.channels()).toHaveLength(1);
            const ch = burstStore.channels()[0].address;
            // Paid in the worker's order, each exactly once: cumulative totals without a gap or a repeat.
            expect(burstStore.receipts(ch).map((r) => r.cumulative)).toEqual(Array.from({ length: 64 }, (_, i) => BigInt(i + 1) * expectedCost));
            expect(new Set(results.map((r) => r.fields!.requestId)).size).toBe(64);
            // The last voucher reaches the worker although no request follows it.
            await burst.vouchers.settled();
            expect(worker.store.latestVoucher(ch)!.total).toBe(64n * expectedCost);
            // One deposit on chain, no top-up.
            const onChain = tonClientOpener(ton).open(ExtendedPaymentChannel.fromAddress(Address.parse(ch)));
            expect(await onChain.getDeposit()).toBe(deposit);
        } finally {
            burstStore.close();
        }
    });

    it("requests without max_tokens are reserved at the worker's stated default: three at a channel's deposit edge share it in turn, none refused, nothing topped up", async () => {
        const probe = await clientOfItsOwn('edge-probe', toNano('1'));
        const w = (await probe.client.workers(MODEL)).find((x) => x.workerStake.equals(worker.workerStake))!;
        probe.store.close();
        // The worker says what a request without max_tokens may generate; the client prices it so.
        expect(w.limits).toEqual({ defaultMaxTokens: 512, maxTokens: expect.any(Number) });
        const ask = { model: MODEL, messages };
        const need = requestCostBound(w, operationBounds({ kind: 'chat', request: ask }));
        expect(need).toBe(requestMaxCost(PRICES, operationBounds({ kind: 'chat', request: ask }).promptBound, 512));
        // Room for two at once: the third waits for one to end instead of being sent to a refusal.
        const deposit = 2n * need + need / 2n;
        const { client: edge, store: edgeStore } = await clientOfItsOwn('edge', deposit);
        try {
            const results = await Promise.all([0, 1, 2].map(() => edge.call(w, ask)));
            expect(results.map((r) => r.content)).toEqual([0, 1, 2].map(() => WORDS.join('')));
            const ch = edgeStore.channels()[0].address;
            expect(edgeStore.channels()).toHaveLength(1);
            expect(edgeStore.receipts(ch).map((r) => r.cumulative)).toEqual([1n, 2n, 3n].map((k) => k * expectedCost));
            const onChain = tonClientOpener(ton).open(ExtendedPaymentChannel.fromAddress(Address.parse(ch)));
            expect(await onChain.getDeposit()).toBe(deposit);
        } finally {
            edgeStore.close();
        }
    });

    it('a worker that signs its receipt with a key other than the attested one is detected and not paid', async () => {
        const liar = testKeys('not-the-attested-key');
        const settle = worker.payments.settle.bind(worker.payments);
        // Test-only wrapper: the real receipt, re-signed with another key.
        worker.payments.settle = async (a, s) => {
            const wire = await settle(a, s);
            if (!wire) return wire;
            const f = parseReceipt(openSignedReceipt(Cell.fromBase64(wire.boc)).receipt);
            return { ...wire, boc: makeSignedReceipt(f, liar.secretKey).evidence.toBoc().toString('base64') };
        };
        const receiptsBefore = store.receipts(channel).length;
        try {
            await expect(openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16 })).rejects.toMatchObject({ status: 502, code: 'receipt_rejected' });
        } finally {
            worker.payments.settle = settle;
        }
        // Nothing signed for it: the newest voucher still covers only the honest receipts.
        expect(store.latestVoucher(channel)!.total).toBe(paid);
        expect(store.receipts(channel).at(-1)!.cumulative).toBe(paid);
        expect(store.receipts(channel)).toHaveLength(receiptsBefore);
        expect(store.badReceipts()).toHaveLength(1);
        expect(store.badReceipts()[0].reason).toMatch(/attested worker key/);
        // The worker is excluded: no further request goes to it.
        expect(sdk.excluded.has(worker.workerStake.toString())).toBe(true);
        await expect(openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16 })).rejects.toMatchObject({ status: 404 });
    });

    it('fails over to a second worker when the first is stopped, paying each only for what it served', async () => {
        workerB = await startWorker('worker-b', { ...PRICES, completion: PRICES.completion * 2n });
        await gateway.close();
        store.close();
        await startGateway('store-failover.db');
        const first: any = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16 });
        expect(first.worker).toBe(worker.workerStake.toString()); // the cheaper one
        const channelA = parseReceipt(openSignedReceipt(Cell.fromBase64(first.receipt.boc)).receipt).channel.toString();
        await worker.stop();
        const second: any = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16, stream: true } as any).then(async (s: any) => {
            let last: any;
            let text = '';
            for await (const c of s) {
                text += c.choices[0]?.delta?.content ?? '';
                last = c;
            }
            expect(text).toBe(WORDS.join(''));
            return last;
        });
        expect(second.worker).toBe(workerB!.workerStake.toString());
        expect(BigInt(second.cost)).toBe(receiptMaxCost({ ...PRICES, completion: PRICES.completion * 2n }, expectedUsage));
        // Worker A got nothing for the failed attempt; B's channel holds exactly its receipt.
        expect(store.latestVoucher(channelA)!.total).toBe(expectedCost);
        expect(store.receipts(channelA)).toHaveLength(1);
        const channelB = parseReceipt(openSignedReceipt(Cell.fromBase64(second.receipt.boc)).receipt).channel.toString();
        expect(store.latestVoucher(channelB)!.total).toBe(BigInt(second.cost));
    });

    it('an overcharging worker is detected, not paid, and slashed on chain through the fraud proof', async () => {
        const w = workerB!;
        const settle = w.payments.settle.bind(w.payments);
        // Test-only wrapper: the real key signs a cost above the price terms.
        w.payments.settle = async (a, s) => {
            const wire = await settle(a, s);
            if (!wire) return wire;
            const f = parseReceipt(openSignedReceipt(Cell.fromBase64(wire.boc)).receipt);
            const forged = { ...f, cost: f.cost + 1000n, cumulativeCost: f.cumulativeCost + 1000n };
            return {
                ...wire,
                cost: forged.cost.toString(),
                cumulativeCost: forged.cumulativeCost.toString(),
                boc: makeSignedReceipt(forged, w.keys.receipt.secretKey).evidence.toBoc().toString('base64'),
            };
        };
        const ws = tonClientOpener(ton).open(ExtendedWorkerStake.fromAddress(w.workerStake));
        const before = await ws.getState();
        const vouched = store.channels().map((c) => [c.address, c.vouched] as const);
        // Named: worker A (stopped above) is still listed, and after B's rejection the gateway would try it, answering with its failure.
        await expect(openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16, worker: w.workerStake.toString() } as any)).rejects.toMatchObject({
            status: 502,
            code: 'receipt_rejected',
        });
        expect(store.badReceipts().at(-1)!.reason).toMatch(/exceeds/);
        expect(store.channels().map((c) => [c.address, c.vouched] as const)).toEqual(vouched);
        const after = await pollUntil(
            'the slash',
            () => ws.getState(),
            (st) => st.slashes > before.slashes,
            { timeoutMs: 60_000 },
        );
        expect(after.stake).toBeLessThan(before.stake);
        expect(Number(await ws.getStatus())).toBe(WorkerStatus.Jailed);
    });
});
