import '@ton/test-utils';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cell, toNano } from '@ton/core';
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { modelIdOf } from '../../protocol/paidRequest';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { openSignedReceipt, parseReceipt, receiptMaxCost, verifyReceipt } from '../../wrappers/receipt';
import { writeDemoModel } from '../../worker/src/inference/demoModel';
import { hashModelFile } from '../../worker/src/inference/modelHash';
import type { Worker } from '../../worker/src/worker';
import { openChannel } from '../helpers/channel';
import { ServingFixture, deployServing } from '../helpers/serving';
import { callWorker, startSandboxWorker } from './helpers';

// node-llama-cpp loads the generated model in a child process.
jest.setTimeout(180_000);

const PRICES = { prompt: 1_000_000_000_000n, cached: 500_000_000_000n, completion: 2_000_000_000_000n, reasoning: 2_000_000_000_000n };

describe('worker HTTP API with the embedded engine on a generated model', () => {
    let f: ServingFixture;
    let channel: SandboxContract<ExtendedPaymentChannel>;
    let operator: SandboxContract<TreasuryContract>;
    let worker: Worker;
    let encKey: Buffer;
    let dir: string;
    let modelId: string;

    beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-worker-embedded-'));
        const modelPath = join(dir, 'demo.gguf');
        writeDemoModel(modelPath, { seed: 42 });
        modelId = await hashModelFile(modelPath);
        // The WorkerStake is attested for the model file's hash, the id the embedded engine serves under.
        f = await deployServing({ prices: PRICES, modelId: modelIdOf(modelId) });
        ({ channel } = await openChannel(f, { nonce: 1n, deposit: toNano('10') }));
        operator = await f.blockchain.treasury('operator');
        ({ worker, encryptionKey: encKey } = await startSandboxWorker({
            blockchain: f.blockchain,
            operator,
            workerStake: f.workerStake.address,
            workerKeys: f.workerKeys,
            backend: { kind: 'embedded', modelPath, alias: 'demo', threads: 1, contextSize: 1024 },
            prices: PRICES,
            dir,
        }));
    });

    afterAll(async () => {
        await worker?.stop();
        rmSync(dir, { recursive: true, force: true });
    });

    const ask = (stream: boolean) =>
        callWorker(worker.url, encKey, {
            version: 1,
            channel: channel.address.toString(),
            request: { model: 'demo', messages: [{ role: 'user', content: 'Hello there.' }], max_tokens: 24, seed: 3, temperature: 0.7, stream },
        });

    it('lists the model by its file hash', async () => {
        const models = (await (await fetch(`${worker.url}/v1/models`)).json()) as any;
        expect(models.data[0].id).toBe(modelId);
        expect(models.data[0].aliases).toContain('demo');
    });

    it('serves streaming and non-streaming requests; receipts carry the engine token counts and the file hash as model id', async () => {
        let cumulative = 0n;
        for (const stream of [true, false]) {
            const r = await ask(stream);
            expect(r.status).toBe(200);
            const u = r.final.usage;
            expect(u.prompt_tokens).toBeGreaterThan(0);
            expect(u.completion_tokens).toBeGreaterThan(0);
            expect(u.completion_tokens).toBeLessThanOrEqual(24);
            expect(u.estimated).toBe(false);
            const text = stream
                ? r.frames
                      .filter((x) => !x.final)
                      .map((x) => x.json.choices[0].delta.content ?? '')
                      .join('')
                : r.final.choices[0].message.content;
            expect(text.length).toBeGreaterThan(0);
            const { receipt, signature } = openSignedReceipt(Cell.fromBase64(r.final.receipt.boc));
            expect(verifyReceipt(receipt, signature, f.workerKeys.publicKey)).toBe(true);
            const fields = parseReceipt(receipt);
            expect(fields.modelId).toBe(modelIdOf(modelId));
            expect(fields.usage.prompt).toBe(BigInt(u.prompt_tokens));
            expect(fields.usage.completion).toBe(BigInt(u.completion_tokens));
            expect(fields.cost).toBe(receiptMaxCost(PRICES, fields.usage));
            expect(fields.cumulativeCost).toBe(cumulative + fields.cost);
            cumulative = fields.cumulativeCost;
        }
        expect(worker.store.receiptTotal(channel.address.toString())).toBe(cumulative);
    });
});
