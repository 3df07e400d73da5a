import '@ton/test-utils';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toNano } from '@ton/core';
import { SandboxContract } from '@ton/sandbox';
import { RefusalCode } from '../../protocol/paidRequest';
import { ChannelStatus, ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { signVoucher } from '../../wrappers/voucher';
import { ChainView } from '../../worker/src/chain';
import { CooperativeClose } from '../../worker/src/cooperativeClose';
import { PaymentError } from '../../worker/src/payments';
import { WorkerStore } from '../../worker/src/store/store';
import { EscrowFixture, deployEscrow, openChannel, testKeys } from '../helpers/channel';
import { Opcode } from '../../wrappers/opcodes';
import { sandboxOpener } from './helpers';

/**
 * The worker's co-signature of a final voucher (worker/src/cooperativeClose.ts),
 * checked against the real PaymentChannel: what it signs closes the channel
 * on chain; what it must refuse, it refuses with a named code and keeps
 * nothing it should not.
 */
describe('cooperative close: the worker co-signs a final voucher', () => {
    let f: EscrowFixture;
    let channel: SandboxContract<ExtendedPaymentChannel>;
    let store: WorkerStore;
    let dir: string;
    let closer: CooperativeClose;
    const busy = new Set<string>();
    const receipts = [toNano('0.3'), toNano('0.2')];
    const owed = receipts[0] + receipts[1];

    beforeAll(async () => {
        f = await deployEscrow();
        ({ channel } = await openChannel(f, { nonce: 7n, deposit: toNano('5') }));
        dir = mkdtempSync(join(tmpdir(), 'cocoon-coop-close-'));
        store = WorkerStore.open(join(dir, 'store.db'));
        // Two receipts the worker signed on this channel (their content does not matter here, their totals do).
        let cumulative = 0n;
        receipts.forEach((cost, i) => {
            cumulative += cost;
            store.appendReceipt({
                channel: channel.address.toString(),
                requestId: String(i + 1),
                boc: Buffer.from('receipt'),
                modelId: '00'.repeat(32),
                promptTokens: 1,
                cachedTokens: 0,
                completionTokens: 1,
                reasoningTokens: 0,
                cost,
                cumulative,
                createdAt: 1,
                requestHash: '00'.repeat(32),
                responseHash: '00'.repeat(32),
            });
        });
        closer = new CooperativeClose({
            store,
            chain: new ChainView(sandboxOpener(f.blockchain), 0),
            workerStake: f.workerStake.address,
            receiptKey: f.workerKeys,
            inFlight: (key) => busy.has(key),
        });
    });

    afterAll(() => {
        store.close();
        rmSync(dir, { recursive: true, force: true });
    });

    const ask = (total: bigint, key = f.clientKeys.secretKey, address = channel.address) =>
        closer.approve({ channel: address.toString(), body: { total: total.toString(), signature: signVoucher(address, total, key).signature.toString('hex') } });

    async function refused(p: Promise<unknown>, status: number, code: string) {
        const e = await p.then(
            () => undefined,
            (x) => x,
        );
        expect(e).toBeInstanceOf(PaymentError);
        expect(e).toMatchObject({ status, code });
    }

    it('refuses malformed input with 400', async () => {
        await refused(closer.approve({ channel: 'nope', body: {} }), 400, RefusalCode.BadRequest);
        await refused(closer.approve({ channel: channel.address.toString(), body: { total: 5, signature: 'ab' } }), 400, RefusalCode.BadRequest);
        await refused(closer.approve({ channel: channel.address.toString(), body: { total: '-1', signature: 'ab'.repeat(64) } }), 400, RefusalCode.BadRequest);
        await refused(closer.approve({ channel: channel.address.toString(), body: { total: '1', signature: 'zz'.repeat(64) } }), 400, RefusalCode.BadRequest);
        await refused(closer.approve({ channel: channel.address.toString(), body: null }), 400, RefusalCode.BadRequest);
    });

    it('refuses a voucher not signed by the channel client key, an unknown channel, and another worker', async () => {
        await refused(ask(owed, testKeys('someone-else').secretKey), 401, RefusalCode.BadVoucher);
        await refused(ask(owed, f.clientKeys.secretKey, f.escrow.address), 404, RefusalCode.UnknownChannel);
        const other = new CooperativeClose({
            store,
            chain: new ChainView(sandboxOpener(f.blockchain), 0),
            workerStake: f.workerStake.address,
            receiptKey: testKeys('another-worker'),
            inFlight: () => false,
        });
        await refused(
            other.approve({ channel: channel.address.toString(), body: { total: owed.toString(), signature: signVoucher(channel.address, owed, f.clientKeys.secretKey).signature.toString('hex') } }),
            403,
            RefusalCode.WrongWorker,
        );
    });

    it('refuses a final total below the receipts it signed, and while a request is in flight', async () => {
        await refused(ask(owed - 1n), 409, RefusalCode.StaleVoucher);
        busy.add(channel.address.toString());
        await refused(ask(owed), 409, RefusalCode.RequestInFlight);
        busy.clear();
        // Nothing was stored for the refused asks, and the channel still serves.
        expect(store.latestVoucher(channel.address.toString())).toBeUndefined();
        expect(store.channelState(channel.address.toString())).toBe('open');
    });

    it('co-signs a total covering every receipt: stored first, no more service, and the channel closes on chain at once', async () => {
        const answer = await ask(owed);
        expect(answer.total).toBe(owed.toString());
        expect(store.latestVoucher(channel.address.toString())!.total).toBe(owed);
        expect(store.channelState(channel.address.toString())).toBe('closing');

        const clientBefore = await f.client.getBalance();
        const voucher = signVoucher(channel.address, owed, f.clientKeys.secretKey);
        const r = await channel.sendCooperativeClose(f.client.getSender(), voucher, Buffer.from(answer.signature, 'hex'));
        expect(r.transactions).toHaveTransaction({ to: channel.address, success: true });
        // The worker's share goes straight to the WorkerStake's owner.
        expect(r.transactions).toHaveTransaction({ from: channel.address, to: f.workerOwner.address, op: Opcode.WorkerPaid, success: true });
        const st = await channel.getState();
        expect(st.status).toBe(ChannelStatus.Closed);
        expect(st.paid).toBe(owed);
        expect(st.refunded).toBe(toNano('5') - owed);
        expect(await f.client.getBalance()).toBeGreaterThan(clientBefore);
        // Replayed, the approval changes nothing: the channel is closed.
        await refused(ask(owed), 409, RefusalCode.ChannelNotOpen);
    });
});
