import { Address } from '@ton/core';
import { signVerify } from '@ton/crypto';
import { z } from 'zod';
import { RECEIPTS_QUERY_MAX, RECEIPTS_QUERY_MAX_SKEW_SEC, ReceiptsAnswer, receiptsQueryDigest } from '../../protocol/paidRequest';
import { ChannelGate, channelAddressSchema } from './channelGate';
import { Refusal, RefusalKind } from './refusal';
import type { WorkerStore } from './store/store';
import { INT64_MAX, uint256ToBytes } from '../../helpers/bytes';

/**
 * Receipt recovery: a client that lost a final frame reads the receipts it
 * is missing (protocol/paidRequest.ts). Usage metadata is private to the
 * channel's client, so the query is signed by the channel's client key (as
 * on chain) over `receiptsQueryDigest`, with a timestamp near the worker's
 * clock.
 */

const AFTER = 'after must be a cumulative cost in nanoTON (a non-negative integer)';
const TIMESTAMP = 'x-cocoon-timestamp must be unix seconds';
const SIGNATURE = 'x-cocoon-signature must be a hex Ed25519 signature (128 hex digits)';

/** The query as it arrives: the channel from the path, `after` from the query string, the rest from headers. */
export const receiptsQuerySchema = z.object({
    channel: channelAddressSchema,
    after: z
        .string({ invalid_type_error: AFTER })
        .regex(/^[0-9]{1,19}$/, AFTER)
        .transform(BigInt)
        .refine((v) => v <= INT64_MAX, AFTER)
        .optional()
        .transform((v) => v ?? 0n),
    timestamp: z
        .string({ required_error: TIMESTAMP, invalid_type_error: TIMESTAMP })
        .regex(/^[0-9]{1,12}$/, TIMESTAMP)
        .transform(Number),
    signature: z
        .string({ required_error: SIGNATURE, invalid_type_error: SIGNATURE })
        .regex(/^[0-9a-fA-F]{128}$/, SIGNATURE)
        .transform((hex) => Buffer.from(hex, 'hex')),
});

export type ReceiptsQuery = z.infer<typeof receiptsQuerySchema>;

/** Refuses a malformed query: a bad channel or `after` is malformed input, a bad timestamp or signature is unauthorised. */
export function parseReceiptsQuery(raw: { channel: unknown; after: unknown; timestamp: unknown; signature: unknown }): ReceiptsQuery {
    const parsed = receiptsQuerySchema.safeParse(raw);
    if (parsed.success) return parsed.data;
    const kindOf = (field: string): RefusalKind => (field === 'channel' ? 'invalid_channel' : field === 'after' ? 'invalid_request' : 'unauthorized');
    throw Refusal.fromIssues(parsed.error, kindOf, 'recovery');
}

export interface ReceiptRecoveryOptions {
    store: WorkerStore;
    gate: ChannelGate;
    now: () => number;
}

export class ReceiptRecovery {
    constructor(private readonly o: ReceiptRecoveryOptions) {}

    /** The stored receipts of the channel above `after`, for the channel's client only. */
    async answer(q: ReceiptsQuery): Promise<ReceiptsAnswer> {
        const channel: Address = q.channel;
        if (Math.abs(this.o.now() - q.timestamp) > RECEIPTS_QUERY_MAX_SKEW_SEC)
            throw new Refusal('unauthorized', `x-cocoon-timestamp is more than ${RECEIPTS_QUERY_MAX_SKEW_SEC} s from the worker's clock`, { during: 'recovery' });
        const state = await this.o.gate.channel(channel, 'recovery');
        const clientKey = uint256ToBytes(state.clientKey);
        if (!signVerify(receiptsQueryDigest(channel, q.after, q.timestamp), q.signature, clientKey))
            throw new Refusal('unauthorized', "the signature does not verify with the channel's client key", { during: 'recovery' });
        const rows = this.o.store.receiptsAfter(channel.toString(), q.after, RECEIPTS_QUERY_MAX + 1);
        return {
            channel: channel.toString(),
            receipts: rows.slice(0, RECEIPTS_QUERY_MAX).map((r) => ({ boc: r.boc.toString('base64'), requestId: r.requestId, cost: r.cost.toString(), cumulativeCost: r.cumulative.toString() })),
            more: rows.length > RECEIPTS_QUERY_MAX,
        };
    }
}
