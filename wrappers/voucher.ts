import { Constants } from './constants';
import { Address, Cell, beginCell } from '@ton/core';
import { sign, signVerify } from '../helpers/ed25519';
import { storeCloseApproval, storeVoucher } from '../build/PaymentChannel/PaymentChannel_PaymentChannel';
import { bytesToUint } from '../helpers/bytes';

/**
 * Vouchers and close approvals of a PaymentChannel, shared by the worker, the
 * client and the tests. A voucher says "channel `channel` may pay out up to
 * `total` nanoTON in all"; the client signs its cell hash (Ed25519) with the
 * channel's client key. Cells are built with the Tact-generated serialisers,
 * so they hash exactly as the contract rebuilds them.
 */

/** The tag that makes a CloseApproval signature useless as anything else. */
export const CLOSE_APPROVAL_TAG = Constants.CLOSE_APPROVAL_TAG;

export interface SignedVoucher {
    channel: Address;
    total: bigint;
    signature: Buffer;
}

export function voucherCell(channel: Address, total: bigint): Cell {
    if (total < 0n) throw new Error('a voucher total cannot be negative');
    return beginCell()
        .store(storeVoucher({ $$type: 'Voucher', channel, total }))
        .endCell();
}

export function voucherHash(channel: Address, total: bigint): Buffer {
    return voucherCell(channel, total).hash();
}

/** Signs a voucher with the client's channel key (64-byte Ed25519 secret key). */
export function signVoucher(channel: Address, total: bigint, clientSecretKey: Buffer): SignedVoucher {
    return { channel, total, signature: sign(voucherHash(channel, total), clientSecretKey) };
}

/** True when `signature` is the client key's signature of this voucher. */
export function verifyVoucher(channel: Address, total: bigint, signature: Buffer, clientPublicKey: Buffer): boolean {
    if (signature.length !== 64 || clientPublicKey.length !== 32) return false;
    return signVerify(voucherHash(channel, total), signature, clientPublicKey);
}

/** What a worker signs to agree that `total` is a channel's final amount. */
export function closeApprovalCell(channel: Address, total: bigint): Cell {
    return beginCell()
        .store(storeCloseApproval({ $$type: 'CloseApproval', tag: CLOSE_APPROVAL_TAG, channel, total }))
        .endCell();
}

export function signCloseApproval(channel: Address, total: bigint, workerSecretKey: Buffer): Buffer {
    return sign(closeApprovalCell(channel, total).hash(), workerSecretKey);
}

export function verifyCloseApproval(channel: Address, total: bigint, signature: Buffer, workerPublicKey: Buffer): boolean {
    if (signature.length !== 64 || workerPublicKey.length !== 32) return false;
    return signVerify(closeApprovalCell(channel, total).hash(), signature, workerPublicKey);
}

/** An Ed25519 public key as the uint256 the contracts store. */
export function keyToInt(publicKey: Buffer): bigint {
    if (publicKey.length !== 32) throw new Error('an Ed25519 public key is 32 bytes');
    return bytesToUint(publicKey);
}
