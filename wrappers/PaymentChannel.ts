import { Constants } from './constants';
import { Address, ContractProvider, Sender, toNano } from '@ton/core';
import { PaymentChannel } from '../build/PaymentChannel/PaymentChannel_PaymentChannel';
import { SignedVoucher, voucherCell } from './voucher';

export {
    PaymentChannel,
    ChannelTerms,
    ChannelOpen,
    ChannelPayout,
    ChannelRefund,
    Claim,
    CooperativeClose,
    ProtocolFee,
    TopUp,
    Voucher,
    loadChannelPayout,
    loadChannelRefund,
    loadProtocolFee,
    storeClaim,
    storeTopUp,
} from '../build/PaymentChannel/PaymentChannel_PaymentChannel';

/** Channel statuses (CHANNEL_* of the build). */
export enum ChannelStatus {
    New = Number(Constants.CHANNEL_NEW),
    Open = Number(Constants.CHANNEL_OPEN),
    Closing = Number(Constants.CHANNEL_CLOSING),
    Closed = Number(Constants.CHANNEL_CLOSED),
}

/** Everything the getters tell about a channel, read at once. */
export interface ChannelState {
    client: Address;
    workerStake: Address;
    nonce: bigint;
    clientKey: bigint;
    pendingClientKey: bigint;
    /** When `pendingClientKey` takes effect, unix seconds (0: no change announced). Vouchers signed with the old key stop counting then. */
    pendingKeyAt: number;
    workerKey: bigint;
    deposit: bigint;
    paid: bigint;
    refunded: bigint;
    status: ChannelStatus;
    closeDeadline: number;
    closeDelay: number;
    feeBps: bigint;
    treasury: Address;
    claimable: bigint;
}

/**
 * The generated PaymentChannel wrapper with typed senders. Values are
 * generous: every receiver returns what it does not spend as Excesses.
 */
export class ExtendedPaymentChannel extends PaymentChannel {
    /** Value for a claim, close, finalise or key change. */
    static readonly ACTION_VALUE = toNano('0.05');
    /** Value on top of a top-up's amount. */
    static readonly TOP_UP_OVERHEAD = toNano('0.05');
    static readonly STORAGE_RESERVE = Constants.CHANNEL_STORAGE_RESERVE;

    static async fromInit(escrow: Address, client: Address, workerStake: Address, nonce: bigint): Promise<ExtendedPaymentChannel> {
        const base = await PaymentChannel.fromInit(escrow, client, workerStake, nonce);
        return new ExtendedPaymentChannel(base.address, base.init);
    }

    static fromAddress(address: Address): ExtendedPaymentChannel {
        return new ExtendedPaymentChannel(address);
    }

    async sendTopUp(provider: ContractProvider, via: Sender, amount: bigint, queryId = 0n, value = amount + ExtendedPaymentChannel.TOP_UP_OVERHEAD) {
        return this.send(provider, via, { value }, { $$type: 'TopUp', queryId, amount });
    }

    async sendClaim(provider: ContractProvider, via: Sender, voucher: SignedVoucher, queryId = 0n, value = ExtendedPaymentChannel.ACTION_VALUE) {
        return this.send(
            provider,
            via,
            { value },
            {
                $$type: 'Claim',
                queryId,
                signature: voucher.signature,
                voucher: voucherCell(voucher.channel, voucher.total),
            },
        );
    }

    async sendRequestClose(provider: ContractProvider, via: Sender, queryId = 0n, value = ExtendedPaymentChannel.ACTION_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'RequestClose', queryId });
    }

    async sendFinalize(provider: ContractProvider, via: Sender, queryId = 0n, value = ExtendedPaymentChannel.ACTION_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'Finalize', queryId });
    }

    async sendCooperativeClose(provider: ContractProvider, via: Sender, voucher: SignedVoucher, workerSignature: Buffer, queryId = 0n, value = ExtendedPaymentChannel.ACTION_VALUE) {
        return this.send(
            provider,
            via,
            { value },
            {
                $$type: 'CooperativeClose',
                queryId,
                clientSignature: voucher.signature,
                workerSignature,
                voucher: voucherCell(voucher.channel, voucher.total),
            },
        );
    }

    async sendChangeClientKey(provider: ContractProvider, via: Sender, newKey: bigint, queryId = 0n, value = ExtendedPaymentChannel.ACTION_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'ChangeClientKey', queryId, newKey });
    }

    /** Everything the getters tell, in one get-method call (the contract's `snapshot`). */
    async getState(provider: ContractProvider): Promise<ChannelState> {
        const s = await this.getSnapshot(provider);
        return {
            client: s.client,
            workerStake: s.workerStake,
            nonce: s.nonce,
            clientKey: s.clientKey,
            pendingClientKey: s.pendingClientKey,
            pendingKeyAt: Number(s.pendingKeyAt),
            workerKey: s.workerKey,
            deposit: s.deposit,
            paid: s.paid,
            refunded: s.refunded,
            status: Number(s.status) as ChannelStatus,
            closeDeadline: Number(s.closeDeadline),
            closeDelay: Number(s.closeDelay),
            feeBps: s.feeBps,
            treasury: s.treasury,
            claimable: s.claimable,
        };
    }

    /** The same state read getter by getter (what the snapshot must agree with). */
    async getStateByGetters(provider: ContractProvider): Promise<ChannelState> {
        const terms = await this.getTerms(provider);
        return {
            client: await this.getClient(provider),
            workerStake: await this.getWorkerStake(provider),
            nonce: await this.getNonce(provider),
            clientKey: await this.getClientKey(provider),
            pendingClientKey: await this.getPendingClientKey(provider),
            pendingKeyAt: Number(await this.getPendingKeyAt(provider)),
            workerKey: await this.getWorkerKey(provider),
            deposit: await this.getDeposit(provider),
            paid: await this.getPaid(provider),
            refunded: await this.getRefunded(provider),
            status: Number(await this.getStatus(provider)) as ChannelStatus,
            closeDeadline: Number(await this.getCloseDeadline(provider)),
            closeDelay: Number(terms.closeDelay),
            feeBps: terms.feeBps,
            treasury: terms.treasury,
            claimable: await this.getClaimable(provider),
        };
    }
}
