import '@ton/test-utils';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, Cell, toNano } from '@ton/core';
import { SandboxContract } from '@ton/sandbox';
import { ExitCode } from '../../wrappers/exitCodes';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { ReceiptFields, makeSignedReceipt, openSignedReceipt, parseReceipt } from '../../wrappers/receipt';
import { Payments } from '../../worker/src/payments';
import { WorkerStore } from '../../worker/src/store/store';
import { openChannel, testKeys } from '../helpers/channel';
import { ServingFixture, daemonPayments, deployServing } from '../helpers/serving';
import { startSandboxWorker } from '../worker/helpers';

jest.setTimeout(60_000);

/**
 * Property: equivocation evidence (two receipts with one request id,
 * ProveEquivocation) cannot be manufactured from an honest worker's
 * receipts: not by recreating or restoring its store, not by a standby
 * instance with the same key, not from receipts of two different channels.
 */
describe('requestIds', () => {
    let f: ServingFixture;
    let channel: SandboxContract<ExtendedPaymentChannel>;
    let second: SandboxContract<ExtendedPaymentChannel>;
    let dir: string;
    const stores: WorkerStore[] = [];

    beforeAll(async () => {
        f = await deployServing();
        ({ channel } = await openChannel(f, { nonce: 1n, deposit: toNano('10') }));
        ({ channel: second } = await openChannel(f, { nonce: 2n, deposit: toNano('10') }));
        dir = mkdtempSync(join(tmpdir(), 'cocoon-request-ids-'));
    });

    afterAll(() => {
        for (const s of stores) s.close();
        rmSync(dir, { recursive: true, force: true });
    });

    const open = (name: string) => {
        const s = WorkerStore.open(join(dir, name));
        stores.push(s);
        return s;
    };

    /** A worker instance: the daemon's Payments with the worker key over `store`. */
    const payments = (store: WorkerStore) => daemonPayments(f, { store }).payments;

    /** Serves `n` requests on `channel` and returns their signed receipts. */
    async function serve(p: Payments, n: number): Promise<Cell[]> {
        const out: Cell[] = [];
        for (let i = 0; i < n; i++) {
            const a = await p.admit({ channel: channel.address.toString(), promptBound: 200, maxTokens: 20, modelId: f.modelId });
            const r = await p.settle(a, {
                modelId: f.modelId,
                usage: { promptTokens: 11 + i, cachedTokens: 0, completionTokens: 5, reasoningTokens: 0, estimated: false },
                requestHash: Buffer.alloc(32, i),
                responseHash: Buffer.alloc(32, i + 1),
            });
            out.push(Cell.fromBase64(r!.boc));
        }
        return out;
    }

    const fields = (evidence: Cell) => parseReceipt(openSignedReceipt(evidence).receipt);

    it('no two receipts share a request id across a recreated store, a restored backup and a standby instance, so ProveEquivocation has nothing to prove', async () => {
        const receipts: Cell[] = [];
        // The worker's store: three requests, a backup, two more.
        let a = open('a.db');
        receipts.push(...(await serve(payments(a), 3)));
        a.close();
        copyFileSync(join(dir, 'a.db'), join(dir, 'a-backup.db'));
        a = open('a.db');
        receipts.push(...(await serve(payments(a), 2)));
        // The store lost and recreated empty.
        receipts.push(...(await serve(payments(open('b.db')), 5)));
        // The backup restored (it does not know the last two requests).
        receipts.push(...(await serve(payments(open('a-backup.db')), 5)));
        // A standby instance with the same key and a store of its own.
        receipts.push(...(await serve(payments(open('standby.db')), 5)));
        expect(receipts).toHaveLength(20);

        const all = receipts.map(fields);
        for (const r of all) {
            expect(r.channel.equals(channel.address)).toBe(true);
            expect(r.workerStake.equals(f.workerStake.address)).toBe(true);
        }
        // Every receipt is the worker's own and on one channel: only a shared request id would slash.
        expect(new Set(all.map((r) => r.requestId)).size).toBe(all.length);

        const stake = await f.workerStake.getStake();
        for (let i = 0; i < receipts.length; i++)
            for (let j = i + 1; j < receipts.length; j++) {
                if (all[i].requestId !== all[j].requestId) continue;
                const r = await f.workerStake.sendProveEquivocation(f.stranger.getSender(), receipts[i], receipts[j]);
                expect(r.transactions).toHaveTransaction({ to: f.workerStake.address, success: false });
            }
        // The pairs a per-store counter would have given one id (1 in the worker's, the recreated and the standby
        // store; 4 and 5 again in the restored backup) prove nothing.
        for (const [i, j] of [
            [0, 5],
            [0, 15],
            [3, 10],
            [4, 11],
        ]) {
            const r = await f.workerStake.sendProveEquivocation(f.stranger.getSender(), receipts[i], receipts[j]);
            expect(r.transactions).toHaveTransaction({ to: f.workerStake.address, success: false, exitCode: ExitCode.ERR_WS_DIFFERENT_REQUESTS });
        }
        expect(await f.workerStake.getStake()).toBe(stake);
    });

    it('two receipts of two channels with one request id prove nothing (ERR_WS_DIFFERENT_CHANNELS); the same pair on one channel still slashes', async () => {
        // What a per-store counter produces: request id 1 on each channel.
        const base = (ch: Address, cost: bigint): ReceiptFields => ({
            workerStake: f.workerStake.address,
            channel: ch,
            requestId: 1n,
            modelId: f.modelId,
            usage: { prompt: 11n, cached: 0n, completion: 5n, reasoning: 0n },
            cost,
            cumulativeCost: cost,
            time: BigInt(f.blockchain.now!),
            requestHash: 1n,
            responseHash: 2n,
        });
        const sign = (r: ReceiptFields) => makeSignedReceipt(r, f.workerKeys.secretKey).evidence;
        const onFirst = sign(base(channel.address, 21_000_000n));
        const onSecond = sign(base(second.address, 22_000_000n));
        const stake = await f.workerStake.getStake();
        for (const [x, y] of [
            [onFirst, onSecond],
            [onSecond, onFirst],
        ]) {
            const r = await f.workerStake.sendProveEquivocation(f.stranger.getSender(), x, y);
            expect(r.transactions).toHaveTransaction({ to: f.workerStake.address, success: false, exitCode: ExitCode.ERR_WS_DIFFERENT_CHANNELS });
        }
        expect(await f.workerStake.getStake()).toBe(stake);

        // The proof itself still works: two different receipts with one id on one channel slash.
        const before = f.blockchain.snapshot();
        const twin = sign(base(channel.address, 22_000_000n));
        const r = await f.workerStake.sendProveEquivocation(f.stranger.getSender(), onFirst, twin);
        expect(r.transactions).toHaveTransaction({ to: f.workerStake.address, success: true });
        expect(await f.workerStake.getStake()).toBe(stake - (stake * f.params.slashFractionBps) / 10_000n);
        await f.blockchain.loadFrom(before);
    });

    it('a worker refuses to start on a store bound to another worker key', async () => {
        const path = join(dir, 'bound');
        const s = WorkerStore.open(join(path, 'store.db'));
        s.bindWorkerKey(f.workerKeys.publicKey.toString('hex'));
        // Binding again with the same key is fine (a restart).
        s.bindWorkerKey(f.workerKeys.publicKey.toString('hex'));
        s.close();
        const other = testKeys('another-worker');
        await expect(
            startSandboxWorker({
                blockchain: f.blockchain,
                operator: f.operator,
                workerStake: f.workerStake.address,
                workerKeys: other,
                backend: { kind: 'openai', baseUrl: 'http://127.0.0.1:1', modelMap: { 'cocoon-demo': 'm' } },
                prices: f.prices,
                dir: path,
            }),
        ).rejects.toThrow(`this store belongs to worker key ${f.workerKeys.publicKey.toString('hex')}, not ${other.publicKey.toString('hex')}`);
        // The store is untouched and still this worker's.
        const again = WorkerStore.open(join(path, 'store.db'));
        expect(() => again.bindWorkerKey(other.publicKey.toString('hex'))).toThrow(/belongs to worker key/);
        again.close();
    });
});
