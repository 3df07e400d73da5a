import { Address } from '@ton/core';
import { PollTimeout, pollUntil } from '../../../helpers/poll';
import { ExtendedPaymentChannel } from '../../../wrappers/PaymentChannel';
import { CocoonError } from '../cocoonError';
import type { ClientContext } from '../options';

/** When each channel's state was last read from chain (Date.now()), by address: a channel read recently is trusted without asking again. */
export type ChannelChecks = Map<string, number>;

/** The PaymentChannel contract at `address`. */
export function channelContract(ctx: ClientContext, address: string) {
    return ctx.o.opener.open(ExtendedPaymentChannel.fromAddress(Address.parse(address)));
}

/**
 * Polls the chain until `ok` holds: what the client sent (an open, a top-up,
 * a close) is only done once the chain shows it. A read that fails counts as
 * "not yet".
 */
export async function waitForChain<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 90_000): Promise<T> {
    return pollUntil(what, read, ok, { timeoutMs, intervalMs: 400 }).catch((e) => {
        throw e instanceof PollTimeout ? new CocoonError(504, 'chain_timeout', e.message) : e;
    });
}
