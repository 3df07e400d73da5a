import { Constants } from './constants';
import { Address, ContractProvider, Sender, contractAddress, toNano } from '@ton/core';
import { channelLibraryCell } from './channelLibrary';
import { PaymentChannel } from '../build/PaymentChannel/PaymentChannel_PaymentChannel';
import { SignedVoucher } from './voucher';

export {
    PaymentChannel,
    type ChannelTerms,
    type ChannelOpen,
    type ChannelRefund,
    type Claim,
    type CooperativeClose,
    type ProtocolFee,
    type TopUp,
    type Voucher,
    type WorkerPaid,
    loadChannelRefund,
    loadProtocolFee,
    loadWorkerPaid,
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

/** Everything the `snapshot` getter tells about a channel, with the figures derived from it. */
export interface ChannelState {
    escrow: Address;
    client: Address;
    workerStake: Address;
    nonce: bigint;
    /** The WorkerStake's owner, to whom the worker's share is paid. */
    payee: Address;
    clientKey: bigint;
    pendingClientKey: bigint;
    /** When `pendingClientKey` takes effect, unix seconds (0: no change announced). Vouchers signed with the old key stop counting then. */
    pendingKeyAt: number;
    workerKey: bigint;
    deposit: bigint;
    /** What the vouchers have moved out of the deposit: the worker's share and the protocol fee. */
    paid: bigint;
    /** The protocol fee accrued and not yet sent to the treasury (part of `paid`). */
    feeDue: bigint;
    /** What went back to the client: the unspent deposit, once closed. */
    refunded: bigint;
    status: ChannelStatus;
    closeDeadline: number;
    closeDelay: number;
    feeBps: bigint;
    treasury: Address;
    /** What a claim could pay at most, whatever the voucher. */
    claimable: bigint;
    /** Whether Finalize would be accepted now (by chain time). */
    finalizable: boolean;
    /** The block time the state was read at. */
    chainTime: number;
}

/**
 * The generated PaymentChannel wrapper with typed senders. Values are
 * generous: every receiver returns what it does not spend as Excesses.
 */
export class ExtendedPaymentChannel extends PaymentChannel {
    /** Value for a claim, close, finalise or key change. */
    static readonly ACTION_VALUE = toNano('0.05');
    /**
     * Value on top of a top-up's amount: its gas (GAS_CHANNEL_TOP_UP, about
     * 0.0021 TON at basechain prices) and the storage rent the channel's
     * reserve lacks (about 0.0025 TON a year of idleness). The channel sends
     * nothing back: what this does not spend is credited to the deposit with
     * the amount, so a generous figure costs nothing.
     */
    static readonly TOP_UP_OVERHEAD = toNano('0.01');
    static readonly STORAGE_RESERVE = Constants.CHANNEL_STORAGE_RESERVE;

    /** The channel (escrow, client, workerStake, nonce) as the Escrow deploys it: its code is the library cell of PaymentChannel's code. */
    static async fromInit(escrow: Address, client: Address, workerStake: Address, nonce: bigint): Promise<ExtendedPaymentChannel> {
        const base = await PaymentChannel.fromInit(escrow, client, workerStake, nonce);
        const init = { code: await channelLibraryCell(), data: base.init!.data };
        return new ExtendedPaymentChannel(contractAddress(0, init), init);
    }

    static fromAddress(address: Address): ExtendedPaymentChannel {
        return new ExtendedPaymentChannel(address);
    }

    /** Adds at least `amount` to the deposit; the value beyond it less the gas is credited too. */
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
                total: voucher.total,
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
                total: voucher.total,
            },
        );
    }

    async sendChangeClientKey(provider: ContractProvider, via: Sender, newKey: bigint, queryId = 0n, value = ExtendedPaymentChannel.ACTION_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'ChangeClientKey', queryId, newKey });
    }

    /** Everything the channel tells, in one get-method call (the contract's `snapshot`). */
    async getState(provider: ContractProvider): Promise<ChannelState> {
        const s = await this.getSnapshot(provider);
        const status = Number(s.status) as ChannelStatus;
        const open = status === ChannelStatus.Open || status === ChannelStatus.Closing;
        return {
            escrow: s.escrow,
            client: s.client,
            workerStake: s.workerStake,
            nonce: s.nonce,
            payee: s.payee,
            clientKey: s.clientKey,
            pendingClientKey: s.pendingClientKey,
            pendingKeyAt: Number(s.pendingKeyAt),
            workerKey: s.workerKey,
            deposit: s.deposit,
            paid: s.paid,
            feeDue: s.feeDue,
            refunded: status === ChannelStatus.Closed ? s.deposit - s.paid : 0n,
            status,
            closeDeadline: Number(s.closeDeadline),
            closeDelay: Number(s.closeDelay),
            feeBps: s.feeBps,
            treasury: s.treasury,
            claimable: open ? s.deposit - s.paid : 0n,
            finalizable: status === ChannelStatus.Closing && s.chainTime >= s.closeDeadline,
            chainTime: Number(s.chainTime),
        };
    }

    // Single figures, read through `snapshot` (the contract has no other getter: each costs code, forwarded at every open and rented for the channel's life).

    async getEscrow(provider: ContractProvider): Promise<Address> {
        return (await this.getState(provider)).escrow;
    }

    async getClient(provider: ContractProvider): Promise<Address> {
        return (await this.getState(provider)).client;
    }

    async getWorkerStake(provider: ContractProvider): Promise<Address> {
        return (await this.getState(provider)).workerStake;
    }

    async getPayee(provider: ContractProvider): Promise<Address> {
        return (await this.getState(provider)).payee;
    }

    async getNonce(provider: ContractProvider): Promise<bigint> {
        return (await this.getState(provider)).nonce;
    }

    async getClientKey(provider: ContractProvider): Promise<bigint> {
        return (await this.getState(provider)).clientKey;
    }

    async getPendingClientKey(provider: ContractProvider): Promise<bigint> {
        return (await this.getState(provider)).pendingClientKey;
    }

    async getPendingKeyAt(provider: ContractProvider): Promise<bigint> {
        return BigInt((await this.getState(provider)).pendingKeyAt);
    }

    async getWorkerKey(provider: ContractProvider): Promise<bigint> {
        return (await this.getState(provider)).workerKey;
    }

    async getDeposit(provider: ContractProvider): Promise<bigint> {
        return (await this.getState(provider)).deposit;
    }

    async getPaid(provider: ContractProvider): Promise<bigint> {
        return (await this.getState(provider)).paid;
    }

    async getFeeDue(provider: ContractProvider): Promise<bigint> {
        return (await this.getState(provider)).feeDue;
    }

    async getRefunded(provider: ContractProvider): Promise<bigint> {
        return (await this.getState(provider)).refunded;
    }

    async getStatus(provider: ContractProvider): Promise<bigint> {
        return BigInt((await this.getState(provider)).status);
    }

    async getCloseDeadline(provider: ContractProvider): Promise<bigint> {
        return BigInt((await this.getState(provider)).closeDeadline);
    }

    async getClaimable(provider: ContractProvider): Promise<bigint> {
        return (await this.getState(provider)).claimable;
    }

    async getFinalizable(provider: ContractProvider): Promise<boolean> {
        return (await this.getState(provider)).finalizable;
    }

    async getTerms(provider: ContractProvider): Promise<{ closeDelay: bigint; feeBps: bigint; treasury: Address }> {
        const s = await this.getState(provider);
        return { closeDelay: BigInt(s.closeDelay), feeBps: s.feeBps, treasury: s.treasury };
    }
}
