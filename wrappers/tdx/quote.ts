import { createHash } from 'crypto';
import { ParsedCertificate, P256Point, parseCertificate, pemToDers } from './der';
import { bytesToUint } from '../../helpers/bytes';

/**
 * Intel TDX DCAP quote v4 parsing (see tests/fixtures/tdx/README.md for
 * the layout). Integers in the quote are little-endian; signatures and keys
 * are big-endian halves.
 */

export const QUOTE_HEADER_SIZE = 48;
export const TD_REPORT_BODY_SIZE = 584;
/** Header and TD report body: the bytes the attestation key signs. */
export const QUOTE_SIGNED_SIZE = QUOTE_HEADER_SIZE + TD_REPORT_BODY_SIZE; // 632
export const QE_REPORT_SIZE = 384;

export const QUOTE_VERSION = 4;
export const ATTESTATION_KEY_TYPE_P256 = 2;
export const TEE_TYPE_TDX = 0x81;
export const CERT_DATA_QE_REPORT = 6;
export const CERT_DATA_PCK_CHAIN = 5;

/** Offsets of the TD report body fields inside the 632 signed bytes. */
export const BODY = {
    teeTcbSvn: [48, 16],
    mrSeam: [64, 48],
    mrSignerSeam: [112, 48],
    seamAttributes: [160, 8],
    tdAttributes: [168, 8],
    xfam: [176, 8],
    mrTd: [184, 48],
    mrConfigId: [232, 48],
    mrOwner: [280, 48],
    mrOwnerConfig: [328, 48],
    rtmr0: [376, 48],
    rtmr1: [424, 48],
    rtmr2: [472, 48],
    rtmr3: [520, 48],
    reportData: [568, 64],
} as const;

/** Offsets inside the 384-byte QE (SGX) report. */
export const QE_REPORT = {
    mrSigner: [128, 32],
    isvProdId: [256, 2],
    isvSvn: [258, 2],
    reportData: [320, 64],
} as const;

export interface ParsedQuote {
    raw: Buffer;
    header: { version: number; attestationKeyType: number; teeType: number; qeVendorId: Buffer };
    /** Header plus TD report body: 632 bytes signed by the attestation key. */
    signed: Buffer;
    body: { [K in keyof typeof BODY]: Buffer };
    signatureDataLength: number;
    quoteSignature: { r: bigint; s: bigint };
    attestationKey: P256Point;
    qeReport: Buffer;
    qe: { mrSigner: Buffer; isvProdId: number; isvSvn: number; reportData: Buffer };
    qeReportSignature: { r: bigint; s: bigint };
    qeAuthData: Buffer;
    certChainPem: string;
    /** PCK certificate first, then its issuers up to the root, as in the quote. */
    certificates: ParsedCertificate[];
}

function be(b: Buffer): bigint {
    return bytesToUint(b);
}

function field(buf: Buffer, [off, len]: readonly [number, number]): Buffer {
    return Buffer.from(buf.subarray(off, off + len));
}

function need(buf: Buffer, end: number, what: string) {
    if (end > buf.length) throw new Error(`quote: truncated in ${what} (needs ${end} bytes, has ${buf.length})`);
}

/** Parses a raw TDX quote v4 with ECDSA P-256 attestation and a PEM PCK chain. */
export function parseQuote(raw: Uint8Array): ParsedQuote {
    const q = Buffer.from(raw);
    need(q, QUOTE_SIGNED_SIZE + 4, 'header and body');
    const header = {
        version: q.readUInt16LE(0),
        attestationKeyType: q.readUInt16LE(2),
        teeType: q.readUInt32LE(4),
        qeVendorId: field(q, [12, 16]),
    };
    if (header.version !== QUOTE_VERSION) throw new Error(`quote: version ${header.version}, expected 4`);
    if (header.attestationKeyType !== ATTESTATION_KEY_TYPE_P256) throw new Error('quote: attestation key is not ECDSA P-256');
    if (header.teeType !== TEE_TYPE_TDX) throw new Error(`quote: TEE type 0x${header.teeType.toString(16)} is not TDX`);
    const signed = field(q, [0, QUOTE_SIGNED_SIZE]);
    const body = Object.fromEntries(Object.entries(BODY).map(([k, r]) => [k, field(q, r)])) as ParsedQuote['body'];
    let p = QUOTE_SIGNED_SIZE;
    const signatureDataLength = q.readUInt32LE(p);
    p += 4;
    need(q, p + signatureDataLength, 'signature data');
    const quoteSignature = { r: be(field(q, [p, 32])), s: be(field(q, [p + 32, 32])) };
    p += 64;
    const attestationKey = { x: be(field(q, [p, 32])), y: be(field(q, [p + 32, 32])) };
    p += 64;
    const outerType = q.readUInt16LE(p);
    const outerSize = q.readUInt32LE(p + 2);
    p += 6;
    if (outerType !== CERT_DATA_QE_REPORT) throw new Error(`quote: certification data type ${outerType}, expected 6`);
    need(q, p + outerSize, 'QE report certification data');
    const qeReport = field(q, [p, QE_REPORT_SIZE]);
    p += QE_REPORT_SIZE;
    const qeReportSignature = { r: be(field(q, [p, 32])), s: be(field(q, [p + 32, 32])) };
    p += 64;
    const authLen = q.readUInt16LE(p);
    p += 2;
    const qeAuthData = field(q, [p, authLen]);
    p += authLen;
    const innerType = q.readUInt16LE(p);
    const innerSize = q.readUInt32LE(p + 2);
    p += 6;
    if (innerType !== CERT_DATA_PCK_CHAIN) throw new Error(`quote: inner certification data type ${innerType}, expected 5`);
    need(q, p + innerSize, 'PCK certificate chain');
    const certChainPem = q
        .subarray(p, p + innerSize)
        .toString('ascii')
        .replace(/\0+$/, '');
    const certificates = pemToDers(certChainPem).map(parseCertificate);
    if (certificates.length < 2) throw new Error('quote: PCK chain has fewer than two certificates');
    return {
        raw: q,
        header,
        signed,
        body,
        signatureDataLength,
        quoteSignature,
        attestationKey,
        qeReport,
        qe: {
            mrSigner: field(qeReport, QE_REPORT.mrSigner),
            isvProdId: qeReport.readUInt16LE(QE_REPORT.isvProdId[0]),
            isvSvn: qeReport.readUInt16LE(QE_REPORT.isvSvn[0]),
            reportData: field(qeReport, QE_REPORT.reportData),
        },
        qeReportSignature,
        qeAuthData,
        certChainPem,
        certificates,
    };
}

/** SHA-256(MRTD || RTMR0 || RTMR1 || RTMR2 || RTMR3): what the Registry allow-lists. */
export function imageHashOf(body: ParsedQuote['body']): bigint {
    const h = createHash('sha256');
    for (const part of [body.mrTd, body.rtmr0, body.rtmr1, body.rtmr2, body.rtmr3]) h.update(part);
    return be(h.digest());
}

/** TEE_TCB_SVN as the big-endian uint128 that NetworkParams.minTeeTcbSvn uses. */
export function teeTcbSvnOf(body: ParsedQuote['body']): bigint {
    return be(body.teeTcbSvn);
}
