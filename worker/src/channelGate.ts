import { Address } from '@ton/core';
import { z } from 'zod';
import { ChannelState, ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { keyToInt } from '../../wrappers/voucher';
import type { ChainView, WorkerStakeView } from './chain';
import { Operation, Refusal } from './refusal';

/**
 * The one check that a channel a client names is this worker's: it is
 * deployed, it names this worker's WorkerStake and receipt key, and (where
 * the worker is about to be paid by it) its address derives from the Escrow
 * the WorkerStake takes payouts from. Every endpoint that acts on a channel
 * passes through here, so they refuse the same channels with the same kinds.
 */

export interface ChannelGateOptions {
    chain: ChainView;
    /** This worker's WorkerStake. */
    workerStake: Address;
    /** The worker's receipt key: channels name it as their worker key. */
    receiptKey: { publicKey: Buffer };
}

const NOT_AN_ADDRESS = 'channel is not a valid address';

/** A channel address as a client sends it (friendly or raw form). */
export const channelAddressSchema = z.string({ required_error: NOT_AN_ADDRESS, invalid_type_error: NOT_AN_ADDRESS }).transform((text, ctx) => {
    try {
        return Address.parse(text);
    } catch {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: NOT_AN_ADDRESS });
        return z.NEVER;
    }
});

export class ChannelGate {
    /** Channels whose address was checked to derive from the WorkerStake's Escrow (a contract cannot change that). */
    private readonly genuine = new Set<string>();
    private readonly workerKey: bigint;

    constructor(private readonly o: ChannelGateOptions) {
        this.workerKey = keyToInt(o.receiptKey.publicKey);
    }

    /** The channel a client named, parsed. */
    address(text: string, during: Operation): Address {
        const parsed = channelAddressSchema.safeParse(text);
        if (!parsed.success) throw new Refusal('invalid_channel', NOT_AN_ADDRESS, { during });
        return parsed.data;
    }

    /**
     * Reads the channel and refuses one nobody deployed or one that names
     * another WorkerStake or another worker key. `fresh` reads past the
     * chain view's cache (an approval must not rest on an old state).
     */
    async channel(channel: Address, during: Operation, fresh = false): Promise<ChannelState> {
        let state;
        try {
            state = await this.o.chain.channel(channel, fresh);
        } catch (e) {
            throw new Refusal('chain_unavailable', `cannot read the channel from the chain: ${(e as Error).message}`, { during });
        }
        if (!state) throw new Refusal('channel_not_found', 'no payment channel is deployed at that address', { during });
        if (!state.workerStake.equals(this.o.workerStake) || state.workerKey !== this.workerKey) throw new Refusal('wrong_worker', 'the channel is for another worker', { during });
        return state;
    }

    /**
     * Refuses a channel that is not one of the WorkerStake's payout Escrow:
     * any other contract can answer the channel getters (free service, and
     * claims that feed it the worker's gas). Returns the WorkerStake as read.
     */
    async payoutChannel(channel: Address, state: ChannelState, during: Operation): Promise<WorkerStakeView> {
        let ws;
        try {
            ws = await this.o.chain.workerStake(this.o.workerStake);
        } catch (e) {
            throw new Refusal('chain_unavailable', `cannot read the WorkerStake from the chain: ${(e as Error).message}`, { during });
        }
        if (!ws) throw new Refusal('chain_unavailable', 'the WorkerStake is not deployed (the operator must run cocoon-worker register)', { during });
        if (!this.genuine.has(channel.toRawString())) {
            const escrow = ws.payoutEscrow;
            const expected = escrow ? (await ExtendedPaymentChannel.fromInit(escrow, state.client, this.o.workerStake, state.nonce)).address : undefined;
            if (!expected || !expected.equals(channel)) throw new Refusal('wrong_worker', "that address is not a payment channel of this worker's Escrow", { during });
            this.genuine.add(channel.toRawString());
        }
        return ws;
    }
}
