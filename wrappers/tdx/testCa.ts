import { KeyObject, createHash, generateKeyPairSync, sign as nodeSign } from 'crypto';
import { OID_ECDSA_SHA256, P256Point, bigintTo32, derBitString, derBool, derEcdsaSignature, derExplicit, derInt, derName, derOctets, derOid, derSeq, derTime, derToPem, p256Spki } from './der';
import { QE_REPORT, QUOTE_SIGNED_SIZE, BODY } from './quote';
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
}

/** Builds the TBSCertificate: v3, ecdsa-with-SHA256, CN-only names, a P-256 key. */
export function buildTbs(o: CertificateOptions): Buffer {
    const extensions = derExplicit(
        3,
        derSeq(
            // basicConstraints, critical
            derSeq(derOid('2.5.29.19'), derBool(true), derOctets(o.isCA ? derSeq(derBool(true)) : derSeq())),
        ),
    );
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
    version?: number;
    attestationKeyType?: number;
    teeType?: number;
    qeMrSigner?: Buffer;
    qeIsvProdId?: number;
    qeIsvSvn?: number;
    qeAuthData?: Buffer;
    /** Certificate validity (all three). */
    notBefore?: Date;
    notAfter?: Date;
    /** PCK certificate's own notAfter, if different. */
    pckNotAfter?: Date;
}

export interface TestCa {
    root: TestKey;
    platformCa: TestKey;
    pck: TestKey;
    attestation: TestKey;
}

export function createTestCa(): TestCa {
    return { root: generateP256(), platformCa: generateP256(), pck: generateP256(), attestation: generateP256() };
}

export const TEST_QE_MRSIGNER = Buffer.alloc(32, 0x5a);
export const TEST_QE_PRODID = 2;
export const TEST_QE_SVN = 8;

function filled(n: number, byte: number): Buffer {
    return Buffer.alloc(n, byte);
}

/** Default measurements of a test image. */
export const TEST_MEASUREMENTS = {
    mrTd: filled(48, 0x11),
    rtmrs: [filled(48, 0x20), filled(48, 0x21), filled(48, 0x22), filled(48, 0x23)] as [Buffer, Buffer, Buffer, Buffer],
};

/** Builds a complete quote v4 (raw bytes) signed by the test CA. */
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
        }),
        ca.platformCa.privateKey,
    );
    const pem = Buffer.from(derToPem(pckDer) + derToPem(platformDer) + derToPem(rootDer), 'ascii');

    // Header and TD report body.
    const signed = Buffer.alloc(QUOTE_SIGNED_SIZE);
    signed.writeUInt16LE(o.version ?? 4, 0);
    signed.writeUInt16LE(o.attestationKeyType ?? 2, 2);
    signed.writeUInt32LE(o.teeType ?? 0x81, 4);
    Buffer.from('939a7233f79c4ca9940a0db3957f0607', 'hex').copy(signed, 12);
    const put = (f: readonly [number, number], v: Buffer) => {
        if (v.length !== f[1]) throw new Error(`test quote: field needs ${f[1]} bytes, got ${v.length}`);
        v.copy(signed, f[0]);
    };
    put(BODY.teeTcbSvn, o.teeTcbSvn ?? Buffer.from('07010300000000000000000000000000', 'hex'));
    put(BODY.mrSeam, filled(48, 0x49));
    put(BODY.tdAttributes, o.tdAttributes ?? Buffer.from('0000001000000000', 'hex'));
    put(BODY.xfam, Buffer.from('e702060000000000', 'hex'));
    put(BODY.mrTd, o.mrTd ?? TEST_MEASUREMENTS.mrTd);
    const rtmrs = o.rtmrs ?? TEST_MEASUREMENTS.rtmrs;
    put(BODY.rtmr0, rtmrs[0]);
    put(BODY.rtmr1, rtmrs[1]);
    put(BODY.rtmr2, rtmrs[2]);
    put(BODY.rtmr3, rtmrs[3]);
    put(BODY.reportData, o.reportData);
    const quoteSig = signP256(ca.attestation.privateKey, signed);

    // QE report, binding the attestation key and auth data.
    const attKey = Buffer.concat([bigintTo32(ca.attestation.publicKey.x), bigintTo32(ca.attestation.publicKey.y)]);
    const authData = o.qeAuthData ?? Buffer.from([...Array(32).keys()]);
    const qeReport = Buffer.alloc(384);
    (o.qeMrSigner ?? TEST_QE_MRSIGNER).copy(qeReport, QE_REPORT.mrSigner[0]);
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
    return Buffer.concat([signed, sigLen, sigData]);
}
