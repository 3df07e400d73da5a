import { KeyObject, createECDH, createHash, createPrivateKey, generateKeyPairSync, sign as nodeSign } from 'crypto';
import {
    OID_ECDSA_SHA256,
    P256Point,
    bigintTo32,
    derBitString,
    derBool,
    derEcdsaSignature,
    derExplicit,
    derInt,
    derName,
    derOctets,
    derOid,
    derSeq,
    derTime,
    derToPem,
    p256Spki,
    OID_SGX_EXTENSIONS,
    OID_SGX_FMSPC,
} from './der';
import {
    BODY_TYPE_TD_REPORT_10,
    BODY_TYPE_TD_REPORT_15,
    BodyType,
    QE_REPORT,
    QUOTE_HEADER_SIZE,
    QuoteVersion,
    TD_REPORT_BODY_SIZES,
    TdReportFieldName,
    quoteSignedSize,
    signedFieldRange,
} from './quote';
import { bytesToUint } from '../../helpers/bytes';

/**
 * A test certificate authority that produces TDX quotes with the same layout
 * and signature scheme as Intel's: a root, a platform CA and a PCK
 * certificate (ECDSA P-256 with SHA-256, DER built here), a QE report signed
 * by the PCK key that certifies an attestation key, and a quote signed by
 * that key. Tests pin `root.publicKey` as the trusted root. Never for
 * production: the keys live in this process.
 */

export interface TestKey {
    privateKey: KeyObject;
    publicKey: P256Point;
}

export function generateP256(): TestKey {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const jwk = publicKey.export({ format: 'jwk' });
    const b = (s: string | undefined) => bytesToUint(Buffer.from(s!, 'base64url'));
    return { privateKey, publicKey: { x: b(jwk.x), y: b(jwk.y) } };
}

/** ECDSA P-256 over SHA-256(data), r and s as integers. */
export function signP256(key: KeyObject, data: Uint8Array): { r: bigint; s: bigint } {
    const sig = nodeSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
    return { r: bytesToUint(sig.subarray(0, 32)), s: bytesToUint(sig.subarray(32)) };
}

export interface CertificateOptions {
    subjectCN: string;
    issuerCN: string;
    subject: P256Point;
    issuer: KeyObject;
    notBefore: Date;
    notAfter: Date;
    serial?: bigint;
    isCA?: boolean;
    /** A CA's pathLenConstraint (none: unlimited). */
    pathLen?: number;
    /** The extensions' DER instead of the critical basicConstraints alone (empty: no extensions). */
    extensions?: Buffer[];
}

/** A basicConstraints extension (critical) as Intel's certificates carry it. */
export function basicConstraintsExtension(isCA: boolean, pathLen?: number): Buffer {
    const value = isCA ? derSeq(derBool(true), ...(pathLen === undefined ? [] : [derInt(BigInt(pathLen))])) : derSeq();
    return derSeq(derOid('2.5.29.19'), derBool(true), derOctets(value));
}

/** Intel's SGX extension as a PCK certificate carries it, reduced to a PPID and the FMSPC. */
export function sgxExtension(fmspc: Buffer): Buffer {
    if (fmspc.length !== 6) throw new Error('FMSPC is 6 bytes');
    const entry = (oid: string, value: Buffer) => derSeq(derOid(oid), derOctets(value));
    return derSeq(derOid(OID_SGX_EXTENSIONS), derOctets(derSeq(entry(`${OID_SGX_EXTENSIONS}.1`, Buffer.alloc(16, 0x5b)), entry(OID_SGX_FMSPC, fmspc))));
}

/** The test platform's FMSPC (a made-up one). */
export const TEST_FMSPC = Buffer.from('a0b0c0000000', 'hex');

/** Builds the TBSCertificate: v3, ecdsa-with-SHA256, CN-only names, a P-256 key. */
export function buildTbs(o: CertificateOptions): Buffer {
    const list = o.extensions ?? [basicConstraintsExtension(o.isCA ?? false, o.pathLen)];
    const extensions = list.length === 0 ? Buffer.alloc(0) : derExplicit(3, derSeq(...list));
    return derSeq(
        derExplicit(0, derInt(2n)),
        derInt(o.serial ?? 1n),
        derSeq(derOid(OID_ECDSA_SHA256)),
        derName(o.issuerCN),
        derSeq(derTime(o.notBefore), derTime(o.notAfter)),
        derName(o.subjectCN),
        p256Spki(o.subject),
        extensions,
    );
}

export function signCertificate(tbs: Buffer, issuer: KeyObject): Buffer {
    const { r, s } = signP256(issuer, tbs);
    return derSeq(tbs, derSeq(derOid(OID_ECDSA_SHA256)), derBitString(derEcdsaSignature(r, s)));
}

