import { Address } from '@ton/core';
import { sealRequest as sealEnvelope } from '../../../helpers/hpke';
import { PROTOCOL_VERSION, encodeVoucher, requestDigest } from '../../../protocol/paidRequest';
import type { WorkerInfo } from '../discovery';
import { PaidOperation, operationBounds, operationEnvelope } from '../operation';
import type { ClientContext } from '../options';
import type { SentRequest } from '../receipts/rules';

export type SealedPaidRequest = Awaited<ReturnType<typeof sealEnvelope>> & { plaintext: Buffer };

/**
 * Seals `op` to the worker's attested X25519 key, on `channel`, with
 * the voucher that covers every receipt verified so far (the worker's
 * credit rule counts what no voucher covers). Returns the envelope with its response opener,
 * what the receipt for it will be judged against (SentRequest), and the
 * total of the voucher it carries.
 */
export async function sealRequest(ctx: ClientContext, w: WorkerInfo, channel: string, op: PaidOperation): Promise<{ sealed: SealedPaidRequest; sent: SentRequest; voucherTotal: bigint }> {
    const voucher = ctx.o.store.latestVoucher(channel);
    const paid = {
        version: PROTOCOL_VERSION,
        channel,
        ...(voucher && voucher.total > 0n ? { voucher: encodeVoucher({ channel: Address.parse(channel), total: voucher.total, signature: voucher.signature }) } : {}),
        ...operationEnvelope(op),
    };
    const plaintext = Buffer.from(JSON.stringify(paid), 'utf8');
    const sealed = { ...(await sealEnvelope(w.encryptionKey, plaintext)), plaintext };
    const sent: SentRequest = {
        requestHash: requestDigest(plaintext).toString('hex'),
        ...operationBounds(op),
        startedAt: ctx.now(),
    };
    return { sealed, sent, voucherTotal: voucher?.total ?? 0n };
}
