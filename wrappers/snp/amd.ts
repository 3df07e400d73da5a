import { createHash } from 'crypto';
import { Cell, Dictionary, beginCell } from '@ton/core';
import { SnpPolicy, loadSnpPolicy, storeSnpPolicy } from '../../build/Registry/Registry_Registry';
import { bytesToUint } from '../../helpers/bytes';
import type { RsaPublicKey } from './amdCertificates';
import type { SnpTcb } from './report';

/**
 * AMD's published SEV-SNP roots as governance pins them
 * (scripts/setAttestationPolicy.ts `amd` preset): the id of each processor
 * generation's AMD Root Key, SHA-256 of its RSA-4096 modulus (512 bytes,
 * big-endian). The values are those of AMD's ARK certificates in
 * tests/fixtures/sev-snp (checked by tests/snp/evidence.spec.ts).
 */
export const AMD_ARK_IDS = {
    Milan: 0x857596e66a0dc486d69f4459554c56f96c3f83f3365984650d1aab5f7b215b2an,
    Genoa: 0x33f0787614fd429b048d621d962950df6147063ce5c21410c6b7fa1431a6cea2n,
    Turin: 0x10d484faa35104292e927402d98ea13b3244b3a8fa4ccbe41fcf5573dd9efa19n,
} as const;

/** The id under which an RSA-4096 key (an ARK or an ASK) is pinned or cached: SHA-256 of its modulus's 512 bytes. */
export function amdRsaKeyId(key: Pick<RsaPublicKey, 'n'>): bigint {
    return bytesToUint(
        createHash('sha256')
            .update(Buffer.from(key.n.toString(16).padStart(1024, '0'), 'hex'))
            .digest(),
    );
}

/** The SEV-SNP part of an AttestationPolicy: the SnpPolicy cell, or none (SEV-SNP evidence refused). */
export interface SnpPolicyField {
    snp: Cell | null;
}

/** An SEV-SNP policy pinning `arkIds` with the TCB minimums `min`; pinning none gives no policy (SEV-SNP evidence refused). */
export function snpPolicy(arkIds: Iterable<bigint> = [], min: SnpTcb = { bootloader: 0, tee: 0, snp: 0, microcode: 0 }): SnpPolicyField {
    const arks = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Bool());
    for (const id of arkIds) arks.set(id, true);
    if (arks.size === 0) return { snp: null };
    const policy: SnpPolicy = { $$type: 'SnpPolicy', arks, minBootloader: BigInt(min.bootloader), minTee: BigInt(min.tee), minSnp: BigInt(min.snp), minMicrocode: BigInt(min.microcode) };
    return { snp: beginCell().store(storeSnpPolicy(policy)).endCell() };
}

/** The SnpPolicy an AttestationPolicy's cell holds (none: SEV-SNP evidence refused). */
export function snpPolicyOf(field: SnpPolicyField): SnpPolicy | null {
    return field.snp ? loadSnpPolicy(field.snp.beginParse()) : null;
}