export interface TestQuoteOptions {
    reportData: Buffer;
    mrTd?: Buffer;
    rtmrs?: [Buffer, Buffer, Buffer, Buffer];
    teeTcbSvn?: Buffer;
    /** TDATTRIBUTES (8 bytes); bit 0 of byte 0 is DEBUG. */
    tdAttributes?: Buffer;
    /** Quote version (default 4). */
    version?: QuoteVersion;
    /** Version 5 only: 2 = TD report 1.0 body, 3 = TD report 1.5 body (the default for version 5). */
    bodyType?: BodyType;
    /** TD report 1.5 body only (16 bytes). */
    teeTcbSvn2?: Buffer;
    /** TD report 1.5 body only (48 bytes; default all zero: bound to no service TD). */
    mrServiceTd?: Buffer;
    attestationKeyType?: number;
    teeType?: number;
    qeMrSigner?: Buffer;
    qeIsvProdId?: number;
    qeIsvSvn?: number;
    /** QE report MISCSELECT (4 bytes, report byte order). */
    qeMiscSelect?: Buffer;
    /** QE report ATTRIBUTES (16 bytes, report byte order). */
    qeAttributes?: Buffer;
    qeAuthData?: Buffer;
    /** Zero bytes after the signature data, as real quotes often carry. */
    padding?: number;
    /** Certificate validity (all three). */
    notBefore?: Date;
    notAfter?: Date;
    /** PCK certificate's own notAfter, if different. */
    pckNotAfter?: Date;
    /** The platform's FMSPC in the PCK certificate (default TEST_FMSPC). */
    fmspc?: Buffer;
}

export interface TestCa {
    root: TestKey;
    platformCa: TestKey;
    pck: TestKey;
    attestation: TestKey;
}

/** A P-256 key derived from `seed` (the private scalar is SHA-256 of it): the same keys every run. */
export function p256FromSeed(seed: string): TestKey {
    const d = createHash('sha256').update(seed).digest();
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(d);
    const point = ecdh.getPublicKey();
    const [x, y] = [point.subarray(1, 33), point.subarray(33)];
    const privateKey = createPrivateKey({ key: { kty: 'EC', crv: 'P-256', d: d.toString('base64url'), x: x.toString('base64url'), y: y.toString('base64url') }, format: 'jwk' });
    return { privateKey, publicKey: { x: bytesToUint(x), y: bytesToUint(y) } };
}

/** Fresh keys, or keys derived from `seed` (measurements that must repeat: key ids shape the verifier's cache). */
export function createTestCa(seed?: string): TestCa {
    const key = (role: string) => (seed === undefined ? generateP256() : p256FromSeed(`${seed}/${role}`));
    return { root: key('root'), platformCa: key('platform CA'), pck: key('PCK'), attestation: key('attestation') };
}

export const TEST_QE_MRSIGNER = Buffer.alloc(32, 0x5a);
export const TEST_QE_PRODID = 2;
export const TEST_QE_SVN = 8;
/** MISCSELECT and ATTRIBUTES of Intel's TD quoting enclave, as both real fixtures report them. */
export const TEST_QE_MISCSELECT = Buffer.from('00000000', 'hex');
export const TEST_QE_ATTRIBUTES = Buffer.from('1500000000000000e700000000000000', 'hex');

function filled(n: number, byte: number): Buffer {
    return Buffer.alloc(n, byte);
}

/** Default measurements of a test image. */
export const TEST_MEASUREMENTS = {
    mrTd: filled(48, 0x11),
    rtmrs: [filled(48, 0x20), filled(48, 0x21), filled(48, 0x22), filled(48, 0x23)] as [Buffer, Buffer, Buffer, Buffer],
};

/** Copies `value` into `target` at `range`, which it must fill exactly. */
function put(target: Buffer, [offset, size]: readonly [number, number], value: Buffer, name: string) {
    if (value.length !== size) throw new Error(`test quote: ${name} needs ${size} bytes, got ${value.length}`);
    value.copy(target, offset);
}

