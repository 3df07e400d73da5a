import { Address } from '@ton/core';
import { ChannelStatus } from '../../wrappers/PaymentChannel';
import { signCloseApproval, verifyVoucher } from '../../wrappers/voucher';
import type { ChainView } from './chain';
import { ChannelGate } from './channelGate';
import { ChannelVoucher, ChannelVoucherInput, parseChannelVoucher } from './channelVoucher';
import { Refusal, RefusalKind } from './refusal';
import type { WorkerStore } from './store/store';
import { uint256ToBytes } from '../../helpers/bytes';

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

/** A close request: the channel from the path, the client's final voucher as the body (worker/src/channelVoucher.ts). */
export type CloseRequestInput = ChannelVoucherInput;
export type CloseRequest = ChannelVoucher;

/** Refuses a malformed close request (400). */
export function parseCloseRequest(input: CloseRequestInput): CloseRequest {
    return parseChannelVoucher(input, 'close');
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
    private readonly gate: ChannelGate;

    constructor(private readonly o: CooperativeCloseOptions) {
        this.gate = new ChannelGate(o);
    }

    /** Parses the request, then co-signs it (as `cosign`). */
    async approve(input: CloseRequestInput): Promise<CloseApprovalAnswer> {
        return this.cosign(parseCloseRequest(input));
    }

    async cosign(request: CloseRequest): Promise<CloseApprovalAnswer> {
        const { channel } = request;
        const { total, signature } = request.body;
        const refuse = (kind: RefusalKind, message: string) => new Refusal(kind, message, { during: 'close' });

        const state = await this.gate.channel(channel, 'close', true);
        if (state.status !== ChannelStatus.Open && state.status !== ChannelStatus.Closing) throw refuse('channel_not_open', 'the channel is already closed');
        // The approval outlives the key it was asked with: agree to nothing until a pending key change is in force.
        if (state.pendingClientKey !== 0n) throw refuse('client_key_changing', `the channel's client key changes at ${state.pendingKeyAt}; ask again once it is in force`);
        const clientKey = uint256ToBytes(state.clientKey);
        // The voucher signature is the client's authorisation: only the channel's client key makes one.
        if (!verifyVoucher(channel, total, signature, clientKey)) throw refuse('invalid_voucher', "the signature is not the channel client's voucher for that total");

        const key = channel.toString();
        // A channel this worker never served must prove it is one of the WorkerStake's Escrow before its
        // voucher is kept (the claimer would spend gas on a look-alike); a served one passed that at admission.
        if (this.o.store.channelState(key) === undefined) await this.gate.payoutChannel(channel, state, 'close');
        if (this.o.inFlight(key)) throw refuse('request_in_flight', 'a request on this channel is still being served; close after it ends');
        const owed = this.o.store.receiptTotal(key);
        if (total < owed) throw refuse('stale_voucher', `the final total ${total} does not cover the ${owed} nanoTON of receipts signed on this channel`);
        if (total < state.paid) throw refuse('stale_voucher', `the final total ${total} is below the ${state.paid} nanoTON already paid`);

        // The final voucher is money: on disk first. Then no more service on this channel.
        this.o.store.ensureChannel(key);
        this.o.store.recordVoucher({ channel: key, total, signature, receivedAt: (this.o.now ?? (() => Math.floor(Date.now() / 1000)))() });
        this.o.store.setChannelState(key, 'closing');
        const approval = signCloseApproval(channel, total, this.o.receiptKey.secretKey);
        return { channel: key, total: total.toString(), signature: approval.toString('hex') };
    }
}
