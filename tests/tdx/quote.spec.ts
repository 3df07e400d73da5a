import { X509Certificate, createHash, createPublicKey, verify } from 'crypto';
import { readFileSync } from 'fs';
import path from 'path';
import { Address } from '@ton/core';
import { Cell } from '@ton/core';
import {
    CLAIMS_SIZE,
    INTEL_SGX_ROOT_CA_KEY,
    INTEL_TD_QE_MRSIGNER,
    ParsedQuote,
    QUOTE_V4_CHUNKS,
    QUOTE_V5_TD_REPORT_10_CHUNKS,
    QUOTE_V5_TD_REPORT_15_CHUNKS,
    QE_REPORT_CHUNKS,
    TEST_MEASUREMENTS,
    TEST_QE_ATTRIBUTES,
    TEST_QE_MISCSELECT,
    buildAttestationSteps,
    buildTestQuote,
    byteChain,
    chainBytes,
    claimsBytes,
    claimsReportData,
    createTestCa,
    imageHashOf,
    keyIdOf,
    parseCertificate,
    parseQuote,
    qeReportCell,
    quoteBodyCell,
    quoteBodyChunks,
    quoteSignedSize,
    readDer,
    signedFieldRange,
    tdReportBodyStart,
    teeTcbSvnOf,
    P256_SPKI_PREFIX,
    bigintTo32,
} from '../../wrappers/tdx';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'tdx');
const raw = readFileSync(path.join(FIXTURES, 'quote-v4.bin'));
const expected = JSON.parse(readFileSync(path.join(FIXTURES, 'quote-v4.expected.json'), 'utf8'));
const rawV5 = readFileSync(path.join(FIXTURES, 'quote-v5.bin'));

/** MISCSELECT and ATTRIBUTES of Intel's TD quoting enclave, as both real quotes report them. */
const INTEL_TD_QE_MISCSELECT = '00000000';
const INTEL_TD_QE_ATTRIBUTES = '1500000000000000e700000000000000';

const hex = (b: Buffer) => b.toString('hex');
const hex64 = (p: { x: bigint; y: bigint }) => hex(bigintTo32(p.x)) + hex(bigintTo32(p.y));
const sigHex = (s: { r: bigint; s: bigint }) => hex(bigintTo32(s.r)) + hex(bigintTo32(s.s));

/** Node's own check of an ECDSA P-256 / SHA-256 signature, independent of our code. */
function nodeVerify(key: { x: bigint; y: bigint }, data: Buffer, sig: { r: bigint; s: bigint }): boolean {
    const pub = createPublicKey({
        key: { kty: 'EC', crv: 'P-256', x: bigintTo32(key.x).toString('base64url'), y: bigintTo32(key.y).toString('base64url') },
        format: 'jwk',
    });
    return verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, Buffer.concat([bigintTo32(sig.r), bigintTo32(sig.s)]));
}

/** Checks every signature of a parsed quote and the QE report's binding of the attestation key, with Node crypto. */
function expectAllSignaturesValid(q: ParsedQuote) {
    const chain = q.certificates;
    for (let i = 0; i < chain.length; i++) {
        const issuer = chain[Math.min(i + 1, chain.length - 1)];
        expect([chain[i].subjectCN, nodeVerify(issuer.publicKey, chain[i].tbs, chain[i].signature)]).toEqual([chain[i].subjectCN, true]);
    }
    expect(nodeVerify(chain[0].publicKey, q.qeReport, q.qeReportSignature)).toBe(true);
    expect(nodeVerify(q.attestationKey, q.signed, q.quoteSignature)).toBe(true);
    const attKey = Buffer.concat([bigintTo32(q.attestationKey.x), bigintTo32(q.attestationKey.y)]);
    const bound = createHash('sha256').update(attKey).update(q.qeAuthData).digest();
    expect(q.qe.reportData.equals(Buffer.concat([bound, Buffer.alloc(32)]))).toBe(true);
}

