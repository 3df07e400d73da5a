import { Cell, beginCell } from '@ton/core';
import { Constants } from '../constants';
import {
    ContinueAmdCertificate,
    ContinueSnpReport,
    SnpJob,
    SubmitSnpReport,
    VerifyAmdCertificate,
    loadP384Progress,
    loadRsaPssProgress,
} from '../../build/AttestationVerifier/AttestationVerifier_AttestationVerifier';
import { Address } from '@ton/core';
import { AttestationClaims, claimsStruct } from '../tdx/claims';
import { p384Hint, p384HintCell, p384SlopesCell } from '../p384Hints';
import { SNP_SIGNED_SIZE, parseSnpReport, snpReportDigest } from './report';
import { byteChain } from '../tdx/cells';
import { rsaHintChain, rsaSteps } from '../rsaPssHints';
import { amdRsaKeyId } from './amd';
import { AmdCertificate, P384Point, RsaPublicKey, modulusBytes, p384KeyBytes } from './amdCertificates';
import { createHash } from 'crypto';
import { bytesToUint } from '../../helpers/bytes';

/**
 * The transactions that verify an AMD certificate on chain
 * (AttestationVerifier VerifyAmdCertificate): its TBS hashed a few SHA-384
 * blocks at a time, then the RSA-PSS check a few phases at a time, each
 * share sized to stay well inside one transaction's gas (about 125,000 gas
 * a hash block, 62,000 a squaring, 125,000 an MGF1 phase;
 * contracts/lib/rsa-pss.tact), the last caching the subject key.
 */

/** SHA-384 blocks of a TBS hashed per transaction. */
export const AMD_HASH_BLOCKS_PER_STEP = 5;
/** RSA-PSS phases per transaction: 11 squarings; 5 squarings, the multiplication and 2 MGF1 blocks; 5 MGF1 blocks; the last block and the salt. */
export const AMD_RSA_PHASES_PER_STEP: readonly number[] = [11, 8, 5, 2];

export interface AmdCertificateSteps {
    /** Subject CN, for messages to people. */
    name: string;
    issuerKeyId: bigint;
    /** The id the subject key is cached under: SHA-256 of an ASK's modulus, of a VCEK's x || y. */
    subjectKeyId: bigint;
    /** The key its progress is kept under between the transactions. */
    jobId: bigint;
    /** VerifyAmdCertificate while hashing, ContinueAmdCertificate for the signature check. */
    messages: Array<VerifyAmdCertificate | ContinueAmdCertificate>;
}

/** The key the verifier keeps a resumable SEV-SNP verification under (snpJobId): its kind and its input cells' hashes. */
export function snpJobIdOf(kind: 'certificate' | 'report', signed: Cell, key: Cell, hint: Cell | null = null): bigint {
    const tag = kind === 'certificate' ? Constants.SNP_JOB_CERTIFICATE : Constants.SNP_JOB_REPORT;
    const cell = beginCell()
        .storeUint(tag, 8)
        .storeBuffer(signed.hash())
        .storeBuffer(key.hash())
        .storeUint(hint ? bytesToUint(hint.hash()) : 0n, 256)
        .endCell();
    return bytesToUint(cell.hash());
}

/** Id under which a VCEK is cached: SHA-256 of its x || y. */
export function vcekKeyId(key: P384Point): bigint {
    return bytesToUint(createHash('sha256').update(p384KeyBytes(key)).digest());
}

/**
 * Messages that hash `length` signed bytes as the contract does
 * (snpHashStep): whole shares of AMD_HASH_BLOCKS_PER_STEP blocks while more
 * is left, then the rest with the padding (at most one block more).
 */
export function hashSteps<T extends object>(length: number, base: T, blocksPerStep = AMD_HASH_BLOCKS_PER_STEP, absorbed = 0): Array<T & { blocks: bigint; phases: bigint }> {
    const out: Array<T & { blocks: bigint; phases: bigint }> = [];
    const share = blocksPerStep * 128;
    for (let left = length - absorbed; ; left -= share) {
        out.push({ ...base, blocks: BigInt(blocksPerStep), phases: 0n });
        if (left <= share) return out;
    }
}

/** Where a verification under way stands (from the verifier's SnpJob): bytes hashed, and phases or windows of the signature check done. */
export interface SnpProgress {
    absorbed: number;
    hashed: boolean;
    done: number;
}

