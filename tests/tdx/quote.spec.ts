import { X509Certificate, createHash, createPublicKey, verify } from 'crypto';
import { readFileSync } from 'fs';
import path from 'path';
import { Address } from '@ton/core';
import {
    CLAIMS_SIZE,
    QUOTE_BODY_CHUNKS,
    QE_REPORT_CHUNKS,
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
    readDer,
    teeTcbSvnOf,
    P256_SPKI_PREFIX,
    bigintTo32,
} from '../../wrappers/tdx';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'tdx');
const raw = readFileSync(path.join(FIXTURES, 'quote-v4.bin'));
const expected = JSON.parse(readFileSync(path.join(FIXTURES, 'quote-v4.expected.json'), 'utf8'));

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
        expect(() => parseQuote(v3)).toThrow(/version/);
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

describe('byte chains', () => {
    it('round-trip any length and cut quote cells at field boundaries', () => {
        for (const n of [0, 1, 126, 127, 128, 254, 255, 1179]) {
            const b = createHash('sha512').update(String(n)).digest();
            const bytes = Buffer.concat(Array(Math.ceil(n / 64) + 1).fill(b)).subarray(0, n);
            expect(chainBytes(byteChain(bytes)).equals(bytes)).toBe(true);
        }
        expect(QUOTE_BODY_CHUNKS.reduce((a: number, b: number) => a + b, 0)).toBe(632);
        expect(QE_REPORT_CHUNKS.reduce((a: number, b: number) => a + b, 0)).toBe(384);
        const signed = parseQuote(raw).signed;
        let c = quoteBodyCell(signed);
        const sizes: number[] = [];
        for (;;) {
            sizes.push(c.bits.length / 8);
            if (c.refs.length === 0) break;
            c = c.refs[0];
        }
        expect(sizes).toEqual([...QUOTE_BODY_CHUNKS]);
        expect(() => qeReportCell(Buffer.alloc(383))).toThrow();
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
    });
});