/** The byte sizes of a byte chain's cells, root first. */
function cellSizes(cell: Cell): number[] {
    const sizes: number[] = [];
    for (let c: Cell | undefined = cell; c; c = c.refs[0]) sizes.push(c.bits.length / 8);
    return sizes;
}

/** Offsets of the signature data length and the QE report certification data size in a parsed quote. */
function framingOffsets(q: ParsedQuote) {
    const signatureDataLength = q.signed.length;
    return { signatureDataLength, outerSize: signatureDataLength + 4 + 64 + 64 + 2 };
}

function withU32(buf: Buffer, offset: number, delta: number): Buffer {
    const b = Buffer.from(buf);
    b.writeUInt32LE(b.readUInt32LE(offset) + delta, offset);
    return b;
}

const imageHashOfParts = (...parts: Buffer[]) => BigInt('0x' + createHash('sha256').update(Buffer.concat(parts)).digest('hex'));

describe('TDX quote parser (real Intel fixture)', () => {
    const q = parseQuote(raw);

    it('matches the fixture file', () => {
        expect(raw.length).toBe(expected.length);
        expect(createHash('sha256').update(raw).digest('hex')).toBe(expected.sha256);
    });

    it('parses the header', () => {
        expect(q.header.version).toBe(expected.header.version);
        expect(q.header.attestationKeyType).toBe(expected.header.attestationKeyType);
        expect(q.header.teeType).toBe(expected.header.teeType);
        expect(hex(q.header.qeVendorId)).toBe(expected.header.qeVendorId);
    });

    it('parses every TD report body field', () => {
        expect(q.bodyType).toBe(2);
        expect(q.signed).toHaveLength(632);
        expect(q.body.teeTcbSvn2).toBeUndefined();
        expect(q.body.mrServiceTd).toBeUndefined();
        for (const [name, value] of Object.entries(expected.body)) {
            expect([name, hex((q.body as Record<string, Buffer>)[name])]).toEqual([name, value]);
        }
        expect(teeTcbSvnOf(q.body)).toBe(BigInt('0x' + expected.body.teeTcbSvn));
    });

    it('parses the signature data, QE report and auth data', () => {
        expect(q.signatureDataLength).toBe(expected.signatureDataLength);
        expect(sigHex(q.quoteSignature)).toBe(expected.quoteSignature);
        expect(hex64(q.attestationKey)).toBe(expected.attestationPublicKey);
        expect(hex(q.qe.mrSigner)).toBe(expected.qeReport.mrSigner);
        expect(q.qe.isvProdId).toBe(expected.qeReport.isvProdId);
        expect(q.qe.isvSvn).toBe(expected.qeReport.isvSvn);
        expect(hex(q.qe.reportData)).toBe(expected.qeReport.reportData);
        expect(hex(q.qe.miscSelect)).toBe(INTEL_TD_QE_MISCSELECT);
        expect(hex(q.qe.attributes)).toBe(INTEL_TD_QE_ATTRIBUTES);
        expect(sigHex(q.qeReportSignature)).toBe(expected.qeReportSignature);
        expect(hex(q.qeAuthData)).toBe(expected.qeAuthData);
    });

    it('parses the PEM chain: keys, validity, TBS lengths, DER hashes', () => {
        expect(q.certificates).toHaveLength(expected.certificates.length);
        q.certificates.forEach((c, i) => {
            const e = expected.certificates[i];
            expect(c.subjectCN).toBe(e.subjectCN);
            expect(c.der.length).toBe(e.derLength);
            expect(c.tbs.length).toBe(e.tbsLength);
            expect(hex64(c.publicKey)).toBe(e.publicKey);
            expect(c.notBefore.getTime()).toBe(new Date(e.notBefore).getTime());
            expect(c.notAfter.getTime()).toBe(new Date(e.notAfter).getTime());
            expect(createHash('sha256').update(c.der).digest('hex')).toBe(e.derSha256);
            // The SPKI offset points at the P-256 prefix followed by the key.
            expect(c.tbs.subarray(c.spkiOffset, c.spkiOffset + 27).equals(P256_SPKI_PREFIX)).toBe(true);
            expect(hex(c.tbs.subarray(c.spkiOffset + 27, c.spkiOffset + 91))).toBe(e.publicKey);
        });
        expect(hex64(q.certificates[2].publicKey)).toBe(expected.intelSgxRootCaPublicKey);
    });

    it('every signature in the quote verifies (Node crypto as the reference)', () => {
        const [pck, platform, root] = q.certificates;
        expect(nodeVerify(root.publicKey, platform.tbs, platform.signature)).toBe(true);
        expect(nodeVerify(platform.publicKey, pck.tbs, pck.signature)).toBe(true);
        expect(nodeVerify(root.publicKey, root.tbs, root.signature)).toBe(true);
        expect(nodeVerify(pck.publicKey, q.qeReport, q.qeReportSignature)).toBe(true);
        expect(nodeVerify(q.attestationKey, q.signed, q.quoteSignature)).toBe(true);
        // QE report data binds the attestation key and auth data.
        const attKey = Buffer.concat([bigintTo32(q.attestationKey.x), bigintTo32(q.attestationKey.y)]);
        const bound = createHash('sha256').update(attKey).update(q.qeAuthData).digest();
        expect(q.qe.reportData.subarray(0, 32).equals(bound)).toBe(true);
        expect(q.qe.reportData.subarray(32).equals(Buffer.alloc(32))).toBe(true);
        // Node's X.509 parser agrees with ours.
        const x509 = new X509Certificate(pck.der);
        expect(x509.verify(new X509Certificate(platform.der).publicKey)).toBe(true);
    });

    it('computes the image hash from MRTD and the RTMRs', () => {
        const b = expected.body;
        const h = createHash('sha256')
            .update(Buffer.from(b.mrTd + b.rtmr0 + b.rtmr1 + b.rtmr2 + b.rtmr3, 'hex'))
            .digest('hex');
        expect(imageHashOf(q.body)).toBe(BigInt('0x' + h));
    });

    it('refuses truncated or foreign quotes', () => {
        expect(() => parseQuote(raw.subarray(0, 600))).toThrow(/truncated/);
        const v3 = Buffer.from(raw);
        v3.writeUInt16LE(3, 0);
        expect(() => parseQuote(v3)).toThrow('quote: version 3, expected 4 or 5');
        const sgx = Buffer.from(raw);
        sgx.writeUInt32LE(0, 4);
        expect(() => parseQuote(sgx)).toThrow(/TEE type/);
    });

    it('builds the step messages in chain order', () => {
        const ws = Address.parse('EQBvW8Z5huBkMJYdnfAEM5JqTNkuWX3diqYENkWsIL0XggGG');
        const claims = { workerStake: ws, workerKey: 1n, encryptionKey: 2n, modelId: 3n, notAfter: 4n };
        const steps = buildAttestationSteps(q, claims, ws, 9n);
        const root = q.certificates[2].publicKey;
        expect(steps.certificates.map((c) => c.name)).toEqual(['Intel SGX PCK Platform CA', 'Intel SGX PCK Certificate']);
        expect(steps.certificates[0].issuerKeyId).toBe(keyIdOf(root));
        expect(steps.certificates[1].issuerKeyId).toBe(steps.certificates[0].subjectKeyId);
        expect(steps.qeReport.pckKeyId).toBe(steps.certificates[1].subjectKeyId);
        expect(chainBytes(steps.certificates[1].message.tbs).equals(q.certificates[0].tbs)).toBe(true);
        expect(chainBytes(steps.quote.message.body).equals(q.signed)).toBe(true);
        expect(chainBytes(steps.qeReport.message.qeReport).equals(q.qeReport)).toBe(true);
        expect(steps.quote.message.queryId).toBe(9n);
    });
});

