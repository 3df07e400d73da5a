import { Address } from '@ton/core';
import { ChatCompletionRequest, PaidRequest, encodeVoucher, promptTokenBound, requestDigest, sealPaidRequest } from '../../../protocol/paidRequest';
import type { WorkerInfo } from '../discovery';
import type { ClientContext } from '../options';
import type { SentRequest } from '../receipts/rules';

export type SealedPaidRequest = Awaited<ReturnType<typeof sealPaidRequest>>;

/**
 * Seals `request` to the worker's attested X25519 key, on `channel`, with
 * the voucher that covers every receipt verified so far (the worker's
 * credit rule counts what no voucher covers). Returns the envelope with its response opener,
 * what the receipt for it will be judged against (SentRequest), and the
 * total of the voucher it carries.
 */
export async function sealRequest(ctx: ClientContext, w: WorkerInfo, channel: string, request: ChatCompletionRequest): Promise<{ sealed: SealedPaidRequest; sent: SentRequest; voucherTotal: bigint }> {
    const voucher = ctx.o.store.latestVoucher(channel);
    const paid: PaidRequest = {
        version: 1,
        channel,
        ...(voucher && voucher.total > 0n ? { voucher: encodeVoucher({ channel: Address.parse(channel), total: voucher.total, signature: voucher.signature }) } : {}),
        request,
    };
    const sealed = await sealPaidRequest(w.encryptionKey, paid);
    const sent: SentRequest = {
        requestHash: requestDigest(sealed.plaintext).toString('hex'),
        maxTokens: request.max_completion_tokens ?? request.max_tokens ?? null,
        promptBound: promptTokenBound(request),
        startedAt: ctx.now(),
    };
    return { sealed, sent, voucherTotal: voucher?.total ?? 0n };
}
