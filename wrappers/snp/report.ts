import { createHash } from 'crypto';
import { bytesToUint } from '../../helpers/bytes';

/**
 * The AMD SEV-SNP attestation report (AMD SEV-SNP ABI specification,
 * ATTESTATION_REPORT), as the firmware returns it through the guest driver
 * (Linux configfs-tsm, provider `sev_guest`). Integers are little-endian.
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0x000 | 4 | VERSION (2, 3 or 5) |
 * | 0x004 | 4 | GUEST_SVN |
 * | 0x008 | 8 | POLICY (bit 19: DEBUG allowed; bit 18: MIGRATE_MA) |
 * | 0x030 | 4 | VMPL |
 * | 0x034 | 4 | SIGNATURE_ALGO (1: ECDSA P-384 with SHA-384) |
 * | 0x038 | 8 | CURRENT_TCB |
 * | 0x050 | 64 | REPORT_DATA (Cocoon: SHA-512 of the claims) |
 * | 0x090 | 48 | MEASUREMENT (launch digest of the guest image) |
 * | 0x0C0 | 32 | HOST_DATA |
 * | 0x180 | 8 | REPORTED_TCB (what the VCEK was derived for) |
 * | 0x188 | 1 | CPUID_FAM_ID (version 3 and later: 0x19 Milan and Genoa, 0x1A Turin) |
 * | 0x1A0 | 64 | CHIP_ID (EPYC Turin: 8 bytes, then zeros) |
 * | 0x2A0 | 512 | SIGNATURE: R (72 bytes) then S (72 bytes), little-endian, zero-extended |
 *
 * The signature covers bytes [0, 0x2A0). TCB_VERSION has two layouts: EPYC
 * Milan and Genoa (bootloader, TEE, 4 reserved, SNP, microcode) and EPYC
 * Turin (FMC, bootloader, TEE, SNP, 3 reserved, microcode).
 */
export const SNP_REPORT_SIZE = 0x4a0;
export const SNP_SIGNED_SIZE = 0x2a0;
export const SNP_REPORT_VERSIONS: readonly number[] = [2, 3, 5];
export const SNP_SIGNATURE_ALGO_ECDSA_P384_SHA384 = 1;
/** POLICY bit 19: the guest may be debugged (its memory is open to the host). */
export const SNP_POLICY_DEBUG = 1n << 19n;
/** POLICY bit 18: a migration agent may be associated with the guest (and export its memory); refused as DEBUG is. */
export const SNP_POLICY_MIGRATE_MA = 1n << 18n;

export const SNP_OFFSETS = {
    version: 0x00,
    guestSvn: 0x04,
    policy: 0x08,
    vmpl: 0x30,
    signatureAlgo: 0x34,
    currentTcb: 0x38,
    reportData: 0x50,
    measurement: 0x90,
    hostData: 0xc0,
    reportedTcb: 0x180,
    cpuidFamily: 0x188,
    chipId: 0x1a0,
    signature: 0x2a0,
} as const;

/**
 * The security version numbers of a TCB_VERSION. With `fmc` (the firmware
 * FMC's, EPYC Turin and later) it is in Turin's layout, without it in
 * Milan's and Genoa's.
 */
export interface SnpTcb {
    fmc?: number;
    bootloader: number;
    tee: number;
    snp: number;
    microcode: number;
}

/** CPUID family of EPYC Turin, which reports carry from version 3 on. */
export const SNP_TURIN_FAMILY = 0x1a;

export interface SnpReport {
    raw: Buffer;
    version: number;
    guestSvn: number;
    policy: bigint;
    vmpl: number;
    signatureAlgo: number;
    currentTcb: SnpTcb;
    reportData: Buffer;
    measurement: Buffer;
    hostData: Buffer;
    reportedTcb: SnpTcb;
    /** REPORTED_TCB's 8 bytes as the little-endian integer the VCEK's TCB extensions rebuild. */
    reportedTcbRaw: bigint;
    /** CPUID_FAM_ID (version 3 and later). */
    cpuidFamily?: number;
    /** Whether the TCB fields are in EPYC Turin's layout (from the CPUID family; in a version 2 report, from Turin's short CHIP_ID). */
    turin: boolean;
    chipId: Buffer;
    /** ECDSA P-384 signature over SHA-384 of `signed`. */
    signature: { r: bigint; s: bigint };
    /** Bytes [0, 0x2A0): what the signature covers. */
    signed: Buffer;
}

const SIGNATURE_COMPONENT = 72;
const P384_BYTES = 48;

function le(b: Uint8Array): bigint {
    return bytesToUint(Buffer.from(b).reverse());
}

/** A TCB_VERSION from its 8 bytes in the given layout; reserved bytes must be zero. */
export function snpTcbOf(b: Uint8Array, turin = false): SnpTcb {
    if (b.length !== 8) throw new Error('SEV-SNP TCB_VERSION is 8 bytes');
    if (turin) {
        if (b[4] | b[5] | b[6]) throw new Error('SEV-SNP TCB_VERSION (Turin layout): reserved bytes 4 to 6 are not zero');
        return { fmc: b[0], bootloader: b[1], tee: b[2], snp: b[3], microcode: b[7] };
    }
    if (b[2] | b[3] | b[4] | b[5]) throw new Error('SEV-SNP TCB_VERSION: reserved bytes 2 to 5 are not zero (a TCB layout this parser does not know)');
    return { bootloader: b[0], tee: b[1], snp: b[6], microcode: b[7] };
}