describe('TDX quote parser (real Intel fixture, version 5)', () => {
    const q = parseQuote(rawV5);

    it('parses the header, body type and body size', () => {
        expect(rawV5).toHaveLength(5006);
        expect(q.header.version).toBe(5);
        expect(q.header.attestationKeyType).toBe(2);
        expect(q.header.teeType).toBe(0x81);
        expect(q.bodyType).toBe(3);
        expect(rawV5.readUInt32LE(50)).toBe(648);
        expect(tdReportBodyStart(5)).toBe(54);
        expect(q.signed.equals(rawV5.subarray(0, 702))).toBe(true);
        expect(quoteSignedSize(5, 3)).toBe(702);
    });

    it('parses the TD report 1.5 body', () => {
        expect(hex(q.body.teeTcbSvn)).toBe('07010300000000000000000000000000');
        expect(hex(q.body.teeTcbSvn2!)).toBe('0d010300000000000000000000000000');
        expect(hex(q.body.mrServiceTd!)).toBe('00'.repeat(48));
        expect(hex(q.body.tdAttributes)).toBe('0000001000000000');
        expect(hex(q.body.xfam)).toBe('e718060000000000');
        // Every field sits 6 bytes later than in version 4.
        for (const name of ['teeTcbSvn', 'mrTd', 'rtmr3', 'reportData'] as const) {
            const [offset, size] = signedFieldRange(5, name);
            expect(offset).toBe(signedFieldRange(4, name)[0] + 6);
            expect(q.body[name].equals(rawV5.subarray(offset, offset + size))).toBe(true);
        }
        expect(rawV5.subarray(638, 702).equals(Buffer.concat([q.body.teeTcbSvn2!, q.body.mrServiceTd!]))).toBe(true);
    });

    it("parses Intel's TD quoting enclave report", () => {
        expect(BigInt('0x' + hex(q.qe.mrSigner))).toBe(INTEL_TD_QE_MRSIGNER);
        expect(q.qe.isvProdId).toBe(2);
        expect(q.qe.isvSvn).toBe(7);
        expect(hex(q.qe.miscSelect)).toBe(INTEL_TD_QE_MISCSELECT);
        expect(hex(q.qe.attributes)).toBe(INTEL_TD_QE_ATTRIBUTES);
        expect(q.signatureDataLength).toBe(rawV5.length - 706);
    });

    it("every signature verifies and the PCK chain ends in Intel's SGX Root CA (Node crypto as the reference)", () => {
        expectAllSignaturesValid(q);
        expect(q.signed).toHaveLength(702);
        expect(q.certificates.map((c) => c.subjectCN)).toEqual(['Intel SGX PCK Certificate', 'Intel SGX PCK Platform CA', 'Intel SGX Root CA']);
        expect(hex64(q.certificates[2].publicKey)).toBe(hex64(INTEL_SGX_ROOT_CA_KEY));
        expect(hex64(q.certificates[2].publicKey)).toBe(expected.intelSgxRootCaPublicKey);
        const x509 = q.certificates.map((c) => new X509Certificate(c.der));
        expect(x509[0].verify(x509[1].publicKey)).toBe(true);
        expect(x509[1].verify(x509[2].publicKey)).toBe(true);
    });

    it('accepts zero padding after the signature data', () => {
        const padded = parseQuote(Buffer.concat([rawV5, Buffer.alloc(70)]));
        expect(padded.signed.equals(q.signed)).toBe(true);
        expect(padded.signatureDataLength).toBe(q.signatureDataLength);
        expect(padded.certChainPem).toBe(q.certChainPem);
    });

    it('hashes its image like a TD report 1.0 body: its MRSERVICETD is zero', () => {
        const b = q.body;
        expect(imageHashOf(b)).toBe(imageHashOfParts(b.mrTd, b.rtmr0, b.rtmr1, b.rtmr2, b.rtmr3));
    });

    it('builds the step messages, the body cut in the TD report 1.5 layout', () => {
        const ws = Address.parse('EQBvW8Z5huBkMJYdnfAEM5JqTNkuWX3diqYENkWsIL0XggGG');
        const claims = { workerStake: ws, workerKey: 1n, encryptionKey: 2n, modelId: 3n, notAfter: 4n };
        const steps = buildAttestationSteps(q, claims, ws);
        expect(chainBytes(steps.quote.message.body).equals(q.signed)).toBe(true);
        expect(cellSizes(steps.quote.message.body)).toEqual([...QUOTE_V5_TD_REPORT_15_CHUNKS]);
        expect(steps.certificates[0].issuerKeyId).toBe(keyIdOf(INTEL_SGX_ROOT_CA_KEY));
    });
});

