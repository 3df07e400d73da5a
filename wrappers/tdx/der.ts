import { bytesToUint, uint256ToBytes } from '../../helpers/bytes';
/**
 * Minimal DER (X.509) reading and writing: enough to take Intel's PCK
 * certificate chain apart for the on-chain verifier, and to build test
 * certificates of the same shape. Only definite lengths (DER) are accepted.
 */

export interface DerNode {
    tag: number;
    /** Offset of the tag byte. */
    start: number;
    /** Offset of the first content byte. */
    contentStart: number;
    /** Offset just past the content. */
    end: number;
}

/** Reads the TLV that starts at `pos`. */
export function readDer(buf: Uint8Array, pos: number): DerNode {
    if (pos + 2 > buf.length) throw new Error(`DER: truncated header at ${pos}`);
    const tag = buf[pos];
    if ((tag & 0x1f) === 0x1f) throw new Error(`DER: multi-byte tags are not supported (at ${pos})`);
    const lenByte = buf[pos + 1];
    let contentStart = pos + 2;
    let len: number;
    if (lenByte < 0x80) {
        len = lenByte;
    } else {
        const n = lenByte & 0x7f;
        if (n === 0 || n > 3) throw new Error(`DER: unsupported length form at ${pos}`);
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + buf[pos + 2 + i];
        contentStart += n;
    }
    const end = contentStart + len;
    if (end > buf.length) throw new Error(`DER: element at ${pos} runs past the end`);
    return { tag, start: pos, contentStart, end };
}

/** The TLVs directly inside a constructed element. */
export function derChildren(buf: Uint8Array, node: DerNode): DerNode[] {
    const out: DerNode[] = [];
    let pos = node.contentStart;
    while (pos < node.end) {
        const child = readDer(buf, pos);
        out.push(child);
        pos = child.end;
    }
    if (pos !== node.end) throw new Error('DER: children overrun their parent');
    return out;
}

export const TAG_INTEGER = 0x02;
export const TAG_BIT_STRING = 0x03;
export const TAG_OCTET_STRING = 0x04;
export const TAG_OID = 0x06;
export const TAG_UTF8 = 0x0c;
export const TAG_PRINTABLE = 0x13;
export const TAG_UTC_TIME = 0x17;
export const TAG_GENERALIZED_TIME = 0x18;
export const TAG_SEQUENCE = 0x30;
export const TAG_SET = 0x31;

/**
 * The 27 bytes a P-256 SubjectPublicKeyInfo starts with: SEQUENCE(89) {
 * SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING(66) 00 04 }. The
 * uncompressed point's x || y follow.
 */
export const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex');

export interface P256Point {
    x: bigint;
    y: bigint;
}

export interface ParsedCertificate {
    der: Buffer;
    /** The signed TBSCertificate bytes. */
    tbs: Buffer;
    /** Offset of the subject's SubjectPublicKeyInfo inside `tbs`. */
    spkiOffset: number;
    publicKey: P256Point;
    notBefore: Date;
    notAfter: Date;
    /** Issuer's ECDSA signature over SHA-256(tbs). */
    signature: { r: bigint; s: bigint };
    subjectCN?: string;
    issuerCN?: string;
    /** Intel's platform identifier (FMSPC, 6 bytes) from a PCK certificate's SGX extension; undefined elsewhere. */
    fmspc?: Buffer;
}

/** The OIDs of Intel's SGX extension and of its FMSPC entry. */
export const OID_SGX_EXTENSIONS = '1.2.840.113741.1.13.1';
export const OID_SGX_FMSPC = '1.2.840.113741.1.13.1.4';

export function oidText(buf: Uint8Array, node: DerNode): string {
    const b = buf.subarray(node.contentStart, node.end);
    const parts = [Math.floor(b[0] / 40), b[0] % 40];
    let v = 0;
    for (let i = 1; i < b.length; i++) {
        v = v * 128 + (b[i] & 0x7f);
        if ((b[i] & 0x80) === 0) {
            parts.push(v);
            v = 0;
        }
    }
    return parts.join('.');
}