/** The 8 TCB_VERSION bytes of `tcb`, as the report carries them (Turin's layout when it has an FMC part). */
export function snpTcbBytes(tcb: SnpTcb): Buffer {
    const out = Buffer.alloc(8);
    const parts = tcb.fmc === undefined ? [tcb.bootloader, tcb.tee, 0, 0, 0, 0, tcb.snp, tcb.microcode] : [tcb.fmc, tcb.bootloader, tcb.tee, tcb.snp, 0, 0, 0, tcb.microcode];
    for (const [i, v] of parts.entries()) {
        if (!Number.isInteger(v) || v < 0 || v > 255) throw new Error(`SEV-SNP TCB parts are bytes, got ${v}`);
        out[i] = v;
    }
    return out;
}

/** A TCB as text: its parts by name. */
export function snpTcbText(t: SnpTcb): string {
    return `${t.fmc === undefined ? '' : `FMC ${t.fmc}, `}bootloader ${t.bootloader}, TEE ${t.tee}, SNP ${t.snp}, microcode ${t.microcode}`;
}

/**
 * Parses a report strictly: exactly SNP_REPORT_SIZE bytes, a known version,
 * the P-384 signature algorithm, signature components of at most 48 bytes
 * with the rest of the signature area zero.
 */
export function parseSnpReport(raw: Uint8Array): SnpReport {
    const b = Buffer.from(raw);
    if (b.length !== SNP_REPORT_SIZE) throw new Error(`SEV-SNP report: ${b.length} bytes, expected ${SNP_REPORT_SIZE}`);
    const version = b.readUInt32LE(SNP_OFFSETS.version);
    if (!SNP_REPORT_VERSIONS.includes(version)) throw new Error(`SEV-SNP report: version ${version}, expected one of ${SNP_REPORT_VERSIONS.join(', ')}`);
    const signatureAlgo = b.readUInt32LE(SNP_OFFSETS.signatureAlgo);
    if (signatureAlgo !== SNP_SIGNATURE_ALGO_ECDSA_P384_SHA384) throw new Error(`SEV-SNP report: signature algorithm ${signatureAlgo}, expected 1 (ECDSA P-384 with SHA-384)`);
    const sig = b.subarray(SNP_OFFSETS.signature);
    const component = (at: number) => {
        const c = sig.subarray(at, at + SIGNATURE_COMPONENT);
        if (c.subarray(P384_BYTES).some((x) => x !== 0)) throw new Error('SEV-SNP report: a signature component is wider than 48 bytes');
        return le(c.subarray(0, P384_BYTES));
    };
    if (sig.subarray(2 * SIGNATURE_COMPONENT).some((x) => x !== 0)) throw new Error('SEV-SNP report: non-zero bytes after the signature');
    const reportedTcbBytes = b.subarray(SNP_OFFSETS.reportedTcb, SNP_OFFSETS.reportedTcb + 8);
    const chipId = Buffer.from(b.subarray(SNP_OFFSETS.chipId, SNP_OFFSETS.chipId + 64));
    const cpuidFamily = version >= 3 ? b[SNP_OFFSETS.cpuidFamily] : undefined;
    // (A masked CHIP_ID, all zero, says nothing of the generation.)
    const turin = cpuidFamily !== undefined ? cpuidFamily >= SNP_TURIN_FAMILY : chipId.subarray(8).every((x) => x === 0) && chipId.subarray(0, 8).some((x) => x !== 0);
    return {
        raw: b,
        version,
        guestSvn: b.readUInt32LE(SNP_OFFSETS.guestSvn),
        policy: b.readBigUInt64LE(SNP_OFFSETS.policy),
        vmpl: b.readUInt32LE(SNP_OFFSETS.vmpl),
        signatureAlgo,
        currentTcb: snpTcbOf(b.subarray(SNP_OFFSETS.currentTcb, SNP_OFFSETS.currentTcb + 8), turin),
        reportData: Buffer.from(b.subarray(SNP_OFFSETS.reportData, SNP_OFFSETS.reportData + 64)),
        measurement: Buffer.from(b.subarray(SNP_OFFSETS.measurement, SNP_OFFSETS.measurement + 48)),
        hostData: Buffer.from(b.subarray(SNP_OFFSETS.hostData, SNP_OFFSETS.hostData + 32)),
        reportedTcb: snpTcbOf(reportedTcbBytes, turin),
        reportedTcbRaw: le(reportedTcbBytes),
        cpuidFamily,
        turin,
        chipId,
        signature: { r: component(0), s: component(SIGNATURE_COMPONENT) },
        signed: Buffer.from(b.subarray(0, SNP_SIGNED_SIZE)),
    };
}

/**
 * The image hash an SEV-SNP guest is allow-listed under: SHA-256 of its
 * MEASUREMENT (the launch digest over the initial guest memory, the VMSAs
 * and, with measured direct boot, the kernel, initrd and command line).
 * HOST_DATA is not part of it: the host chooses it.
 */
export function snpImageHashOf(report: Pick<SnpReport, 'measurement'>): bigint {
    return bytesToUint(createHash('sha256').update(report.measurement).digest());
}

/** SHA-384 of the signed part of the report: the digest its ECDSA signature is over. */
export function snpReportDigest(report: Pick<SnpReport, 'signed'>): Buffer {
    return createHash('sha384').update(report.signed).digest();
}
