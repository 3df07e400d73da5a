import type { Address } from '@ton/core';
import { z } from 'zod';
import { INT64_MAX } from '../../helpers/bytes';
import { channelAddressSchema } from './channelGate';
import { Operation, Refusal } from './refusal';

/**
 * A voucher as the channel endpoints receive it: the channel from the path,
 * `{"total", "signature"}` as the body. The same shape serves a cooperative
 * close (the final voucher) and a voucher sent on its own as soon as the
 * client has verified the receipt it pays for.
 */

const SHAPE = 'send {"total": "<nanoTON>", "signature": "<hex>"}';
const TOTAL = 'total must be the cumulative total in nanoTON, as a decimal string';
const SIGNATURE = "signature must be the client's Ed25519 voucher signature (128 hex digits)";

export interface ChannelVoucherInput {
    channel: string;
    body: unknown;
}

export const channelVoucherSchema = z.object({
    channel: channelAddressSchema,
    body: z.preprocess(
        (body) => body ?? {},
        z.object(
            {
                // 19 digits can exceed the store's int64 (2^63 - 1): out of range is the client's mistake, not a 500.
                total: z
                    .string({ required_error: TOTAL, invalid_type_error: TOTAL })
                    .regex(/^[0-9]{1,19}$/, TOTAL)
                    .transform(BigInt)
                    .refine((v) => v <= INT64_MAX, TOTAL),
                signature: z
                    .string({ required_error: SIGNATURE, invalid_type_error: SIGNATURE })
                    .regex(/^[0-9a-fA-F]{128}$/, SIGNATURE)
                    .transform((hex) => Buffer.from(hex, 'hex')),
            },
            { invalid_type_error: SHAPE },
        ),
    ),
});

/** A voucher for one channel: its cumulative total and the client's signature. */
export interface ChannelVoucher {
    channel: Address;
    body: { total: bigint; signature: Buffer };
}

/** Refuses a malformed voucher request (400, naming the field). */
export function parseChannelVoucher(input: ChannelVoucherInput, during: Operation): ChannelVoucher {
    const parsed = channelVoucherSchema.safeParse(input);
    if (parsed.success) return parsed.data;
    throw Refusal.fromIssues(parsed.error, (field) => (field === 'channel' ? 'invalid_channel' : 'invalid_request'), during);
}
