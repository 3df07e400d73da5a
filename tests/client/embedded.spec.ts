import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, Cell, toNano } from '@ton/core';
import { TonClient } from '@ton/ton';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { RunningDevnet, startDevnet } from '../../devnet/server';
import { DEVNET_MNEMONIC } from '../../wrappers/devnet';
import { ExtendedRegistry } from '../../wrappers/Registry';
import { openSignedReceipt, parseReceipt, receiptMaxCost, verifyReceipt } from '../../wrappers/receipt';
import { tonClientOpener } from '../../wrappers/toncenter';
import { loadConfig } from '../../worker/src/config';
import { writeDemoModel } from '../../worker/src/inference/demoModel';
import { hashModelFile } from '../../worker/src/inference/modelHash';
import { createLogger } from '../../worker/src/log';
import { OperatorWallet } from '../../wrappers/wallet';
import { Worker, createWorker } from '../../worker/src/worker';
import { CocoonClient } from '../../client/src/client';
import { buildGateway } from '../../client/src/gateway';
import { ClientStore } from '../../client/src/store';
import { testKeys } from '../helpers/channel';
import { post } from '../devnet/util';
import { pollUntil } from '../../helpers/poll';
import { deployNetworkTo, registerWorker } from '../../scripts/local/devnetNetwork';

/**
 * Gateway -> worker with the embedded engine (node-llama-cpp on the
 * generated demo model) on a devnet: the model's GGUF hash is allow-listed
 * through the Registry's timelock under a display name, and the official
 * `openai` package asks for it by that name.
 */
jest.setTimeout(300_000);

const PRICES = { prompt: 10_000_000_000_000n, cached: 5_000_000_000_000n, completion: 20_000_000_000_000n, reasoning: 20_000_000_000_000n };
const NAME = 'demo-embedded';

