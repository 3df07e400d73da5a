import { createPublicKey, constants, verify as nodeVerify } from 'crypto';
import { bytesToUint, uintBytes } from '../../helpers/bytes';
import { DerNode, TAG_BIT_STRING, TAG_INTEGER, TAG_OCTET_STRING, commonName, derChildren, oidText, parseDerTime, readDer } from '../tdx/der';
import { SnpTcb } from './report';

/**
 * AMD's SEV-SNP key chain: the AMD Root Key (ARK, RSA-4096, self-signed, one
 * per processor generation) signs the AMD SEV Key (ASK, RSA-4096), which
 * signs each chip's Versioned Chip Endorsement Key (VCEK, ECDSA P-384) for
 * one TCB. Every signature is RSASSA-PSS with SHA-384, MGF1-SHA-384 and a
 * 48-byte salt. The VCEK carries the chip id and its TCB in AMD's extensions
 * (OID 1.3.6.1.4.1.3704.1).
 */

/** The signatureAlgorithm every AMD SEV certificate carries: RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48, trailer 1. */
export const AMD_PSS_ALGORITHM = Buffer.from('304606092a864886f70d01010a3039a00f300d06096086480165030402020500a11c301a06092a864886f70d010108300d06096086480165030402020500a203020130a303020101', 'hex');
export const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
export const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
export const OID_SECP384R1 = '1.3.132.0.34';
export const AMD_SALT_LENGTH = 48;
export const AMD_RSA_BITS = 4096;

/** AMD's extension OIDs in a VCEK. */
export const OID_AMD = {
    structVersion: '1.3.6.1.4.1.3704.1.1',
    productName: '1.3.6.1.4.1.3704.1.2',
    bootloader: '1.3.6.1.4.1.3704.1.3.1',
    tee: '1.3.6.1.4.1.3704.1.3.2',
    snp: '1.3.6.1.4.1.3704.1.3.3',
    microcode: '1.3.6.1.4.1.3704.1.3.8',
    /** EPYC Turin and later: the FMC firmware's security version. */
    fmc: '1.3.6.1.4.1.3704.1.3.9',
    hwId: '1.3.6.1.4.1.3704.1.4',
} as const;

export interface RsaPublicKey {
    n: bigint;
    e: bigint;
}

export interface P384Point {
    x: bigint;
    y: bigint;
}

/** An RSA-4096 modulus's 512 big-endian bytes. */
export function modulusBytes(key: Pick<RsaPublicKey, 'n'>): Buffer {
    return uintBytes(key.n, AMD_RSA_BITS / 8);
}

/** A P-384 key's 96 bytes x || y. */
export function p384KeyBytes(key: P384Point): Buffer {
    return Buffer.concat([uintBytes(key.x, 48), uintBytes(key.y, 48)]);
}

export interface AmdCertificate {
    der: Buffer;
    /** The signed TBSCertificate bytes. */
    tbs: Buffer;
    subjectCN?: string;
    issuerCN?: string;
    notBefore: Date;
    notAfter: Date;
    /** The issuer's RSASSA-PSS signature (512 bytes, big-endian). */
    signature: Buffer;
    /** ARK and ASK: the RSA-4096 subject key. */
    rsaKey?: RsaPublicKey;
    /** VCEK: the P-384 subject key. */
    ecKey?: P384Point;
    /** VCEK: the TCB it was issued for (in Turin's layout when it has an FMC part). */
    tcb?: SnpTcb;
    /** VCEK: the chip id as the report's CHIP_ID carries it (64 bytes; Turin's 8-byte hwID followed by zeros). */
    hwId?: Buffer;
    /** VCEK: the product name (e.g. Milan-B0). */
    productName?: string;
}

const slice = (buf: Buffer, n: DerNode) => buf.subarray(n.contentStart, n.end);
const uintOf = (b: Uint8Array) => (b.length === 0 ? 0n : bytesToUint(Buffer.from(b)));

