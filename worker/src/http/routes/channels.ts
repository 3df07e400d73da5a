import type { FastifyInstance } from 'fastify';
import { RECEIPTS_SIGNATURE_HEADER, RECEIPTS_TIMESTAMP_HEADER } from '../../../../protocol/paidRequest';
import { CooperativeClose, parseCloseRequest } from '../../cooperativeClose';
import { parseChannelVoucher } from '../../channelVoucher';
import type { Payments } from '../../payments';
import { parseReceiptsQuery } from '../../receiptRecovery';
import { Refusal } from '../../refusal';

/** The endpoints about one payment channel; each parses its input here, before the worker acts on it. */

export interface ChannelRouteDeps {
    payments: Payments;
    /** Co-signs final vouchers; absent, the close route answers 501. */
    cooperativeClose?: CooperativeClose;
}

export function registerChannelRoutes(app: FastifyInstance, deps: ChannelRouteDeps): void {
    // Receipt recovery: a client that lost a final frame reads the receipts it is missing (worker/src/receiptRecovery.ts).
    app.get<{ Params: { channel: string } }>('/v1/channels/:channel/receipts', async (req) => {
        const query = parseReceiptsQuery({
            channel: req.params.channel,
            after: ((req.query ?? {}) as Record<string, unknown>).after,
            timestamp: req.headers[RECEIPTS_TIMESTAMP_HEADER],
            signature: req.headers[RECEIPTS_SIGNATURE_HEADER],
        });
        return deps.payments.receiptsFor(query);
    });

    // A voucher on its own, sent as soon as the client has verified the receipt it pays for (worker/src/payments.ts).
    app.post<{ Params: { channel: string } }>('/v1/channels/:channel/voucher', async (req) =>
        deps.payments.acceptVoucher(parseChannelVoucher({ channel: req.params.channel, body: req.body }, 'voucher')),
    );

    // Cooperative close: the client's final voucher in, the worker's CloseApproval out (worker/src/cooperativeClose.ts).
    app.post<{ Params: { channel: string } }>('/v1/channels/:channel/close', async (req) => {
        if (!deps.cooperativeClose) throw new Refusal('not_supported', 'this worker does not co-sign closes');
        return deps.cooperativeClose.cosign(parseCloseRequest({ channel: req.params.channel, body: req.body }));
    });
}
