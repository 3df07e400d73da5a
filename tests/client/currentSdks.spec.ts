import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Address, Cell, toNano } from '@ton/core';
import { TonClient } from '@ton/ton';
import type { FastifyInstance } from 'fastify';
import { RunningDevnet, startDevnet } from '../../devnet/server';
import { DEVNET_MNEMONIC } from '../../wrappers/devnet';
import { openSignedReceipt, verifyReceipt } from '../../wrappers/receipt';
import { tonClientOpener } from '../../wrappers/toncenter';
import { OperatorWallet } from '../../wrappers/wallet';
import { loadConfig } from '../../worker/src/config';
import { createLogger } from '../../worker/src/log';
import { Worker, createWorker } from '../../worker/src/worker';
import { CocoonClient } from '../../client/src/client';
import { buildGateway } from '../../client/src/gateway';
import { ClientStore } from '../../client/src/store';
import { deployNetworkTo, registerWorker } from '../../scripts/local/devnetNetwork';
import { testKeys } from '../helpers/channel';
import { TOOL_CALLS, Upstream, WORDS, startUpstream } from '../worker/helpers';

/**
 * The SDKs apps call an OpenAI-compatible endpoint with today, against the
 * gateway: the official openai client at its current major (7.x; the other
 * suites use 4.x) and the Vercel AI SDK (`ai` with `@ai-sdk/openai-compatible`).
 * Both require Node.js 22 or later, so they run in a process of their own
 * (./sdks/currentSdks.mjs); CI runs this suite under Node.js 24.
 */
jest.setTimeout(300_000);

const MODEL = 'cocoon-demo';
const PRICES = { prompt: 1_000_000_000_000n, cached: 500_000_000_000n, completion: 2_000_000_000_000n, reasoning: 2_000_000_000_000n };
const nodeMajor = Number(process.versions.node.split('.')[0]);
const describeOnNode22 = nodeMajor >= 22 ? describe : describe.skip;

describeOnNode22('current SDKs (openai 7, Vercel AI SDK) against the gateway: needs Node.js 22+', () => {
    let devnet: RunningDevnet;
    let upstream: Upstream;
    let dir: string;
    let worker: Worker;
    let store: ClientStore;
    let gateway: FastifyInstance;
    let baseURL: string;

    beforeAll(async () => {
        dir = await fs.mkdtemp(join(tmpdir(), 'cocoon-sdks-'));
        devnet = await startDevnet({ port: 0, logLevel: 'silent' });
        upstream = await startUpstream();
        const { contracts } = await deployNetworkTo(devnet.endpoint, dir);
        const ton = new TonClient({ endpoint: devnet.endpoint });
        const { configFile } = await registerWorker({
            dir: join(dir, 'worker'),
            endpoint: devnet.endpoint,
            staking: contracts.staking,
            backend: { upstreamUrl: upstream.url },
            prices: PRICES,
            configure: (cfg) => (cfg.payments = { claimThreshold: toNano('100').toString(), watchIntervalMs: 2000 }),
        });
        worker = await createWorker(loadConfig({ file: configFile, env: {} }), { logger: createLogger({ level: 'silent' }) });
        await worker.start();
        const wallet = await OperatorWallet.open(ton, DEVNET_MNEMONIC.split(' '), 'v4');
        store = ClientStore.open(join(dir, 'client', 'store.db'));
        const client = new CocoonClient({
            opener: tonClientOpener(ton),
            staking: Address.parse(contracts.staking),
            wallet: wallet.sender() as ReturnType<OperatorWallet['sender']> & { address: Address },
            channelKey: testKeys('client-sdks'),
            store,
            deposit: toNano('5'),
            topUpBelow: toNano('1'),
        });
        gateway = buildGateway({ client });
        await gateway.listen({ host: '127.0.0.1', port: 0 });
        baseURL = `http://127.0.0.1:${(gateway.server.address() as { port: number }).port}/v1`;
    });

    afterAll(async () => {
        await gateway?.close();
        store?.close();
        await worker?.stop().catch(() => undefined);
        await upstream?.close();
        await devnet?.close();
        await fs.rm(dir, { recursive: true, force: true });
    });

    it('openai 7: chat whole and streamed, Responses with a function tool round trip (whole and streamed), embeddings; the AI SDK: generateText, streamText, a tool round trip, embed; every answer paid per verified receipt', async () => {
        const { stdout } = await promisify(execFile)(process.execPath, [join(__dirname, 'sdks', 'currentSdks.mjs'), baseURL, MODEL], { timeout: 120_000 });
        const out = JSON.parse(stdout.trim().split('\n').at(-1)!);
        const paid = (receipt: { boc: string }) => {
            const { receipt: cell, signature } = openSignedReceipt(Cell.fromBase64(receipt.boc));
            expect(verifyReceipt(cell, signature, worker.keys.receipt.publicKey)).toBe(true);
        };
        const words = WORDS.join('');
        expect(out.chat.text).toBe(words);
        paid(out.chat.receipt);
        expect(out.chatStream.text).toBe(words);
        paid(out.chatStream.receipt);
        expect(out.responses.calls).toEqual(TOOL_CALLS.map((c) => ({ name: c.name, arguments: c.arguments })));
        expect(out.responses.text).toBe(words);
        paid(out.responses.receipt);
        expect(out.responsesStream).toMatchObject({ first: 'response.created', last: 'response.completed', calls: TOOL_CALLS.map((c) => c.name) });
        paid(out.responsesStream.receipt);
        expect(out.embeddings).toMatchObject({ count: 2, dims: 4 });
        paid(out.embeddings.receipt);
        expect(out.aiText.text).toBe(words);
        expect(out.aiText.usage).toBeGreaterThan(0);
        expect(out.aiStream.text).toBe(words);
        // The model called both tools, the SDK ran them and sent their results, and the model answered.
        expect(out.aiTools.called).toEqual(['Paris', 'time']);
        expect(out.aiTools.steps).toBe(2);
        expect(out.aiTools.text).toBe(words);
        expect(out.aiEmbed.dims).toBe(4);
        // Every call was paid: the voucher covers every verified receipt of the channel.
        const [channel] = store.channels();
        expect(store.latestVoucher(channel.address)!.total).toBe(channel.verified);
        expect(store.receipts(channel.address)).toHaveLength(11);
    });
});