/** A small non-negative DER INTEGER wrapped in an extension's OCTET STRING (AMD's TCB values). */
function extensionInteger(value: Buffer, name: string): number {
    const n = readDer(value, 0);
    if (n.tag !== TAG_INTEGER || n.end !== value.length) throw new Error(`VCEK: extension ${name} is not one INTEGER`);
    const v = uintOf(value.subarray(n.contentStart, n.end));
    if (v > 255n) throw new Error(`VCEK: extension ${name} is ${v}, beyond a byte`);
    return Number(v);
}

/** Parses an ARK, ASK or VCEK certificate; refuses any signature scheme other than AMD's. */
export function parseAmdCertificate(der: Uint8Array): AmdCertificate {
    const buf = Buffer.from(der);
    const cert = readDer(buf, 0);
    if (cert.end !== buf.length) throw new Error('AMD certificate: bytes after the certificate');
    const [tbsNode, algNode, sigNode] = derChildren(buf, cert);
    if (!Buffer.from(buf.subarray(algNode.start, algNode.end)).equals(AMD_PSS_ALGORITHM)) throw new Error('AMD certificate: not RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt');
    const fields = derChildren(buf, tbsNode);
    // version [0], serial, signature, issuer, validity, subject, subjectPublicKeyInfo, ... extensions [3]
    const [, , innerAlg, issuer, validity, subject, spki] = fields;
    if (!Buffer.from(buf.subarray(innerAlg.start, innerAlg.end)).equals(AMD_PSS_ALGORITHM)) throw new Error('AMD certificate: the TBS names another signature algorithm');
    const [nb, na] = derChildren(buf, validity);
    if (sigNode.tag !== TAG_BIT_STRING) throw new Error('AMD certificate: signature is not a BIT STRING');
    const sigBits = slice(buf, sigNode);
    if (sigBits[0] !== 0) throw new Error('AMD certificate: signature BIT STRING has unused bits');
    const out: AmdCertificate = {
        der: buf,
        tbs: Buffer.from(buf.subarray(tbsNode.start, tbsNode.end)),
        subjectCN: commonName(buf, subject),
        issuerCN: commonName(buf, issuer),
        notBefore: parseDerTime(buf, nb),
        notAfter: parseDerTime(buf, na),
        signature: Buffer.from(sigBits.subarray(1)),
    };
    if (out.signature.length !== AMD_RSA_BITS / 8) throw new Error(`AMD certificate: a ${out.signature.length}-byte signature, expected ${AMD_RSA_BITS / 8}`);

    const [spkiAlg, spkiKey] = derChildren(buf, spki);
    const algParts = derChildren(buf, spkiAlg);
    const keyBits = slice(buf, spkiKey);
    if (keyBits[0] !== 0) throw new Error('AMD certificate: key BIT STRING has unused bits');
    const algOid = oidText(buf, algParts[0]);
    if (algOid === OID_RSA_ENCRYPTION) {
        const keySeq = readDer(keyBits, 1);
        const [n, e] = derChildren(keyBits, keySeq);
        const modulus = uintOf(keyBits.subarray(n.contentStart, n.end));
        if (modulus >> BigInt(AMD_RSA_BITS - 1) !== 1n) throw new Error('AMD certificate: the RSA modulus is not 4096 bits');
        out.rsaKey = { n: modulus, e: uintOf(keyBits.subarray(e.contentStart, e.end)) };
    } else if (algOid === OID_EC_PUBLIC_KEY && algParts[1] && oidText(buf, algParts[1]) === OID_SECP384R1) {
        const point = keyBits.subarray(1);
        if (point.length !== 97 || point[0] !== 4) throw new Error('AMD certificate: the P-384 key is not an uncompressed point');
        out.ecKey = { x: uintOf(point.subarray(1, 49)), y: uintOf(point.subarray(49)) };
    } else throw new Error(`AMD certificate: subject key algorithm ${algOid} is neither RSA nor P-384`);

    const explicit = fields.find((f) => f.tag === 0xa3);
    if (explicit) {
        const found = new Map<string, Buffer>();
        for (const extension of derChildren(buf, derChildren(buf, explicit)[0])) {
            const parts = derChildren(buf, extension);
            const value = parts[parts.length - 1];
            if (value.tag !== TAG_OCTET_STRING) throw new Error('AMD certificate: an extension value is not an OCTET STRING');
            found.set(oidText(buf, parts[0]), Buffer.from(slice(buf, value)));
        }
        const hwId = found.get(OID_AMD.hwId);
        if (hwId) {
            // Turin's VCEKs carry an 8-byte hwID and an FMC version; earlier generations' a 64-byte one and none.
            const turin = found.has(OID_AMD.fmc);
            if (hwId.length !== (turin ? 8 : 64)) throw new Error(`VCEK: hwID is ${hwId.length} bytes, expected ${turin ? '8 (a VCEK with an FMC version is a Turin one)' : 64}`);
            out.hwId = Buffer.concat([hwId, Buffer.alloc(64 - hwId.length)]);
            const tcb = (oid: string, name: string) => {
                const v = found.get(oid);
                if (!v) throw new Error(`VCEK: no ${name} SPL extension`);
                return extensionInteger(v, name);
            };
            out.tcb = {
                ...(turin ? { fmc: tcb(OID_AMD.fmc, 'FMC') } : {}),
                bootloader: tcb(OID_AMD.bootloader, 'bootloader'),
                tee: tcb(OID_AMD.tee, 'TEE'),
                snp: tcb(OID_AMD.snp, 'SNP'),
                microcode: tcb(OID_AMD.microcode, 'microcode'),
            };
            const product = found.get(OID_AMD.productName);
            if (product) {
                const p = readDer(product, 0);
                out.productName = product.subarray(p.contentStart, p.end).toString('ascii');
            }
        }
    }
    return out;
}

