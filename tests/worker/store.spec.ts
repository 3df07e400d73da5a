import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReceiptRecord, StoreError, WorkerStore } from '../../worker/src/store/store';

jest.setTimeout(120_000);

let dir: string;
beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function receipt(channel: string, n: number, cost: bigint, cumulative: bigint): ReceiptRecord {
    return {
        channel,
        requestId: `${channel}-r${n}`,
        boc: Buffer.from(`boc-${n}`),
        modelId: 'model',
        promptTokens: 10,
        cachedTokens: 2,
        completionTokens: 20,
        reasoningTokens: 1,
        cost,
        cumulative,
        createdAt: 1_700_000_000 + n,
        requestHash: 'aa'.repeat(32),
        responseHash: 'bb'.repeat(32),
    };
}
const sig = (b: number) => Buffer.alloc(64, b);

describe('worker store', () => {
    it('is durable: WAL with synchronous FULL', () => {
        const s = WorkerStore.open(join(dir, 'w.db'));
        expect(s.pragma('journal_mode')).toBe('wal');
        expect(Number(s.pragma('synchronous'))).toBe(2); // FULL
        let cum = 0n;
        for (let i = 0; i < 200; i++) {
            cum += 10n;
            s.appendReceipt(receipt('A', i, 10n, cum), { channel: 'A', total: cum, signature: sig(1), receivedAt: i });
        }

        s.close();
    });

    it('appends receipts with vouchers, keeps the newest voucher, and survives reopen', () => {
        const path = join(dir, 'w.db');
        let s = WorkerStore.open(path);
        expect(s.appendReceipt(receipt('A', 1, 100n, 100n), { channel: 'A', total: 0n + 100n, signature: sig(1), receivedAt: 1 })).toEqual({ voucherAccepted: true });
        expect(s.appendReceipt(receipt('A', 2, 50n, 150n))).toEqual({ voucherAccepted: false });
        // An older voucher arriving late is ignored, not an error.
        expect(s.appendReceipt(receipt('A', 3, 25n, 175n), { channel: 'A', total: 90n, signature: sig(9), receivedAt: 3 })).toEqual({ voucherAccepted: false });
        expect(s.recordVoucher({ channel: 'A', total: 150n, signature: sig(2), receivedAt: 4 })).toEqual({ voucherAccepted: true });
        s.appendReceipt(receipt('B', 1, 7n, 7n));
        s.close();

        s = WorkerStore.open(path);
        expect(s.latestVoucher('A')).toEqual({ channel: 'A', total: 150n, signature: sig(2), receivedAt: 4 });
        expect(s.latestVoucher('B')).toBeUndefined();
        expect(s.unclaimed('A')).toBe(150n);
        const a = s.channel('A')!;
        expect(a).toMatchObject({ receiptTotal: 175n, voucherTotal: 150n, unpaid: 25n, unclaimed: 150n, receipts: 3, state: 'open' });
        expect(s.receiptsOf('A').map((r) => r.cumulative)).toEqual([100n, 150n, 175n]);
        expect(s.receipt('A-r2')).toMatchObject({ cost: 50n, boc: Buffer.from('boc-2'), cachedTokens: 2 });
        expect([...s.channels()].map((c) => c.address)).toEqual(['A', 'B']);
        s.close();
    });

    it('refuses receipts that break the cumulative chain or repeat a request id, atomically', () => {
        const s = WorkerStore.open(join(dir, 'w.db'));
        s.appendReceipt(receipt('A', 1, 100n, 100n));
        expect(() => s.appendReceipt(receipt('A', 2, 10n, 120n))).toThrow(StoreError); // gap
        expect(() => s.appendReceipt(receipt('A', 2, 10n, 100n))).toThrow(StoreError); // overlap
        expect(() => s.appendReceipt(receipt('A', 1, 10n, 110n))).toThrow(/duplicate/); // same request id
        // A refused receipt leaves its voucher unwritten too.
        expect(() => s.appendReceipt(receipt('A', 3, 10n, 999n), { channel: 'A', total: 999n, signature: sig(3), receivedAt: 1 })).toThrow(StoreError);
        expect(s.latestVoucher('A')).toBeUndefined();
        expect(() => s.appendReceipt(receipt('A', 4, -1n, 99n))).toThrow(/out of range/);
        expect(() => s.appendReceipt(receipt('A', 4, 1n << 63n, 1n << 63n))).toThrow(/out of range/);
        expect(() => s.recordVoucher({ channel: 'A', total: 5n, signature: Buffer.alloc(10), receivedAt: 1 })).toThrow(/64 bytes/);
        expect(() => s.appendReceipt(receipt('A', 5, 1n, 101n), { channel: 'B', total: 1n, signature: sig(1), receivedAt: 1 })).toThrow(/different channels/);
        expect(s.channel('A')!.receipts).toBe(1);
        s.close();
    });

    it('marks claims idempotently by cumulative total and tracks channel state', () => {
        const s = WorkerStore.open(join(dir, 'w.db'));
        s.appendReceipt(receipt('A', 1, 300n, 300n), { channel: 'A', total: 300n, signature: sig(1), receivedAt: 1 });
        expect(s.markClaimed('A', 200n, 'tx1')).toEqual({ changed: true });
        expect(s.unclaimed('A')).toBe(100n);
        expect(s.markClaimed('A', 200n, 'tx1')).toEqual({ changed: false });
        expect(s.markClaimed('A', 150n, 'old')).toEqual({ changed: false });
        expect(s.markClaimed('A', 300n, 'tx2')).toEqual({ changed: true });
        expect(s.unclaimed('A')).toBe(0n);
        s.setChannelState('A', 'closing', 1_800_000_000);
        expect(s.channel('A')).toMatchObject({ state: 'closing', closeDeadline: 1_800_000_000, claimedTotal: 300n });
        s.close();
    });

    it('loses no acknowledged write and tears no record when killed with SIGKILL mid-loop', async () => {
        const path = join(dir, 'crash.db');
        const channels = 3;
        let start = 0;
        let lastAck = -1;
        for (let round = 0; round < 3; round++) {
            const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, 'fixtures/storeWriter.ts'), path, String(channels), String(start)], {
                stdio: ['ignore', 'pipe', 'inherit'],
            });
            let buf = '';
            const target = start + 150 + round * 37;
            await new Promise<void>((resolve) => {
                child.stdout.on('data', (d: Buffer) => {
                    buf += d.toString();
                    const lines = buf.split('\n');
                    buf = lines.pop()!;
                    for (const l of lines) {
                        const n = Number(l.slice(4));
                        if (n > lastAck) lastAck = n;
                    }
                    // Kill while it is writing: it has already started the next transaction.
                    if (lastAck >= target && child.exitCode === null) child.kill('SIGKILL');
                });
                child.on('exit', () => resolve());
            });
            expect(child.signalCode).toBe('SIGKILL');

            const s = WorkerStore.open(path);
            expect(s.integrityCheck()).toBe('ok');
            const all = s.listChannels();
            let total = 0;
            for (const c of all) {
                const rs = s.receiptsOf(c.address);
                total += rs.length;
                // Every receipt whole and the chain unbroken; the voucher written with the last one is there.
                let cum = 0n;
                for (const r of rs) {
                    const n = Number(r.requestId.slice(4));
                    expect(r.boc.length).toBe(3000 + (n % 5) * 500);
                    expect(r.boc.every((b) => b === (n & 0xff))).toBe(true);
                    cum += r.cost;
                    expect(r.cumulative).toBe(cum);
                }
                expect(s.latestVoucher(c.address)?.total).toBe(cum);
            }
            // Every acknowledged write is present (one more may have committed before the kill landed).
            // A few more may have committed between the last ack we read and the kill;
            // either way the stored requests are exactly 0..total-1, with no hole.
            expect(total).toBeGreaterThanOrEqual(lastAck + 1);
            for (let n = 0; n < total; n++) expect(s.receipt(`req-${n}`)).toBeDefined();
            expect(s.receipt(`req-${total}`)).toBeUndefined();
            start = total;
            s.close();
        }
    });
});
