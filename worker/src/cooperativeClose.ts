import { Address } from '@ton/core';
import { RefusalCode } from '../../protocol/paidRequest';
import { ChannelStatus } from '../../wrappers/PaymentChannel';
import { keyToInt, signCloseApproval, verifyVoucher } from '../../wrappers/voucher';
import type { ChainView } from './chain';
import { PaymentError } from './payments';
import type { WorkerStore } from './store/store';

/**
 * The worker's half of a cooperative close (DESIGN.md section 3): the
 * client sends its final voucher; the worker co-signs a CloseApproval for
 * that total, and the client (or anyone) submits both to the channel, which
 * pays the worker and refunds the client at once, with no close window.
 *
 * The worker agrees only to a total that covers every receipt it has signed
 * on the channel, never while one of its requests is in flight, and from
 * then on serves nothing more on that channel: a request served after the
 * approval would be work the final total does not pay for. The final
 * voucher is stored before the approval leaves, so if the client never
 * submits the close the claimer still redeems it.
 */

export interface CloseRequestInput {
    channel: string;
    body: unknown;
}

export interface CloseApprovalAnswer {
    channel: string;
    /** The final total, nanoTON. */
    total: string;
    /** The worker's Ed25519 signature of CloseApproval(channel, total), hex. */
    signature: string;
}

export interface CooperativeCloseOptions {
    store: WorkerStore;
    chain: ChainView;
    workerStake: Address;
    receiptKey: { publicKey: Buffer; secretKey: Buffer };
    /** True while a request on this channel (store key) is admitted and unsettled. */
    inFlight: (channelKey: string) => boolean;
    now?: () => number;
}

export class CooperativeClose {
    constructor(private readonly o: CooperativeCloseOptions) {}

    async approve(input: CloseRequestInput): Promise<CloseApprovalAnswer> {
        let channel: Address;
        try {
            channel = Address.parse(input.channel);
        } catch {
            throw new PaymentError(400, RefusalCode.BadRequest, 'channel is not a valid address');
        }
        const body = (input.body ?? {}) as Record<string, unknown>;
        if (typeof body !== 'object' || Array.isArray(body)) throw new PaymentError(400, RefusalCode.BadRequest, 'send {"total": "<nanoTON>", "signature": "<hex>"}');
        const total = typeof body.total === 'string' && /^[0-9]{1,19}$/.test(body.total) ? BigInt(body.total) : undefined;
        // 19 digits can exceed the store's int64 (2^63 - 1): out of range is the client's mistake, not a 500.
        if (total === undefined || total > (1n << 63n) - 1n) throw new PaymentError(400, RefusalCode.BadRequest, 'total must be the final cumulative total in nanoTON, as a decimal string');
        const signature = typeof body.signature === 'string' && /^[0-9a-fA-F]{128}$/.test(body.signature) ? Buffer.from(body.signature, 'hex') : undefined;
        if (!signature) throw new PaymentError(400, RefusalCode.BadRequest, "signature must be the client's Ed25519 voucher signature (128 hex digits)");

        let state;
        try {
            state = await this.o.chain.channel(channel, true);
        } catch (e) {
            throw new PaymentError(503, RefusalCode.BackendDown, `cannot read the channel from the chain: ${(e as Error).message}`);
        }
        if (!state) throw new PaymentError(404, RefusalCode.UnknownChannel, 'no payment channel is deployed at that address');
        if (!state.workerStake.equals(this.o.workerStake) || state.workerKey !== keyToInt(this.o.receiptKey.publicKey))
            throw new PaymentError(403, RefusalCode.WrongWorker, 'the channel is for another worker');
        if (state.status !== ChannelStatus.Open && state.status !== ChannelStatus.Closing) throw new PaymentError(409, RefusalCode.ChannelNotOpen, 'the channel is already closed');
        // The approval outlives the key it was asked with: agree to nothing until a pending key change is in force.
        if (state.pendingClientKey !== 0n) throw new PaymentError(409, RefusalCode.ClientKeyChanging, `the channel's client key changes at ${state.pendingKeyAt}; ask again once it is in force`);
        const clientKey = Buffer.from(state.clientKey.toString(16).padStart(64, '0'), 'hex');
        // The voucher signature is the client's authorisation: only the channel's client key makes one.
        if (!verifyVoucher(channel, total, signature, clientKey)) throw new PaymentError(401, RefusalCode.BadVoucher, "the signature is not the channel client's voucher for that total");

        const key = channel.toString();
        if (this.o.inFlight(key)) throw new PaymentError(409, RefusalCode.RequestInFlight, 'a request on this channel is still being served; close after it ends');
        const owed = this.o.store.receiptTotal(key);
        if (total < owed) throw new PaymentError(409, RefusalCode.StaleVoucher, `the final total ${total} does not cover the ${owed} nanoTON of receipts signed on this channel`);
        if (total < state.paid) throw new PaymentError(409, RefusalCode.StaleVoucher, `the final total ${total} is below the ${state.paid} nanoTON already paid`);

        // The final voucher is money: on disk first. Then no more service on this channel.
        this.o.store.ensureChannel(key);
        this.o.store.recordVoucher({ channel: key, total, signature, receivedAt: (this.o.now ?? (() => Math.floor(Date.now() / 1000)))() });
        this.o.store.setChannelState(key, 'closing');
        const approval = signCloseApproval(channel, total, this.o.receiptKey.secretKey);
        return { channel: key, total: total.toString(), signature: approval.toString('hex') };
    }
}
