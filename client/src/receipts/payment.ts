import { Address } from '@ton/core';
import type { ReceiptWire } from '../../../protocol/paidRequest';
import type { ReceiptFields } from '../../../wrappers/receipt';
import { signVoucher } from '../../../wrappers/voucher';
import type { ChannelSequencer } from '../channels/sequencer';
import type { VoucherPush } from '../channels/voucherPush';
import type { WorkerInfo } from '../discovery';
import type { ClientContext } from '../options';

/**
 * Pays verified receipts, live or recovered: signs the voucher for the
 * receipt's cumulative cost and records receipt, voucher and the answered
 * request together, so a receipt is never paid twice and a voucher never
 * covers an unverified one, and lets the channel's next receipt be paid.
 * The record is on disk when the returned promise resolves (a group commit
 * shared with the calls paying at the same moment); only then does the
 * voucher go to the worker. Only the verifier's result may be passed here,
 * under the channel's lock (ChannelSequencer.locked); the caller awaits the
 * promise after leaving the lock, before answering.
 */
export class ReceiptPayer {
    constructor(
        private readonly ctx: ClientContext,
        readonly sequencer: ChannelSequencer,
        private readonly vouchers: VoucherPush,
    ) {}

    pay(w: WorkerInfo, channel: string, wire: ReceiptWire, fields: ReceiptFields, attemptId: number): Promise<void> {
        const v = signVoucher(Address.parse(channel), fields.cumulativeCost, this.ctx.o.channelKey.secretKey);
        const store = this.ctx.o.store;
        store.deferred(() =>
            store.recordPayment(
                { channel, requestId: fields.requestId.toString(), boc: wire.boc, cost: fields.cost, cumulative: fields.cumulativeCost, model: w.model, receivedAt: Math.floor(Date.now() / 1000) },
                { total: v.total, signature: v.signature },
                attemptId,
            ),
        );
        // The next receipt may be paid at once: its record follows this one in the WAL, so no crash keeps it and loses this.
        this.sequencer.paid(channel);
        return store.durable().then(() => this.vouchers.push(w, channel));
    }
}
