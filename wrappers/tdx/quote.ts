import { createHash } from 'crypto';
import { ParsedCertificate, P256Point, parseCertificate, pemToDers } from './der';
import { bytesToUint } from '../../helpers/bytes';

/**
 * Intel TDX DCAP quote parsing, versions 4 and 5 (see
 * tests/fixtures/tdx/README.md for both layouts). Integers in the quote are
 * little-endian; signatures and keys are big-endian halves.
 *
 * Framing follows Intel's rules strictly: every declared size must equal the
 * bytes it frames, and only zero padding may follow the signature data, so a
 * quote has exactly one reading and nothing unsigned rides along with it.
 */

export const QUOTE_HEADER_SIZE = 48;
/** Version 5 puts the body type (u16) and body size (u32) between header and body. */
export const V5_BODY_DESCRIPTOR_SIZE = 6;
export const QE_REPORT_SIZE = 384;

export type QuoteVersion = 4 | 5;
export const QUOTE_VERSIONS: readonly QuoteVersion[] = [4, 5];
/** TD report body types of version 5; a version 4 body is always a TD report 1.0 body. */
export type BodyType = 2 | 3;
export const BODY_TYPE_TD_REPORT_10: BodyType = 2;
export const BODY_TYPE_TD_REPORT_15: BodyType = 3;
export const TD_REPORT_BODY_SIZES: Readonly<Record<BodyType, number>> = { 2: 584, 3: 648 };

export const ATTESTATION_KEY_TYPE_P256 = 2;
export const TEE_TYPE_TDX = 0x81;
export const CERT_DATA_QE_REPORT = 6;
export const CERT_DATA_PCK_CHAIN = 5;

const SIGNATURE_SIZE = 64;
const ATTESTATION_KEY_SIZE = 64;
/** Certification data header: type u16 and size u32. */
const CERT_DATA_HEADER_SIZE = 6;

/** TD report 1.0 body fields: [offset from the start of the body, size]. */
export const TD_REPORT_FIELDS = {
    teeTcbSvn: [0, 16],
    mrSeam: [16, 48],
    mrSignerSeam: [64, 48],
    seamAttributes: [112, 8],
    tdAttributes: [120, 8],
    xfam: [128, 8],
    mrTd: [136, 48],
    mrConfigId: [184, 48],
    mrOwner: [232, 48],
    mrOwnerConfig: [280, 48],
    rtmr0: [328, 48],
    rtmr1: [376, 48],
    rtmr2: [424, 48],
    rtmr3: [472, 48],
    reportData: [520, 64],
} as const;

/** What a TD report 1.5 body (version 5, body type 3) appends to the 1.0 fields. */
export const TD_REPORT_15_FIELDS = {
    teeTcbSvn2: [584, 16],
    mrServiceTd: [600, 48],
} as const;

export type TdReportFieldName = keyof typeof TD_REPORT_FIELDS | keyof typeof TD_REPORT_15_FIELDS;

const ALL_TD_REPORT_FIELDS: Readonly<Record<TdReportFieldName, readonly [number, number]>> = { ...TD_REPORT_FIELDS, ...TD_REPORT_15_FIELDS };

export type TdReportBody = { [K in keyof typeof TD_REPORT_FIELDS]: Buffer } & {
    /** Present for a TD report 1.5 body only. */
    teeTcbSvn2?: Buffer;
    /** Present for a TD report 1.5 body only; all zero when the TD is bound to no service TD. */
    mrServiceTd?: Buffer;
};

/** Offsets inside the 384-byte QE (SGX) report. */
export const QE_REPORT = {
    miscSelect: [16, 4],
    attributes: [48, 16],
    mrSigner: [128, 32],
    isvProdId: [256, 2],
    isvSvn: [258, 2],
    reportData: [320, 64],
} as const;

export interface ParsedQuote {
    raw: Buffer;
    header: { version: QuoteVersion; attestationKeyType: number; teeType: number; qeVendorId: Buffer };
    /** 2 = TD report 1.0 body (every version 4 quote), 3 = TD report 1.5 body. */
    bodyType: BodyType;
    /** The bytes the attestation key signs: header, (version 5) body type and size, and the TD report body. */
    signed: Buffer;
    body: TdReportBody;
    signatureDataLength: number;
    quoteSignature: { r: bigint; s: bigint };
    attestationKey: P256Point;
    qeReport: Buffer;
    /** MISCSELECT and ATTRIBUTES in report byte order. */
    qe: { mrSigner: Buffer; isvProdId: number; isvSvn: number; miscSelect: Buffer; attributes: Buffer; reportData: Buffer };
    qeReportSignature: { r: bigint; s: bigint };
    qeAuthData: Buffer;
    certChainPem: string;
    /** PCK certificate first, then its issuers up to the root, as in the quote. */
    certificates: ParsedCertificate[];
}

