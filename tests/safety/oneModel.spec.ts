import '@ton/test-utils';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cell, toNano } from '@ton/core';
import { SandboxContract } from '@ton/sandbox';
import { RefusalCode, modelIdOf } from '../../protocol/paidRequest';
import { ExitCode } from '../../wrappers/exitCodes';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { DEV_MODEL_ID } from '../../wrappers/devnet';
import { makeSignedReceipt, openSignedReceipt, parseReceipt } from '../../wrappers/receipt';
import type { Worker } from '../../worker/src/worker';
import { openChannel } from '../helpers/channel';
import { ServingFixture, deployServing } from '../helpers/serving';
import { Upstream, WORDS, callWorker, chatBody, startSandboxWorker, startUpstream } from '../worker/helpers';

jest.setTimeout(60_000);

/**
 * Property: a worker serves exactly the model its WorkerStake is attested
 * for. A request for any other model (a multi-model upstream, a `modelMap`
 * with several entries) is refused before anything is served or signed, so
 * nothing the worker signs can prove it served the wrong model
 * (ProveWrongModel).
 */
describe('oneModel', () => {
    let f: ServingFixture;
    let channel: SandboxContract<ExtendedPaymentChannel>;
    let upstream: Upstream;
    let worker: Worker;
    let encKey: Buffer;
    let dir: string;
    const OTHER = 'other-model';

    const call = (model: string, stream = false) => callWorker(worker.url, encKey, { version: 1, channel: channel.address.toString(), request: chatBody({ model, stream }) });
    const stored = () => worker.store.receiptsOf(channel.address.toString());

    beforeAll(async () => {
        f = await deployServing();
        expect(f.modelId).toBe(DEV_MODEL_ID);
        ({ channel } = await openChannel(f, { nonce: 1n, deposit: toNano('10') }));
        upstream = await startUpstream();
        dir = mkdtempSync(join(tmpdir(), 'cocoon-one-model-'));
        ({ worker, encryptionKey: encKey } = await startSandboxWorker({
            blockchain: f.blockchain,
            operator: f.operator,
            workerStake: f.workerStake.address,
            workerKeys: f.workerKeys,
            // A multi-model upstream: two models mapped, only the first attested on chain.
            backend: { kind: 'openai', baseUrl: upstream.url, modelMap: { 'cocoon-demo': 'llama-3-8b', [OTHER]: 'mistral-7b' } },
            prices: f.prices,
            dir,
            overrides: { payments: { claimThreshold: '1000000000000', watchIntervalMs: 3_600_000, creditLimit: '1000000000000' } },
        }));
    });

    afterAll(async () => {
        await worker?.stop();
        await upstream?.close();
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('refuses a request for a model the WorkerStake is not attested for with 404 model_not_attested: nothing served, reserved or signed', async () => {
        // The upstream does serve it: the refusal is the worker's, not the backend's.
        const models = (await (await fetch(`${worker.url}/v1/models`)).json()) as any;
        expect(models.data.map((m: any) => m.id).sort()).toEqual(['cocoon-demo', OTHER]);
        for (const [model, stream] of [
            [OTHER, false],
            [OTHER, true],
            ['mistral-7b', false],
        ] as const) {
            const r = await call(model, stream);
            expect(r.status).toBe(404);
            expect(r.error!.code).toBe(RefusalCode.ModelNotAttested);
            expect(r.error!.message).toContain(DEV_MODEL_ID.toString(16).padStart(64, '0'));
        }
        expect(upstream.requests).toHaveLength(0);
        expect(stored()).toHaveLength(0);
        expect(worker.store.receiptTotal(channel.address.toString())).toBe(0n);
        expect(worker.payments.pending).toBe(0);
    });

    it('serves the attested model with a receipt naming it', async () => {
        for (const stream of [false, true]) {
            const r = await call('cocoon-demo', stream);
            expect(r.status).toBe(200);
            const text = stream
                ? r.frames
                      .filter((x) => !x.final)
                      .map((x) => x.json.choices[0].delta.content)
                      .join('')
                : r.final.choices[0].message.content;
            expect(text).toBe(WORDS.join(''));
            const { receipt } = openSignedReceipt(Cell.fromBase64(r.final.receipt.boc));
            expect(parseReceipt(receipt).modelId).toBe(DEV_MODEL_ID);
        }
        expect(upstream.requests.map((b) => b.model)).toEqual(['llama-3-8b', 'llama-3-8b']);
        expect(stored()).toHaveLength(2);
        expect(worker.payments.pending).toBe(0);
    });

    it('settles only the model it admitted', async () => {
        const a = await worker.payments.admit({ channel: channel.address.toString(), promptBound: 100, maxTokens: 10, modelId: DEV_MODEL_ID });
        const usage = { promptTokens: 10, cachedTokens: 0, completionTokens: 5, reasoningTokens: 0, estimated: false };
        await expect(worker.payments.settle(a, { modelId: modelIdOf(OTHER), usage, requestHash: Buffer.alloc(32), responseHash: Buffer.alloc(32) })).rejects.toThrow(/admitted for/);
        worker.payments.release(a);
        expect(stored()).toHaveLength(2);
        expect(worker.payments.pending).toBe(0);
    });

    it('leaves no evidence for ProveWrongModel: every stored receipt names the attested model and the proof fails on each', async () => {
        const receipts = stored();
        expect(receipts.length).toBeGreaterThan(0);
        const stakeBefore = await f.workerStake.getStake();
        for (const rec of receipts) {
            expect(BigInt('0x' + rec.modelId)).toBe(DEV_MODEL_ID);
            const evidence = Cell.fromBoc(rec.boc)[0];
            expect(parseReceipt(openSignedReceipt(evidence).receipt).modelId).toBe(DEV_MODEL_ID);
            const r = await f.workerStake.sendProveWrongModel(f.stranger.getSender(), evidence);
            expect(r.transactions).toHaveTransaction({ to: f.workerStake.address, success: false, exitCode: ExitCode.ERR_WS_MODEL_MATCHES });
        }
        expect(await f.workerStake.getStake()).toBe(stakeBefore);

        // What serving the other model would have signed (the daemon before the fix served any mapped model) slashes.
        const served = parseReceipt(openSignedReceipt(Cell.fromBoc(receipts[0].boc)[0]).receipt);
        const before = f.blockchain.snapshot();
        const wrong = makeSignedReceipt({ ...served, requestId: served.requestId + 1n, modelId: modelIdOf(OTHER) }, f.workerKeys.secretKey).evidence;
        const slashed = await f.workerStake.sendProveWrongModel(f.stranger.getSender(), wrong);
        expect(slashed.transactions).toHaveTransaction({ to: f.workerStake.address, success: true });
        expect(await f.workerStake.getStake()).toBe(stakeBefore - (stakeBefore * f.params.slashFractionBps) / 10_000n);
        await f.blockchain.loadFrom(before);
    });
});