describe('TDX quote framing', () => {
    const v4 = raw;
    const v4Offsets = framingOffsets(parseQuote(v4));
    const padded = Buffer.concat([rawV5, Buffer.alloc(70)]);
    const v5Offsets = framingOffsets(parseQuote(padded));

    it('refuses a signature data length that disagrees with its contents', () => {
        expect(() => parseQuote(withU32(v4, v4Offsets.signatureDataLength, -1))).toThrow('quote: signature data length 4303, but its contents take 4304 bytes');
        // With padding after it, a length one too long still frames the file, and is refused by content.
        expect(() => parseQuote(withU32(padded, v5Offsets.signatureDataLength, 1))).toThrow('quote: signature data length 4301, but its contents take 4300 bytes');
        expect(() => parseQuote(withU32(padded, v5Offsets.signatureDataLength, -1))).toThrow('quote: signature data length 4299, but its contents take 4300 bytes');
        // Without padding, a length one too long runs past the end.
        expect(() => parseQuote(withU32(v4, v4Offsets.signatureDataLength, 1))).toThrow('quote: truncated in signature data');
    });

    it('refuses a QE report certification data size that disagrees with its contents', () => {
        expect(() => parseQuote(withU32(v4, v4Offsets.outerSize, -1))).toThrow('quote: QE report certification data size 4169, but its contents take 4170 bytes');
        expect(() => parseQuote(withU32(padded, v5Offsets.outerSize, 1))).toThrow('quote: QE report certification data size 4167, but its contents take 4166 bytes');
    });

    it('accepts only zero bytes after the signature data', () => {
        for (const offset of [rawV5.length, rawV5.length + 69]) {
            const dirty = Buffer.from(padded);
            dirty[offset] = 1;
            expect(() => parseQuote(dirty)).toThrow(`quote: non-zero byte at offset ${offset} after the signature data`);
        }
        expect(() => parseQuote(Buffer.concat([v4, Buffer.from([0, 0, 0x80])]))).toThrow(`quote: non-zero byte at offset ${v4.length + 2} after the signature data`);
        expect(parseQuote(Buffer.concat([v4, Buffer.alloc(3)])).signed.equals(parseQuote(v4).signed)).toBe(true);
    });

    it('refuses versions other than 4 and 5', () => {
        for (const version of [0, 3, 6, 0xffff]) {
            const other = Buffer.from(rawV5);
            other.writeUInt16LE(version, 0);
            expect(() => parseQuote(other)).toThrow(`quote: version ${version}, expected 4 or 5`);
        }
    });

    it('refuses a version 5 body size or type that disagrees with the body', () => {
        const withBody = (type: number, size: number) => {
            const b = Buffer.from(rawV5);
            b.writeUInt16LE(type, 48);
            b.writeUInt32LE(size, 50);
            return b;
        };
        expect(() => parseQuote(withBody(3, 584))).toThrow('quote: body size 584 does not match body type 3 (648 bytes)');
        expect(() => parseQuote(withBody(3, 649))).toThrow('quote: body size 649 does not match body type 3 (648 bytes)');
        expect(() => parseQuote(withBody(2, 648))).toThrow('quote: body size 648 does not match body type 2 (584 bytes)');
        expect(() => parseQuote(withBody(1, 648))).toThrow('quote: body type 1, expected 2 (TD report 1.0) or 3 (TD report 1.5)');
        // A version 4 quote relabelled version 5 reads its TEE_TCB_SVN as the body type.
        const relabelled = Buffer.from(v4);
        relabelled.writeUInt16LE(5, 0);
        expect(() => parseQuote(relabelled)).toThrow('quote: body type 263, expected 2 (TD report 1.0) or 3 (TD report 1.5)');
    });

    it('still reports truncation', () => {
        expect(() => parseQuote(rawV5.subarray(0, 40))).toThrow('quote: truncated in header');
        expect(() => parseQuote(rawV5.subarray(0, 52))).toThrow('quote: truncated in body type and size');
        expect(() => parseQuote(rawV5.subarray(0, 700))).toThrow('quote: truncated in header and body');
        expect(() => parseQuote(rawV5.subarray(0, rawV5.length - 1))).toThrow('quote: truncated in signature data');
    });
});

