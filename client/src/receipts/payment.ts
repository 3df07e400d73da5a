import { Address } from '@ton/core';
import type { ReceiptWire } from '../../../protocol/paidRequest';
import type { ReceiptFields } from '../../../wrappers/receipt';
import { signVoucher } from '../../../wrappers/voucher';
import type { WorkerInfo } from '../discovery';
import type { ClientContext } from '../options';

/**
 * Pays a verified receipt, live or recovered: signs the voucher for its
 * cumulative cost and records receipt, voucher and the answered request
 * together, so a receipt is never paid twice and a voucher never covers an
 * unverified one. Only the verifier's result may be passed here.
 */
export function payReceipt(ctx: ClientContext, w: WorkerInfo, channel: string, wire: ReceiptWire, fields: ReceiptFields, attemptId: number): void {
    const v = signVoucher(Address.parse(channel), fields.cumulativeCost, ctx.o.channelKey.secretKey);
    ctx.o.store.recordPayment(
        { channel, requestId: fields.requestId.toString(), boc: wire.boc, cost: fields.cost, cumulative: fields.cumulativeCost, model: w.model, receivedAt: Math.floor(Date.now() / 1000) },
        { total: v.total, signature: v.signature },
        attemptId,
    );
}