/** The certificate's PEM or DER bytes as DER. */
export function amdCertificateDer(bytes: Uint8Array): Buffer {
    const text = Buffer.from(bytes).toString('latin1');
    const m = text.match(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/);
    return m ? Buffer.from(m[1].replace(/\s+/g, ''), 'base64') : Buffer.from(bytes);
}

/** An RSA public key as Node's crypto takes it. */
export function rsaKeyObject(key: RsaPublicKey) {
    const b64 = (v: bigint) => Buffer.from(v.toString(16).padStart(Math.ceil(v.toString(16).length / 2) * 2, '0'), 'hex').toString('base64url');
    return createPublicKey({ key: { kty: 'RSA', n: b64(key.n), e: b64(key.e) }, format: 'jwk' });
}

/** Whether `issuer` signed `cert` (RSASSA-PSS, SHA-384, salt 48), checked off chain with Node's crypto. */
export function amdSignatureValid(cert: AmdCertificate, issuer: RsaPublicKey): boolean {
    return nodeVerify('sha384', cert.tbs, { key: rsaKeyObject(issuer), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: AMD_SALT_LENGTH }, cert.signature);
}

/** A P-384 public key as Node's crypto takes it. */
export function p384KeyObject(key: P384Point) {
    const b64 = (v: bigint) => uintBytes(v, 48).toString('base64url');
    return createPublicKey({ key: { kty: 'EC', crv: 'P-384', x: b64(key.x), y: b64(key.y) }, format: 'jwk' });
}

/** Whether `vcek` signed `signed` with the ECDSA P-384 signature (r, s) over its SHA-384, checked off chain with Node's crypto. */
export function p384SignatureValid(signed: Uint8Array, signature: { r: bigint; s: bigint }, vcek: P384Point): boolean {
    if (signature.r >= 1n << 384n || signature.s >= 1n << 384n) return false;
    return nodeVerify('sha384', signed, { key: p384KeyObject(vcek), dsaEncoding: 'ieee-p1363' }, Buffer.concat([uintBytes(signature.r, 48), uintBytes(signature.s, 48)]));
}
