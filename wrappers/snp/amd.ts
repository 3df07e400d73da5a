import { createHash } from 'crypto';
import { Cell, Dictionary, beginCell } from '@ton/core';
import { SnpPolicy, loadSnpPolicy, storeSnpPolicy } from '../../build/Registry/Registry_Registry';
import { bytesToUint, uintBytes } from '../../helpers/bytes';
import { RsaPublicKey, modulusBytes } from './amdCertificates';
import { SnpTcb, snpTcbBytes, snpTcbOf } from './report';

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
    return bytesToUint(createHash('sha256').update(modulusBytes(key)).digest());
}

/**
 * The id under which governance revokes an AMD chip (RevokeAttestationKey):
 * SHA-256 of its 64-byte chip id, as a report's CHIP_ID and its VCEK's hwID
 * extension give it and as the verifier records it with each VCEK.
 */
export function amdChipRevocationId(chipId: Buffer): bigint {
    if (chipId.length !== 64) throw new Error(`an AMD chip id is 64 bytes, got ${chipId.length}`);
    return bytesToUint(createHash('sha256').update(chipId).digest());
}

/** The SEV-SNP part of an AttestationPolicy: the SnpPolicy cell, or none (SEV-SNP evidence refused). */
export interface SnpPolicyField {
    snp: Cell | null;
}

const NO_MINIMUM: SnpTcb = { bootloader: 0, tee: 0, snp: 0, microcode: 0 };

/**
 * A TCB as the policy and the verifier compare it: TCB_VERSION's 8 bytes as
 * one big-endian integer, in its generation's layout (the verifier compares
 * byte by byte, so a minimum must be in the layout of its ARK's reports).
 */
export function snpTcbValue(t: SnpTcb): bigint {
    return bytesToUint(snpTcbBytes(t));
}

/** The TCB a value holds, in Turin's layout or in Milan's and Genoa's. */
export function snpTcbOfValue(v: bigint, turin = false): SnpTcb {
    return snpTcbOf(uintBytes(v, 8), turin);
}

/**
 * An SEV-SNP policy pinning ARKs with the least TCB each one's platforms may
 * report: `arks` as ids (each with `min`) or as a map from id to minimum. A
 * minimum with an FMC part pins its root as a Turin one (its VCEKs and
 * reports in Turin's layout); AMD's Turin root is always one (with no
 * minimum, Turin's zero). Pinning none gives no policy (SEV-SNP evidence
 * refused).
 */
export function snpPolicy(arks: Iterable<bigint> | Map<bigint, SnpTcb> = [], min: SnpTcb = NO_MINIMUM): SnpPolicyField {
    const entries: Array<[bigint, SnpTcb]> = arks instanceof Map ? [...arks.entries()] : [...arks].map((id) => [id, min]);
    if (entries.length === 0) return { snp: null };
    const dict = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.BigUint(64));
    const turin = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Bool());
    for (const [id, given] of entries) {
        let tcb = given;
        if (id === AMD_ARK_IDS.Turin && tcb.fmc === undefined) {
            if (snpTcbValue(tcb) !== 0n) throw new Error("AMD Turin's minimum has five parts: fmc, bootloader, tee, snp, microcode");
            tcb = { fmc: 0, ...tcb };
        }
        dict.set(id, snpTcbValue(tcb));
        if (tcb.fmc !== undefined) turin.set(id, true);
    }
    const policy: SnpPolicy = { $$type: 'SnpPolicy', arks: dict, turinArks: turin };
    return { snp: beginCell().store(storeSnpPolicy(policy)).endCell() };
}

/** The ARKs an AttestationPolicy pins for SEV-SNP, with each one's TCB minimum in its generation's layout (none: SEV-SNP evidence refused). */
export function snpPolicyOf(field: SnpPolicyField): Map<bigint, SnpTcb> | null {
    if (!field.snp) return null;
    const policy = loadSnpPolicy(field.snp.beginParse());
    return new Map(policy.arks.keys().map((id) => [id, snpTcbOfValue(policy.arks.get(id)!, policy.turinArks.has(id))]));
}