/** The FMSPC inside the TBS's SGX extension, if it has one. */
function fmspcOf(buf: Uint8Array, fields: DerNode[]): Buffer | undefined {
    const explicit = fields.find((f) => f.tag === 0xa3);
    if (!explicit) return undefined;
    for (const extension of derChildren(buf, derChildren(buf, explicit)[0])) {
        const parts = derChildren(buf, extension);
        if (oidText(buf, parts[0]) !== OID_SGX_EXTENSIONS) continue;
        const value = parts[parts.length - 1];
        for (const entry of derChildren(buf, readDer(buf, value.contentStart))) {
            const [oid, data] = derChildren(buf, entry);
            if (oidText(buf, oid) === OID_SGX_FMSPC) return Buffer.from(buf.subarray(data.contentStart, data.end));
        }
    }
    return undefined;
}

function bytesToBigint(b: Uint8Array): bigint {
    return b.length === 0 ? 0n : bytesToUint(Buffer.from(b));
}

/** Parses a DER time (UTCTime or GeneralizedTime, UTC, seconds, `Z`). */
export function parseDerTime(buf: Uint8Array, node: DerNode): Date {
    const text = Buffer.from(buf.subarray(node.contentStart, node.end)).toString('ascii');
    let m: RegExpMatchArray | null;
    let year: number;
    if (node.tag === TAG_UTC_TIME && (m = text.match(/^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/))) {
        const yy = Number(m[1]);
        year = yy < 50 ? 2000 + yy : 1900 + yy;
    } else if (node.tag === TAG_GENERALIZED_TIME && (m = text.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/))) {
        year = Number(m[1]);
    } else {
        throw new Error(`DER: unsupported time "${text}"`);
    }
    return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

export function commonName(buf: Uint8Array, name: DerNode): string | undefined {
    // Name ::= SEQUENCE OF SET OF AttributeTypeAndValue; CN is 2.5.4.3.
    for (const rdn of derChildren(buf, name)) {
        for (const atv of derChildren(buf, rdn)) {
            const [oid, value] = derChildren(buf, atv);
            if (Buffer.from(buf.subarray(oid.contentStart, oid.end)).toString('hex') === '550403') {
                return Buffer.from(buf.subarray(value.contentStart, value.end)).toString('utf8');
            }
        }
    }
    return undefined;
}

/** Takes an ECDSA P-256 X.509 certificate apart. */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
    const buf = Buffer.from(der);
    const cert = readDer(buf, 0);
    if (cert.tag !== TAG_SEQUENCE || cert.end !== buf.length) throw new Error('certificate: not one DER SEQUENCE');
    const [tbsNode, , sigNode] = derChildren(buf, cert);
    if (!tbsNode || tbsNode.tag !== TAG_SEQUENCE || !sigNode || sigNode.tag !== TAG_BIT_STRING) {
        throw new Error('certificate: unexpected structure');
    }
    const tbs = buf.subarray(tbsNode.start, tbsNode.end);
    const fields = derChildren(buf, tbsNode);
    // An explicit [0] version comes first in v3 certificates.
    const i = fields[0].tag === 0xa0 ? 1 : 0;
    const issuer = fields[i + 2];
    const validity = fields[i + 3];
    const subject = fields[i + 4];
    const spki = fields[i + 5];
    if (!spki || spki.tag !== TAG_SEQUENCE) throw new Error('certificate: no SubjectPublicKeyInfo');
    const spkiBytes = buf.subarray(spki.start, spki.end);
    if (spkiBytes.length !== 91 || !spkiBytes.subarray(0, 27).equals(P256_SPKI_PREFIX)) {
        throw new Error('certificate: subject key is not an uncompressed P-256 key');
    }
    const [nb, na] = derChildren(buf, validity);
    const sigBits = buf.subarray(sigNode.contentStart, sigNode.end);
    if (sigBits[0] !== 0) throw new Error('certificate: signature BIT STRING has unused bits');
    const sigSeq = readDer(sigBits, 1);
    const [rNode, sNode] = derChildren(sigBits, sigSeq);
    return {
        der: buf,
        tbs: Buffer.from(tbs),
        spkiOffset: spki.start - tbsNode.start,
        publicKey: { x: bytesToBigint(spkiBytes.subarray(27, 59)), y: bytesToBigint(spkiBytes.subarray(59, 91)) },
        notBefore: parseDerTime(buf, nb),
        notAfter: parseDerTime(buf, na),
        signature: {
            r: bytesToBigint(sigBits.subarray(rNode.contentStart, rNode.end)),
            s: bytesToBigint(sigBits.subarray(sNode.contentStart, sNode.end)),
        },
        subjectCN: commonName(buf, subject),
        issuerCN: commonName(buf, issuer),
        fmspc: fmspcOf(buf, fields),
    };
}