describe('byte chains', () => {
    it('round-trip any length', () => {
        for (const n of [0, 1, 126, 127, 128, 254, 255, 1179]) {
            const b = createHash('sha512').update(String(n)).digest();
            const bytes = Buffer.concat(Array(Math.ceil(n / 64) + 1).fill(b)).subarray(0, n);
            expect(chainBytes(byteChain(bytes)).equals(bytes)).toBe(true);
        }
        expect(QE_REPORT_CHUNKS.reduce((a: number, b: number) => a + b, 0)).toBe(384);
        expect(() => qeReportCell(Buffer.alloc(383))).toThrow();
    });

    it('cut the signed quote bytes at field boundaries, in the layout of the version and body type', () => {
        const ca = createTestCa();
        const v5Type2 = parseQuote(buildTestQuote(ca, { reportData: Buffer.alloc(64), version: 5, bodyType: 2 }));
        const layouts: [Buffer, readonly number[], number][] = [
            [parseQuote(raw).signed, QUOTE_V4_CHUNKS, quoteSignedSize(4, 2)],
            [v5Type2.signed, QUOTE_V5_TD_REPORT_10_CHUNKS, quoteSignedSize(5, 2)],
            [parseQuote(rawV5).signed, QUOTE_V5_TD_REPORT_15_CHUNKS, quoteSignedSize(5, 3)],
        ];
        expect(layouts.map(([, , size]) => size)).toEqual([632, 638, 702]);
        for (const [signed, chunks, size] of layouts) {
            expect(chunks.reduce((a, b) => a + b, 0)).toBe(size);
            expect(quoteBodyChunks(signed)).toBe(chunks);
            const cell = quoteBodyCell(signed);
            expect(cellSizes(cell)).toEqual([...chunks]);
            expect(chainBytes(cell).equals(signed)).toBe(true);
        }
        expect([...QUOTE_V4_CHUNKS]).toEqual([112, 120, 96, 96, 96, 112]);
        expect([...QUOTE_V5_TD_REPORT_10_CHUNKS]).toEqual([118, 120, 96, 96, 96, 112]);
        expect([...QUOTE_V5_TD_REPORT_15_CHUNKS]).toEqual([118, 120, 96, 96, 96, 112, 64]);
        // Fields the verifier reads start a cell: MRSIGNERSEAM, MRCONFIGID, MROWNERCONFIG, RTMR1, RTMR3, TEE_TCB_SVN2.
        const starts = (chunks: readonly number[]) => chunks.map((_, i) => chunks.slice(0, i).reduce((a, b) => a + b, 0));
        for (const version of [4, 5] as const) {
            const chunks = version === 4 ? QUOTE_V4_CHUNKS : QUOTE_V5_TD_REPORT_15_CHUNKS;
            const fields = ['mrSignerSeam', 'mrConfigId', 'mrOwnerConfig', 'rtmr1', 'rtmr3', ...(version === 5 ? ['teeTcbSvn2' as const] : [])] as const;
            expect(fields.map((name) => signedFieldRange(version, name)[0])).toEqual(starts(chunks).slice(1));
        }
        // A header altered to another version keeps its cells, for the verifier to refuse.
        const relabelled = Buffer.from(parseQuote(raw).signed);
        relabelled.writeUInt16LE(5, 0);
        expect(cellSizes(quoteBodyCell(relabelled))).toEqual([...QUOTE_V4_CHUNKS]);
        expect(() => quoteBodyCell(Buffer.alloc(633))).toThrow('quoteBodyCell: 633 signed bytes fit no quote layout (632, 638, 702)');
    });
});