describe('gateway with the embedded engine on a devnet', () => {
    let devnet: RunningDevnet;
    let dir: string;
    let ton: TonClient;
    let worker: Worker;
    let store: ClientStore;
    let gateway: FastifyInstance;
    let openai: OpenAI;

    beforeAll(async () => {
        dir = await fs.mkdtemp(join(tmpdir(), 'cocoon-client-embedded-'));
        devnet = await startDevnet({ port: 0, logLevel: 'silent' });
        const { contracts } = await deployNetworkTo(devnet.endpoint, dir);
        ton = new TonClient({ endpoint: devnet.endpoint });
        const governance = await OperatorWallet.open(ton, DEVNET_MNEMONIC.split(' '), 'v4');

        // Governance allow-lists the demo model's GGUF hash through the timelock.
        const modelPath = join(dir, 'demo.gguf');
        writeDemoModel(modelPath, { seed: 42 });
        const modelId = BigInt('0x' + (await hashModelFile(modelPath)));
        const registry = tonClientOpener(ton).open(ExtendedRegistry.fromAddress(Address.parse(contracts.registry)));
        const proposal = await registry.getNextProposalId();
        await registry.sendProposeModel(governance.sender(), modelId, NAME);
        await pollUntil(
            'the proposal',
            () => registry.getProposal(proposal),
            (p) => p !== null,
        );
        await post(`${devnet.url}/admin/advance-time`, { seconds: Number((await registry.getParams()).timelockDelay) + 1 });
        await registry.sendExecute(governance.sender(), proposal);
        await pollUntil(
            'the model to be allowed',
            () => registry.getModel(modelId),
            (m) => !!m?.enabled,
        );

        const { configFile } = await registerWorker({
            dir: join(dir, 'worker'),
            endpoint: devnet.endpoint,
            staking: contracts.staking,
            backend: { modelPath },
            prices: PRICES,
            configure: (cfg) => (cfg.backend = { ...cfg.backend, threads: 1, contextSize: 2048 }),
        });
        worker = await createWorker(loadConfig({ file: configFile, env: {} }), { logger: createLogger({ level: 'silent' }) });
        await worker.start();

        store = ClientStore.open(join(dir, 'client', 'store.db'));
        const sdk = new CocoonClient({
            opener: tonClientOpener(ton),
            staking: Address.parse(contracts.staking),
            wallet: governance.sender() as ReturnType<OperatorWallet['sender']> & { address: Address },
            channelKey: testKeys('client-embedded'),
            store,
            // A schema counts as prompt (its JSON text): structured output below needs a deposit for that.
            deposit: toNano('20'),
            topUpBelow: toNano('1'),
        });
        gateway = buildGateway({ client: sdk });
        await gateway.listen({ host: '127.0.0.1', port: 0 });
        openai = new OpenAI({ baseURL: `http://127.0.0.1:${(gateway.server.address() as { port: number }).port}/v1`, apiKey: 'none', maxRetries: 0, timeout: 120_000 });
    });

    afterAll(async () => {
        await gateway?.close();
        store?.close();
        await worker?.stop().catch(() => undefined);
        await devnet?.close();
        await fs.rm(dir, { recursive: true, force: true });
    });

    function checkReceipt(receipt: any, usage: any, cumulative: bigint) {
        const { receipt: cell, signature } = openSignedReceipt(Cell.fromBase64(receipt.boc));
        expect(verifyReceipt(cell, signature, worker.keys.receipt.publicKey)).toBe(true);
        const f = parseReceipt(cell);
        expect(f.usage).toEqual({ prompt: BigInt(usage.prompt_tokens), cached: BigInt(usage.prompt_tokens_details.cached_tokens), completion: BigInt(usage.completion_tokens), reasoning: 0n });
        expect(f.cost).toBe(receiptMaxCost(PRICES, f.usage));
        expect(f.cumulativeCost).toBe(cumulative);
        return f;
    }

    it('lists the model by its Registry name and serves a non-streaming and a streaming completion, paid per verified receipt', async () => {
        const models = await openai.models.list();
        expect(models.data.map((m) => m.id)).toContain(NAME);
        // The embedded engine's abilities and each request's context, as its worker says.
        expect(await openai.models.retrieve(NAME)).toMatchObject({
            capabilities: { chat: true, completions: true, embeddings: true, tools: true, json_schema: true, logprobs: false, vision: false },
            context_length: 2048,
        });

        const messages = [{ role: 'user' as const, content: 'Hello there.' }];
        const r: any = await openai.chat.completions.create({ model: NAME, messages, max_tokens: 24, seed: 3 });
        expect(typeof r.choices[0].message.content).toBe('string');
        expect(r.usage.completion_tokens).toBeGreaterThan(0);
        expect(r.usage.completion_tokens).toBeLessThanOrEqual(24);
        expect(r.usage.prompt_tokens).toBeGreaterThan(0);
        const f1 = checkReceipt(r.receipt, r.usage, BigInt(r.cost));
        expect(BigInt(r.cost)).toBe(f1.cost);

        const s = await openai.chat.completions.create({ model: NAME, messages, max_tokens: 24, seed: 3, stream: true });
        let text = '';
        let last: any;
        for await (const c of s) {
            text += c.choices[0]?.delta?.content ?? '';
            last = c;
        }
        expect(last.usage.completion_tokens).toBeGreaterThan(0);
        const f2 = checkReceipt(last.receipt, last.usage, f1.cost + BigInt(last.cost));
        expect(f2.channel.equals(f1.channel)).toBe(true);
        expect(text.length).toBeGreaterThan(0);
        expect(store.latestVoucher(f1.channel.toString())!.total).toBe(f2.cumulativeCost);
    });

    it('calls tools with the openai client: a demanded call, whole and streamed, its result sent back; each receipt verified and paid', async () => {
        const channel = store.channels()[0].address;
        let paid = store.latestVoucher(channel)!.total;
        const tools = [
            {
                type: 'function' as const,
                function: { name: 'get_weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 10 } }, required: ['city'] } },
            },
        ];
        const messages = [{ role: 'user' as const, content: 'Weather in Paris?' }];
        const toolChoice = { type: 'function' as const, function: { name: 'get_weather' } };
        const r: any = await openai.chat.completions.create({ model: NAME, messages, tools, tool_choice: toolChoice, max_tokens: 120, seed: 2 });
        expect(r.choices[0].finish_reason).toBe('tool_calls');
        const [call] = r.choices[0].message.tool_calls;
        expect(call).toMatchObject({ type: 'function', function: { name: 'get_weather' } });
        expect(typeof JSON.parse(call.function.arguments).city).toBe('string');
        paid += BigInt(r.cost);
        checkReceipt(r.receipt, r.usage, paid);

        const s = await openai.chat.completions.create({ model: NAME, messages, tools, tool_choice: toolChoice, max_tokens: 120, seed: 2, stream: true });
        let streamed: any;
        let last: any;
        for await (const c of s) {
            streamed ??= c.choices[0]?.delta?.tool_calls?.[0];
            last = c;
        }
        expect(streamed).toMatchObject({ index: 0, function: { name: 'get_weather' } });
        paid += BigInt(last.cost);
        checkReceipt(last.receipt, last.usage, paid);

        // The call's result goes back; the model answers (or calls again), and that is paid too.
        const answer: any = await openai.chat.completions.create({
            model: NAME,
            messages: [...messages, r.choices[0].message, { role: 'tool', tool_call_id: call.id, content: 'sunny, 21 C' }],
            tools,
            max_tokens: 8,
        });
        expect(['stop', 'length', 'tool_calls']).toContain(answer.choices[0].finish_reason);
        paid += BigInt(answer.cost);
        checkReceipt(answer.receipt, answer.usage, paid);
        expect(store.latestVoucher(channel)!.total).toBe(paid);
    });

    it('serves embeddings from the engine, paid by their prompt tokens with a verified receipt', async () => {
        const channel = store.channels()[0].address;
        const before = store.latestVoucher(channel)!.total;
        const r: any = await openai.embeddings.create({ model: NAME, input: ['Hello there.', 'Goodbye.'] });
        expect(r.data).toHaveLength(2);
        for (const d of r.data) {
            expect(d.embedding.length).toBeGreaterThan(0);
            expect(d.embedding.every((x: number) => Number.isFinite(x))).toBe(true);
        }
        expect(r.data[0].embedding).not.toEqual(r.data[1].embedding);
        const f = checkReceipt(r.receipt, { ...r.usage, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens: 0 }, before + BigInt(r.cost));
        expect(f.usage.prompt).toBeGreaterThan(0n);
        expect(store.latestVoucher(channel)!.total).toBe(f.cumulativeCost);
        // The same text embeds to the same vector.
        const again: any = await openai.embeddings.create({ model: NAME, input: 'Hello there.' });
        expect(again.data[0].embedding).toEqual(r.data[0].embedding);
    });

    it('continues a prompt (text completions), whole and streamed, paid per verified receipt', async () => {
        const channel = store.channels()[0].address;
        const before = store.latestVoucher(channel)!.total;
        const r: any = await openai.completions.create({ model: NAME, prompt: 'Once upon a time', max_tokens: 12, seed: 4 });
        expect(r.object).toBe('text_completion');
        expect(typeof r.choices[0].text).toBe('string');
        expect(r.usage.completion_tokens).toBeLessThanOrEqual(12);
        const f1 = checkReceipt(r.receipt, r.usage, before + BigInt(r.cost));
        const s = await openai.completions.create({ model: NAME, prompt: 'Once upon a time', max_tokens: 12, seed: 4, stream: true });
        let text = '';
        let last: any;
        for await (const c of s) {
            text += c.choices[0]?.text ?? '';
            last = c;
        }
        // The same seed continues the same way, streamed or not.
        expect(text).toBe(r.choices[0].text);
        const f2 = checkReceipt(last.receipt, last.usage, f1.cumulativeCost + BigInt(last.cost));
        expect(store.latestVoucher(channel)!.total).toBe(f2.cumulativeCost);
    });

    it('structured output with the openai client: beta.chat.completions.parse with a zod schema returns a validated object, paid', async () => {
        const Verdict = z.object({ ok: z.boolean(), grade: z.enum(['a', 'b', 'c']), tags: z.array(z.enum(['x', 'y'])).max(2) });
        const r: any = await openai.beta.chat.completions.parse({
            model: NAME,
            messages: [{ role: 'user', content: 'Grade this.' }],
            response_format: zodResponseFormat(Verdict, 'verdict'),
            max_tokens: 256,
            seed: 2,
        });
        const parsed = r.choices[0].message.parsed;
        expect(Verdict.parse(parsed)).toEqual(parsed);
        expect(BigInt(r.cost)).toBeGreaterThan(0n);
        const json = await openai.chat.completions.create({ model: NAME, messages: [{ role: 'user', content: 'JSON please.' }], response_format: { type: 'json_object' }, max_tokens: 256, seed: 3 });
        if (json.choices[0].finish_reason === 'stop') expect(typeof JSON.parse(json.choices[0].message.content!)).toBe('object');
        else expect(json.choices[0].message.content!.trimStart()).toMatch(/^\{/);
    });
});