/** Splits a PEM bundle into DER certificates, in file order. */
export function pemToDers(pem: string): Buffer[] {
    const out: Buffer[] = [];
    const re = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
    for (const m of pem.matchAll(re)) out.push(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
    return out;
}

export function derToPem(der: Uint8Array): string {
    const b64 = Buffer.from(der)
        .toString('base64')
        .replace(/(.{64})/g, '$1\n')
        .replace(/\n$/, '');
    return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

// ------------------------------------------------------------------ writing

function encodeLength(len: number): Buffer {
    if (len < 0x80) return Buffer.from([len]);
    const bytes: number[] = [];
    for (let v = len; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function derTlv(tag: number, content: Uint8Array): Buffer {
    return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), Buffer.from(content)]);
}

export const derSeq = (...items: Uint8Array[]): Buffer => derTlv(TAG_SEQUENCE, Buffer.concat(items));
export const derSet = (...items: Uint8Array[]): Buffer => derTlv(TAG_SET, Buffer.concat(items));
export const derExplicit = (n: number, inner: Uint8Array): Buffer => derTlv(0xa0 | n, inner);
export const derOctets = (b: Uint8Array): Buffer => derTlv(TAG_OCTET_STRING, b);
export const derBitString = (b: Uint8Array): Buffer => derTlv(TAG_BIT_STRING, Buffer.concat([Buffer.from([0]), b]));
export const derUtf8 = (s: string): Buffer => derTlv(TAG_UTF8, Buffer.from(s, 'utf8'));
export const derBool = (v: boolean): Buffer => derTlv(0x01, Buffer.from([v ? 0xff : 0]));

/** A non-negative INTEGER, minimally encoded. */
export function derInt(v: bigint): Buffer {
    if (v < 0n) throw new Error('derInt: negative');
    let hex = v.toString(16);
    if (hex.length % 2) hex = '0' + hex;
    let b = Buffer.from(hex, 'hex');
    if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
    return derTlv(TAG_INTEGER, b);
}

export function derOid(oid: string): Buffer {
    const parts = oid.split('.').map((p) => BigInt(p));
    const bytes: number[] = [Number(parts[0] * 40n + parts[1])];
    for (const p of parts.slice(2)) {
        const chunk: number[] = [];
        let v = p;
        do {
            chunk.unshift(Number(v & 0x7fn));
            v >>= 7n;
        } while (v > 0n);
        for (let i = 0; i < chunk.length - 1; i++) chunk[i] |= 0x80;
        bytes.push(...chunk);
    }
    return derTlv(TAG_OID, Buffer.from(bytes));
}

/** UTCTime before 2050, GeneralizedTime from then on (RFC 5280 4.1.2.5). */
export function derTime(d: Date): Buffer {
    const pad = (n: number, w = 2) => String(n).padStart(w, '0');
    const rest = `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
    const y = d.getUTCFullYear();
    if (y >= 1950 && y < 2050) return derTlv(TAG_UTC_TIME, Buffer.from(pad(y % 100) + rest, 'ascii'));
    return derTlv(TAG_GENERALIZED_TIME, Buffer.from(pad(y, 4) + rest, 'ascii'));
}

export function derName(cn: string): Buffer {
    return derSeq(derSet(derSeq(derOid('2.5.4.3'), derUtf8(cn))));
}

export const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';

/** ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } */
export function derEcdsaSignature(r: bigint, s: bigint): Buffer {
    return derSeq(derInt(r), derInt(s));
}

export function bigintTo32(v: bigint): Buffer {
    return uint256ToBytes(v);
}

export function p256Spki(key: P256Point): Buffer {
    return Buffer.concat([P256_SPKI_PREFIX, bigintTo32(key.x), bigintTo32(key.y)]);
}