describe('claims', () => {
    const ws = Address.parse('EQBvW8Z5huBkMJYdnfAEM5JqTNkuWX3diqYENkWsIL0XggGG');
    const claims = { workerStake: ws, workerKey: 0xaan, encryptionKey: 0xbbn, modelId: 0xccn, notAfter: 0x0102030405060708n };

    it('have the fixed 137-byte layout', () => {
        const b = claimsBytes(claims);
        expect(b.length).toBe(CLAIMS_SIZE);
        expect(b[0]).toBe(0);
        expect(b.subarray(1, 33).equals(ws.hash)).toBe(true);
        expect(b[64]).toBe(0xaa);
        expect(b[96]).toBe(0xbb);
        expect(b[128]).toBe(0xcc);
        expect(b.subarray(129).toString('hex')).toBe('0102030405060708');
        expect(claimsReportData(claims).equals(createHash('sha512').update(b).digest())).toBe(true);
        const masterchain = claimsBytes({ ...claims, workerStake: Address.parseRaw('-1:' + ws.hash.toString('hex')) });
        expect(masterchain[0]).toBe(0xff);
    });

    it('refuse values that do not fit', () => {
        expect(() => claimsBytes({ ...claims, notAfter: 1n << 64n })).toThrow();
        expect(() => claimsBytes({ ...claims, modelId: 1n << 256n })).toThrow();
    });

    it('do not match the real quote (its claims are unpublished)', () => {
        expect(claimsReportData(claims).toString('hex')).not.toBe(expected.body.reportData);
    });
});