/** Where the TD report body starts in a quote of `version`. */
export function tdReportBodyStart(version: QuoteVersion): number {
    return version === 5 ? QUOTE_HEADER_SIZE + V5_BODY_DESCRIPTOR_SIZE : QUOTE_HEADER_SIZE;
}

/** How many bytes the attestation key signs: 632 (v4), 638 (v5, TD report 1.0) or 702 (v5, TD report 1.5). */
export function quoteSignedSize(version: QuoteVersion, bodyType: BodyType): number {
    if (version === 4 && bodyType !== BODY_TYPE_TD_REPORT_10) throw new Error('quote: a version 4 quote carries a TD report 1.0 body (type 2)');
    return tdReportBodyStart(version) + TD_REPORT_BODY_SIZES[bodyType];
}

/** [offset, size] of a TD report body field inside the signed bytes of a quote of `version`. */
export function signedFieldRange(version: QuoteVersion, name: TdReportFieldName): readonly [number, number] {
    const [offset, size] = ALL_TD_REPORT_FIELDS[name];
    return [tdReportBodyStart(version) + offset, size];
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

/** Index of the first non-zero byte of `buf` at or after `from`, or -1. */
function firstNonZero(buf: Buffer, from = 0): number {
    for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return i;
    return -1;
}

function readVersion(q: Buffer): QuoteVersion {
    const version = q.readUInt16LE(0);
    if (!(QUOTE_VERSIONS as readonly number[]).includes(version)) throw new Error(`quote: version ${version}, expected 4 or 5`);
    return version as QuoteVersion;
}

/** Version 5's body type and body size, which must agree with each other. */
function readV5BodyType(q: Buffer): BodyType {
    need(q, QUOTE_HEADER_SIZE + V5_BODY_DESCRIPTOR_SIZE, 'body type and size');
    const bodyType = q.readUInt16LE(QUOTE_HEADER_SIZE);
    if (bodyType !== BODY_TYPE_TD_REPORT_10 && bodyType !== BODY_TYPE_TD_REPORT_15) throw new Error(`quote: body type ${bodyType}, expected 2 (TD report 1.0) or 3 (TD report 1.5)`);
    const bodySize = q.readUInt32LE(QUOTE_HEADER_SIZE + 2);
    const expected = TD_REPORT_BODY_SIZES[bodyType];
    if (bodySize !== expected) throw new Error(`quote: body size ${bodySize} does not match body type ${bodyType} (${expected} bytes)`);
    return bodyType;
}

function readBody(q: Buffer, version: QuoteVersion, bodyType: BodyType): TdReportBody {
    const names = Object.keys(bodyType === BODY_TYPE_TD_REPORT_15 ? ALL_TD_REPORT_FIELDS : TD_REPORT_FIELDS) as TdReportFieldName[];
    return Object.fromEntries(names.map((name) => [name, field(q, signedFieldRange(version, name))])) as TdReportBody;
}

/** Parses a raw TDX quote (version 4 or 5) with ECDSA P-256 attestation and a PEM PCK chain. */
export function parseQuote(raw: Uint8Array): ParsedQuote {
    const q = Buffer.from(raw);
    need(q, QUOTE_HEADER_SIZE, 'header');
    const version = readVersion(q);
    const header = {
        version,
        attestationKeyType: q.readUInt16LE(2),
        teeType: q.readUInt32LE(4),
        qeVendorId: field(q, [12, 16]),
    };
    if (header.attestationKeyType !== ATTESTATION_KEY_TYPE_P256) throw new Error('quote: attestation key is not ECDSA P-256');
    if (header.teeType !== TEE_TYPE_TDX) throw new Error(`quote: TEE type 0x${header.teeType.toString(16)} is not TDX`);
    const bodyType = version === 5 ? readV5BodyType(q) : BODY_TYPE_TD_REPORT_10;
    const signedSize = quoteSignedSize(version, bodyType);
    need(q, signedSize + 4, 'header and body');
    const signed = field(q, [0, signedSize]);
    const body = readBody(q, version, bodyType);

    let p = signedSize;
    const signatureDataLength = q.readUInt32LE(p);
    p += 4;
    const signatureDataStart = p;
    need(q, p + signatureDataLength, 'signature data');
    need(q, p + SIGNATURE_SIZE + ATTESTATION_KEY_SIZE + CERT_DATA_HEADER_SIZE, 'signature data');
    const quoteSignature = { r: be(field(q, [p, 32])), s: be(field(q, [p + 32, 32])) };
    p += SIGNATURE_SIZE;
    const attestationKey = { x: be(field(q, [p, 32])), y: be(field(q, [p + 32, 32])) };
    p += ATTESTATION_KEY_SIZE;
    const outerType = q.readUInt16LE(p);
    const outerSize = q.readUInt32LE(p + 2);
    p += CERT_DATA_HEADER_SIZE;
    if (outerType !== CERT_DATA_QE_REPORT) throw new Error(`quote: certification data type ${outerType}, expected 6`);
    need(q, p + outerSize, 'QE report certification data');
    const outerStart = p;
    need(q, p + QE_REPORT_SIZE + SIGNATURE_SIZE + 2, 'QE report certification data');
    const qeReport = field(q, [p, QE_REPORT_SIZE]);
    p += QE_REPORT_SIZE;
    const qeReportSignature = { r: be(field(q, [p, 32])), s: be(field(q, [p + 32, 32])) };
    p += SIGNATURE_SIZE;
    const authLen = q.readUInt16LE(p);
    p += 2;
    need(q, p + authLen + CERT_DATA_HEADER_SIZE, 'QE auth data');
    const qeAuthData = field(q, [p, authLen]);
    p += authLen;
    const innerType = q.readUInt16LE(p);
    const innerSize = q.readUInt32LE(p + 2);
    p += CERT_DATA_HEADER_SIZE;
    if (innerType !== CERT_DATA_PCK_CHAIN) throw new Error(`quote: inner certification data type ${innerType}, expected 5`);
    need(q, p + innerSize, 'PCK certificate chain');
    const certChainPem = q
        .subarray(p, p + innerSize)
        .toString('ascii')
        .replace(/\0+$/, '');
    p += innerSize;

    if (outerSize !== p - outerStart) throw new Error(`quote: QE report certification data size ${outerSize}, but its contents take ${p - outerStart} bytes`);
    if (signatureDataLength !== p - signatureDataStart) throw new Error(`quote: signature data length ${signatureDataLength}, but its contents take ${p - signatureDataStart} bytes`);
    const nonZero = firstNonZero(q, p);
    if (nonZero >= 0) throw new Error(`quote: non-zero byte at offset ${nonZero} after the signature data (only zero padding may follow it)`);

    const certificates = pemToDers(certChainPem).map(parseCertificate);
    if (certificates.length < 2) throw new Error('quote: PCK chain has fewer than two certificates');
    return {
        raw: q,
        header,
        bodyType,
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
            miscSelect: field(qeReport, QE_REPORT.miscSelect),
            attributes: field(qeReport, QE_REPORT.attributes),
            reportData: field(qeReport, QE_REPORT.reportData),
        },
        qeReportSignature,
        qeAuthData,
        certChainPem,
        certificates,
    };
}

/**
 * The image hash the Registry allow-lists: SHA-256(MRTD || RTMR0 || RTMR1 ||
 * RTMR2 || RTMR3), with MRSERVICETD appended when a TD report 1.5 body
 * carries a non-zero one. A TD bound to a service TD thus has an image hash of
 * its own that governance must allow separately, while a 1.5 body with a zero
 * MRSERVICETD hashes like the same image on a TD report 1.0 host. The
 * on-chain verifier applies the same rule.
 */
export function imageHashOf(body: TdReportBody): bigint {
    const parts = [body.mrTd, body.rtmr0, body.rtmr1, body.rtmr2, body.rtmr3];
    if (body.mrServiceTd && firstNonZero(body.mrServiceTd) >= 0) parts.push(body.mrServiceTd);
    const h = createHash('sha256');
    for (const part of parts) h.update(part);
    return be(h.digest());
}

/** TEE_TCB_SVN as the big-endian uint128 that NetworkParams.minTeeTcbSvn uses. */
export function teeTcbSvnOf(body: TdReportBody): bigint {
    return be(body.teeTcbSvn);
}