/** How far the verifier's job has come: the hash, and the signature check's phase (RSA) or window (P-384). */
export function snpProgressOf(job: SnpJob | null, signature: 'rsa' | 'p384'): SnpProgress | undefined {
    if (!job) return undefined;
    let done = 0;
    if (job.progress) done = signature === 'rsa' ? Number(loadRsaPssProgress(job.progress.beginParse()).phase) : Number(loadP384Progress(job.progress.beginParse()).next);
    return { absorbed: Number(job.absorbed), hashed: job.hashed, done };
}

/** The messages that verify `cert` (an ASK or a VCEK) signed by `issuer`. */
export function amdCertificateSteps(cert: AmdCertificate, issuer: RsaPublicKey, queryId = 0n, from?: SnpProgress): AmdCertificateSteps {
    const certificate = byteChain(cert.der);
    const issuerModulus = byteChain(modulusBytes(issuer));
    const base = { $$type: 'VerifyAmdCertificate' as const, queryId, certificate, issuerModulus };
    const messages: Array<VerifyAmdCertificate | ContinueAmdCertificate> = [];
    const jobId = snpJobIdOf('certificate', certificate, issuerModulus);
    if (!from?.hashed) messages.push(...hashSteps(cert.tbs.length, { ...base, hints: null }, AMD_HASH_BLOCKS_PER_STEP, from?.absorbed ?? 0));
    const steps = rsaSteps(issuer.n, bytesToUint(cert.signature));
    // The phases left, in shares of the usual sizes; each carries the hints of the modular steps (phases 0-16) it runs.
    let phase = from?.done ?? 0;
    let end = 0;
    for (const n of AMD_RSA_PHASES_PER_STEP) {
        end += n;
        if (end <= phase) continue;
        const count = end - phase;
        const hinted = steps.slice(Math.min(phase, steps.length), Math.min(end, steps.length));
        // once hashed, the job keeps the certificate's parts and numbers and the issuer's id
        messages.push({ $$type: 'ContinueAmdCertificate', queryId, job: jobId, phases: BigInt(count), hints: rsaHintChain(hinted) });
        phase = end;
    }
    const subjectKeyId = cert.rsaKey ? amdRsaKeyId(cert.rsaKey) : vcekKeyId(cert.ecKey!);
    return { name: cert.subjectCN ?? 'AMD certificate', issuerKeyId: amdRsaKeyId(issuer), subjectKeyId, jobId, messages };
}

/** SHA-384 blocks of a report's signed bytes in its first step: all 672 bytes (six compressions). */
export const SNP_REPORT_HASH_BLOCKS = 6;
/** P-384 ladder windows per transaction (49 in all); the first also runs every check before the ladder (contracts/lib/p384.tact). */
export const SNP_P384_WINDOWS_PER_STEP: readonly number[] = [22, 27];

export interface SnpReportSteps {
    jobId: bigint;
    /** SubmitSnpReport while hashing, ContinueSnpReport for the signature check. */
    messages: Array<SubmitSnpReport | ContinueSnpReport>;
}

/** The messages that verify an SEV-SNP report signed by the cached VCEK `vcek` and record `claims` at `workerStake`. */
export function snpReportSteps(raw: Buffer, vcek: P384Point, claims: AttestationClaims, workerStake: Address, queryId = 0n, from?: SnpProgress): SnpReportSteps {
    const report = parseSnpReport(raw);
    const e = bytesToUint(snpReportDigest(report));
    const hintFields = p384Hint(e, report.signature.r, report.signature.s, vcek);
    const hint = p384HintCell(hintFields);
    const reportChain = byteChain(raw);
    const vcekKey = byteChain(p384KeyBytes(vcek));
    const base = { $$type: 'SubmitSnpReport' as const, queryId, report: reportChain, vcekKey, hint, slopes: null, workerStake, claims: claimsStruct(claims) };
    const jobId = snpJobIdOf('report', reportChain, vcekKey, hint);
    const messages: Array<SubmitSnpReport | ContinueSnpReport> = from?.hashed ? [] : hashSteps(SNP_SIGNED_SIZE, base, SNP_REPORT_HASH_BLOCKS, from?.absorbed ?? 0);
    let windows = from?.done ?? 0;
    let end = 0;
    for (const n of SNP_P384_WINDOWS_PER_STEP) {
        end += n;
        if (end <= windows) continue;
        const phases = BigInt(end - windows);
        const slopes = p384SlopesCell(report.signature.r, vcek, hintFields, windows, end - windows);
        // once hashed, the job keeps the report's fields, the key and the hint
        messages.push({ $$type: 'ContinueSnpReport', queryId, job: jobId, from: BigInt(windows), phases, slopes, workerStake, claims: base.claims });
        windows = end;
    }
    return { jobId, messages };
}