describe('test CA quotes', () => {
    it("have Intel's layout and verify with Node crypto", () => {
        const ca = createTestCa();
        const reportData = createHash('sha512').update('claims').digest();
        const raw2 = buildTestQuote(ca, { reportData });
        const q = parseQuote(raw2);
        expect(q.body.reportData.equals(reportData)).toBe(true);
        expect(q.certificates.map((c) => c.subjectCN)).toEqual(['Test SGX PCK Certificate', 'Test SGX PCK Platform CA', 'Test SGX Root CA']);
        const [pck, platform, root] = q.certificates.map((c) => new X509Certificate(c.der));
        expect(platform.verify(root.publicKey)).toBe(true);
        expect(pck.verify(platform.publicKey)).toBe(true);
        expect(root.verify(root.publicKey)).toBe(true);
        expect(pck.subject).toContain('Test SGX PCK Certificate');
        expect(nodeVerify(ca.attestation.publicKey, q.signed, q.quoteSignature)).toBe(true);
        expect(nodeVerify(ca.pck.publicKey, q.qeReport, q.qeReportSignature)).toBe(true);
        expect(hex64(q.attestationKey)).toBe(hex64(ca.attestation.publicKey));
        // GeneralizedTime after 2049 parses too.
        expect(q.certificates[0].notAfter.getUTCFullYear()).toBe(2099);
        expect(readDer(q.certificates[0].tbs, 0).tag).toBe(0x30);
        expect(parseCertificate(q.certificates[0].der).spkiOffset).toBe(q.certificates[0].spkiOffset);
        expect(q.header.version).toBe(4);
        expect(q.bodyType).toBe(2);
        expect(q.qe.miscSelect.equals(TEST_QE_MISCSELECT)).toBe(true);
        expect(q.qe.attributes.equals(TEST_QE_ATTRIBUTES)).toBe(true);
        expect(hex(TEST_QE_ATTRIBUTES)).toBe(INTEL_TD_QE_ATTRIBUTES);
        expect(hex(TEST_QE_MISCSELECT)).toBe(INTEL_TD_QE_MISCSELECT);
        expectAllSignaturesValid(q);
    });

    it('build version 5 quotes with either body type that round-trip and verify', () => {
        const ca = createTestCa();
        const reportData = createHash('sha512').update('claims v5').digest();
        const teeTcbSvn2 = Buffer.from('0e020300000000000000000000000000', 'hex');
        const mrServiceTd = Buffer.alloc(48, 0x77);
        const qeAttributes = Buffer.from('0700000000000000e700000000000000', 'hex');
        const qeMiscSelect = Buffer.from('01000000', 'hex');
        const type3 = parseQuote(buildTestQuote(ca, { reportData, version: 5, teeTcbSvn2, mrServiceTd, qeAttributes, qeMiscSelect, padding: 70 }));
        expect([type3.header.version, type3.bodyType, type3.signed.length, type3.raw.length - type3.signatureDataLength - 706]).toEqual([5, 3, 702, 70]);
        expect(type3.signed.readUInt32LE(50)).toBe(648);
        expect(type3.body.reportData.equals(reportData)).toBe(true);
        expect(type3.body.teeTcbSvn2!.equals(teeTcbSvn2)).toBe(true);
        expect(type3.body.mrServiceTd!.equals(mrServiceTd)).toBe(true);
        expect(type3.qe.attributes.equals(qeAttributes)).toBe(true);
        expect(type3.qe.miscSelect.equals(qeMiscSelect)).toBe(true);
        expectAllSignaturesValid(type3);
        expect(hex64(type3.attestationKey)).toBe(hex64(ca.attestation.publicKey));
        expect(hex64(type3.certificates[0].publicKey)).toBe(hex64(ca.pck.publicKey));
        expect(hex64(type3.certificates[2].publicKey)).toBe(hex64(ca.root.publicKey));

        const type2 = parseQuote(buildTestQuote(ca, { reportData, version: 5, bodyType: 2 }));
        expect([type2.header.version, type2.bodyType, type2.signed.length, type2.signed.readUInt32LE(50)]).toEqual([5, 2, 638, 584]);
        expect(type2.body.reportData.equals(reportData)).toBe(true);
        expect(type2.body.teeTcbSvn2).toBeUndefined();
        expect(type2.body.mrServiceTd).toBeUndefined();
        expectAllSignaturesValid(type2);

        // The body fields match a version 4 quote of the same options, 6 bytes later.
        const v4 = parseQuote(buildTestQuote(ca, { reportData }));
        expect(type2.signed.subarray(54).equals(v4.signed.subarray(48))).toBe(true);
        expect(type3.signed.subarray(54, 638).equals(v4.signed.subarray(48))).toBe(true);
        expect(() => buildTestQuote(ca, { reportData, bodyType: 3 })).toThrow(/version 4/);
        expect(() => buildTestQuote(ca, { reportData, version: 5, bodyType: 2, mrServiceTd })).toThrow(/TD report 1.5/);
    });

    it('hash MRSERVICETD into the image only when it is non-zero', () => {
        const ca = createTestCa();
        const reportData = Buffer.alloc(64);
        const imageOf = (o: Partial<Parameters<typeof buildTestQuote>[1]>) => imageHashOf(parseQuote(buildTestQuote(ca, { reportData, ...o })).body);
        const m = TEST_MEASUREMENTS;
        const plain = imageHashOfParts(m.mrTd, ...m.rtmrs);
        expect(imageOf({})).toBe(plain);
        expect(imageOf({ version: 5, bodyType: 2 })).toBe(plain);
        expect(imageOf({ version: 5, bodyType: 3 })).toBe(plain);
        const serviceTd = Buffer.alloc(48);
        serviceTd[47] = 1;
        const bound = imageOf({ version: 5, mrServiceTd: serviceTd });
        expect(bound).not.toBe(plain);
        expect(bound).toBe(imageHashOfParts(m.mrTd, ...m.rtmrs, serviceTd));
        expect(imageOf({ version: 5, mrServiceTd: Buffer.alloc(48, 0x42) })).not.toBe(bound);
    });
});
