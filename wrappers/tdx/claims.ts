import { createHash } from 'crypto';
import { Address } from '@ton/core';
import { uint256ToBytes } from '../../helpers/bytes';

/**
 * The claims an enclave binds into its quote (DESIGN.md section 4): the
 * quote's REPORTDATA is SHA-512 of these 137 bytes.
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0   | 1  | WorkerStake workchain (int8) |
 * | 1   | 32 | WorkerStake account id |
 * | 33  | 32 | worker Ed25519 public key |
 * | 65  | 32 | X25519 encryption public key |
 * | 97  | 32 | model id |
 * | 129 | 8  | not-after, Unix seconds (uint64) |
 *
 * All integers are big-endian. The contract rebuilds exactly these bytes
 * from the `Claims` struct of the message (contracts/messages.tact).
 */
export const CLAIMS_SIZE = 137;

export interface AttestationClaims {
    workerStake: Address;
    workerKey: bigint;
    encryptionKey: bigint;
    modelId: bigint;
    notAfter: bigint;
}

function u256(v: bigint): Buffer {
    if (v < 0n || v >= 1n << 256n) throw new Error('claims: value does not fit in 256 bits');
    return uint256ToBytes(v);
}

export function claimsBytes(c: AttestationClaims): Buffer {
    if (c.notAfter < 0n || c.notAfter >= 1n << 64n) throw new Error('claims: notAfter does not fit in 64 bits');
    const wc = Buffer.alloc(1);
    wc.writeInt8(c.workerStake.workChain);
    const notAfter = Buffer.alloc(8);
    notAfter.writeBigUInt64BE(c.notAfter);
    const out = Buffer.concat([wc, c.workerStake.hash, u256(c.workerKey), u256(c.encryptionKey), u256(c.modelId), notAfter]);
    if (out.length !== CLAIMS_SIZE) throw new Error('claims: internal size error');
    return out;
}

/** What the enclave must put in the quote's REPORTDATA. */
export function claimsReportData(c: AttestationClaims): Buffer {
    return createHash('sha512').update(claimsBytes(c)).digest();
}

/** The Tact `Claims` struct of SubmitQuote and SubmitSimulated. */
export function claimsStruct(c: AttestationClaims) {
    return {
        $$type: 'Claims' as const,
        workerStake: c.workerStake,
        workerKey: c.workerKey,
        encryptionKey: c.encryptionKey,
        modelId: c.modelId,
        notAfter: c.notAfter,
    };
}