/** Builds a complete quote, version 4 or 5 (raw bytes), signed by the test CA. */
export function buildTestQuote(ca: TestCa, o: TestQuoteOptions): Buffer {
    const notBefore = o.notBefore ?? new Date(Date.UTC(2020, 0, 1));
    const notAfter = o.notAfter ?? new Date(Date.UTC(2099, 0, 1));
    const rootDer = signCertificate(
        buildTbs({
            subjectCN: 'Test SGX Root CA',
            issuerCN: 'Test SGX Root CA',
            subject: ca.root.publicKey,
            issuer: ca.root.privateKey,
            notBefore,
            notAfter,
            isCA: true,
            serial: 1n,
        }),
        ca.root.privateKey,
    );
    const platformDer = signCertificate(
        buildTbs({
            subjectCN: 'Test SGX PCK Platform CA',
            issuerCN: 'Test SGX Root CA',
            subject: ca.platformCa.publicKey,
            issuer: ca.root.privateKey,
            notBefore,
            notAfter,
            isCA: true,
            // As Intel's Platform CA: no CA below it.
            pathLen: 0,
            serial: 2n,
        }),
        ca.root.privateKey,
    );
    const pckDer = signCertificate(
        buildTbs({
            subjectCN: 'Test SGX PCK Certificate',
            issuerCN: 'Test SGX PCK Platform CA',
            subject: ca.pck.publicKey,
            issuer: ca.platformCa.privateKey,
            notBefore,
            notAfter: o.pckNotAfter ?? notAfter,
            serial: 3n,
            extensions: [basicConstraintsExtension(false), sgxExtension(o.fmspc ?? TEST_FMSPC)],
        }),
        ca.platformCa.privateKey,
    );
    const pem = Buffer.from(derToPem(pckDer) + derToPem(platformDer) + derToPem(rootDer), 'ascii');

    // Header, (version 5) body type and size, and TD report body.
    const version = o.version ?? 4;
    const bodyType = o.bodyType ?? (version === 5 ? BODY_TYPE_TD_REPORT_15 : BODY_TYPE_TD_REPORT_10);
    const signed = Buffer.alloc(quoteSignedSize(version, bodyType));
    signed.writeUInt16LE(version, 0);
    signed.writeUInt16LE(o.attestationKeyType ?? 2, 2);
    signed.writeUInt32LE(o.teeType ?? 0x81, 4);
    Buffer.from('939a7233f79c4ca9940a0db3957f0607', 'hex').copy(signed, 12);
    if (version === 5) {
        signed.writeUInt16LE(bodyType, QUOTE_HEADER_SIZE);
        signed.writeUInt32LE(TD_REPORT_BODY_SIZES[bodyType], QUOTE_HEADER_SIZE + 2);
    }
    const putBody = (name: TdReportFieldName, value: Buffer) => put(signed, signedFieldRange(version, name), value, name);
    putBody('teeTcbSvn', o.teeTcbSvn ?? Buffer.from('07010300000000000000000000000000', 'hex'));
    putBody('mrSeam', filled(48, 0x49));
    putBody('tdAttributes', o.tdAttributes ?? Buffer.from('0000001000000000', 'hex'));
    putBody('xfam', Buffer.from('e702060000000000', 'hex'));
    putBody('mrTd', o.mrTd ?? TEST_MEASUREMENTS.mrTd);
    const rtmrs = o.rtmrs ?? TEST_MEASUREMENTS.rtmrs;
    putBody('rtmr0', rtmrs[0]);
    putBody('rtmr1', rtmrs[1]);
    putBody('rtmr2', rtmrs[2]);
    putBody('rtmr3', rtmrs[3]);
    putBody('reportData', o.reportData);
    if (bodyType === BODY_TYPE_TD_REPORT_15) {
        putBody('teeTcbSvn2', o.teeTcbSvn2 ?? Buffer.from('0d010300000000000000000000000000', 'hex'));
        putBody('mrServiceTd', o.mrServiceTd ?? Buffer.alloc(48));
    } else if (o.teeTcbSvn2 || o.mrServiceTd) {
        throw new Error('test quote: TEE_TCB_SVN2 and MRSERVICETD need a TD report 1.5 body (version 5, body type 3)');
    }
    const quoteSig = signP256(ca.attestation.privateKey, signed);

    // QE report, binding the attestation key and auth data.
    const attKey = Buffer.concat([bigintTo32(ca.attestation.publicKey.x), bigintTo32(ca.attestation.publicKey.y)]);
    const authData = o.qeAuthData ?? Buffer.from([...Array(32).keys()]);
    const qeReport = Buffer.alloc(384);
    put(qeReport, QE_REPORT.miscSelect, o.qeMiscSelect ?? TEST_QE_MISCSELECT, 'QE MISCSELECT');
    put(qeReport, QE_REPORT.attributes, o.qeAttributes ?? TEST_QE_ATTRIBUTES, 'QE ATTRIBUTES');
    put(qeReport, QE_REPORT.mrSigner, o.qeMrSigner ?? TEST_QE_MRSIGNER, 'QE MRSIGNER');
    qeReport.writeUInt16LE(o.qeIsvProdId ?? TEST_QE_PRODID, QE_REPORT.isvProdId[0]);
    qeReport.writeUInt16LE(o.qeIsvSvn ?? TEST_QE_SVN, QE_REPORT.isvSvn[0]);
    createHash('sha256').update(attKey).update(authData).digest().copy(qeReport, QE_REPORT.reportData[0]);
    const qeSig = signP256(ca.pck.privateKey, qeReport);

    const sig64 = (s: { r: bigint; s: bigint }) => Buffer.concat([bigintTo32(s.r), bigintTo32(s.s)]);
    const inner = Buffer.alloc(6);
    inner.writeUInt16LE(5, 0);
    inner.writeUInt32LE(pem.length, 2);
    const authLen = Buffer.alloc(2);
    authLen.writeUInt16LE(authData.length);
    const qeCertData = Buffer.concat([qeReport, sig64(qeSig), authLen, authData, inner, pem]);
    const outer = Buffer.alloc(6);
    outer.writeUInt16LE(6, 0);
    outer.writeUInt32LE(qeCertData.length, 2);
    const sigData = Buffer.concat([sig64(quoteSig), attKey, outer, qeCertData]);
    const sigLen = Buffer.alloc(4);
    sigLen.writeUInt32LE(sigData.length);
    return Buffer.concat([signed, sigLen, sigData, Buffer.alloc(o.padding ?? 0)]);
}
