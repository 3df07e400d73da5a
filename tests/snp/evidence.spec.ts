import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
    AMD_ARK_IDS,
    SNP_OFFSETS,
    amdRsaKeyId,
    SNP_REPORT_SIZE,
    amdCertificateDer,
    amdSignatureValid,
    generateSnpTestChain,
    p384SignatureValid,
    parseAmdCertificate,
    parseSnpReport,
    snpImageHashOf,
    snpTestChainFromJson,
    snpTestChainToJson,
    snpTestReport,
    amdCertificate,
    vcekExtensions,
    p384Spki,
    OID_AMD,
    snpTcbBytes,
    snpPolicy,
    snpPolicyOf,
} from '../../wrappers/snp';
import { derOctets, derOid, derSeq } from '../../wrappers/tdx/der';
import { vcekUrl } from '../../worker/src/attestation';

const FIXTURES = join(__dirname, '..', 'fixtures', 'sev-snp');
const fixture = (name: string) => readFileSync(join(FIXTURES, name));

/**
 * AMD SEV-SNP evidence off chain: the real Milan report, VCEK and AMD's
 * roots parsed and checked with Node's crypto (what the worker checks
 * before it submits, and what the on-chain verifier must agree with), the
 * parser's strictness, and the simulated chain producing evidence of the
 * same shape.
 */
describe('SEV-SNP evidence', () => {
    const ark = parseAmdCertificate(amdCertificateDer(fixture('ark-milan.pem')));
    const ask = parseAmdCertificate(amdCertificateDer(fixture('ask-milan.pem')));
    const vcek = parseAmdCertificate(fixture('vcek-milan.der'));
    const report = parseSnpReport(fixture('report-milan.bin'));

    it("the real Milan chain: ARK self-signed, ASK by the ARK, VCEK by the ASK (RSASSA-PSS, SHA-384, salt 48); not by another generation's ARK", () => {
        expect(ark.subjectCN).toBe('ARK-Milan');
        expect(ask.subjectCN).toBe('SEV-Milan');
        expect(vcek.subjectCN).toBe('SEV-VCEK');
        expect(ark.rsaKey!.e).toBe(65537n);
        expect(amdSignatureValid(ark, ark.rsaKey!)).toBe(true);
        expect(amdSignatureValid(ask, ark.rsaKey!)).toBe(true);
        expect(amdSignatureValid(vcek, ask.rsaKey!)).toBe(true);
        expect(amdSignatureValid(vcek, ark.rsaKey!)).toBe(false);
        for (const gen of ['genoa', 'turin']) {
            const genArk = parseAmdCertificate(amdCertificateDer(fixture(`ark-${gen}.pem`)));
            expect(amdSignatureValid(parseAmdCertificate(amdCertificateDer(fixture(`ask-${gen}.pem`))), genArk.rsaKey!)).toBe(true);
            expect(amdSignatureValid(ask, genArk.rsaKey!)).toBe(false);
        }
    });

    it("AMD's roots as governance pins them: the ids of the Milan, Genoa and Turin ARKs", () => {
        for (const gen of ['Milan', 'Genoa', 'Turin'] as const) {
            const genArk = parseAmdCertificate(amdCertificateDer(fixture(`ark-${gen.toLowerCase()}.pem`)));
            expect(amdRsaKeyId(genArk.rsaKey!)).toBe(AMD_ARK_IDS[gen]);
        }
    });

    it("the real report: version 2, no debug, VMPL 0, signed by the VCEK, whose chip id and TCB extensions are the report's", () => {
        expect(report.version).toBe(2);
        expect(report.policy & (1n << 19n)).toBe(0n);
        expect(report.vmpl).toBe(0);
        expect(vcek.tcb).toEqual({ bootloader: 3, tee: 0, snp: 8, microcode: 115 });
        expect(report.reportedTcb).toEqual(vcek.tcb);
        expect(report.chipId.equals(vcek.hwId!)).toBe(true);
        expect(vcek.productName).toBe('Milan-B0');
        expect(p384SignatureValid(report.signed, report.signature, vcek.ecKey!)).toBe(true);
        expect(p384SignatureValid(report.signed, { ...report.signature, s: report.signature.s ^ 1n }, vcek.ecKey!)).toBe(false);
        const tampered = Buffer.from(report.signed);
        tampered[SNP_OFFSETS.measurement] ^= 1;
        expect(p384SignatureValid(tampered, report.signature, vcek.ecKey!)).toBe(false);
        expect(snpImageHashOf(report)).toBeGreaterThan(0n);
    });

    it('refuses reports of another size or version, another signature algorithm, wide signature components or bytes after the signature', () => {
        const raw = fixture('report-milan.bin');
        const with_ = (at: number, bytes: number[]) => {
            const b = Buffer.from(raw);
            Buffer.from(bytes).copy(b, at);
            return b;
        };
        expect(() => parseSnpReport(raw.subarray(0, SNP_REPORT_SIZE - 1))).toThrow(/1183 bytes/);
        expect(() => parseSnpReport(Buffer.concat([raw, Buffer.alloc(1)]))).toThrow(/1185 bytes/);
        expect(() => parseSnpReport(with_(SNP_OFFSETS.version, [4, 0, 0, 0]))).toThrow(/version 4/);
        expect(() => parseSnpReport(with_(SNP_OFFSETS.signatureAlgo, [2, 0, 0, 0]))).toThrow(/signature algorithm 2/);
        expect(() => parseSnpReport(with_(SNP_OFFSETS.signature + 48, [1]))).toThrow(/wider than 48 bytes/);
        expect(() => parseSnpReport(with_(SNP_OFFSETS.signature + 72 + 71, [1]))).toThrow(/wider than 48 bytes/);
        expect(() => parseSnpReport(with_(SNP_OFFSETS.signature + 144, [1]))).toThrow(/after the signature/);
        expect(() => parseSnpReport(with_(SNP_OFFSETS.reportedTcb + 3, [1]))).toThrow(/reserved bytes/);
    });

    it("refuses certificates signed any other way than AMD's", () => {
        const der = Buffer.from(vcek.der);
        // The salt length inside the outer signatureAlgorithm (the last parameter before the trailer): 48 -> 32.
        const at = der.lastIndexOf(Buffer.from('a203020130', 'hex'));
        der[at + 4] = 0x20;
        expect(() => parseAmdCertificate(der)).toThrow(/RSASSA-PSS/);
        expect(() => parseAmdCertificate(Buffer.concat([vcek.der, Buffer.alloc(1)]))).toThrow(/after the certificate/);
    });

    it('the simulated chain gives evidence of the same shape: certificates that parse and verify, reports the VCEK signed; its keys survive a round trip', () => {
        const chain = generateSnpTestChain({ tcb: { bootloader: 4, tee: 1, snp: 9, microcode: 200 } });
        const tArk = parseAmdCertificate(chain.ark.der);
        const tAsk = parseAmdCertificate(chain.ask.der);
        const tVcek = parseAmdCertificate(chain.vcek.der);
        expect(tArk.rsaKey).toEqual(chain.ark.publicKey);
        expect(amdSignatureValid(tArk, chain.ark.publicKey)).toBe(true);
        expect(amdSignatureValid(tAsk, chain.ark.publicKey)).toBe(true);
        expect(amdSignatureValid(tVcek, chain.ask.publicKey)).toBe(true);
        expect(amdSignatureValid(tVcek, ark.rsaKey!)).toBe(false);
        expect(tVcek.tcb).toEqual(chain.tcb);
        expect(tVcek.hwId!.equals(chain.chipId)).toBe(true);
        const r = parseSnpReport(snpTestReport(chain, { reportData: Buffer.alloc(64, 7), measurement: Buffer.alloc(48, 9) }));
        expect(r.reportData.equals(Buffer.alloc(64, 7))).toBe(true);
        expect(r.reportedTcb).toEqual(chain.tcb);
        expect(p384SignatureValid(r.signed, r.signature, chain.vcek.publicKey)).toBe(true);
        expect(p384SignatureValid(r.signed, r.signature, vcek.ecKey!)).toBe(false);
        const again = snpTestChainFromJson(snpTestChainToJson(chain));
        expect(parseAmdCertificate(again.ark.der).rsaKey).toEqual(chain.ark.publicKey);
        expect(parseAmdCertificate(again.vcek.der).hwId!.equals(chain.chipId)).toBe(true);
        expect(again.vcek.publicKey).toEqual(chain.vcek.publicKey);
    });

    it("reads EPYC Turin's evidence in its own layout: the FMC's version first in the TCB, an 8-byte hwID that CHIP_ID starts with", () => {
        const chain = generateSnpTestChain({ generation: 'Turin', tcb: { fmc: 2, bootloader: 3, tee: 4, snp: 5, microcode: 72 } });
        const vcek = parseAmdCertificate(chain.vcek.der);
        expect(vcek.tcb).toEqual({ fmc: 2, bootloader: 3, tee: 4, snp: 5, microcode: 72 });
        expect(vcek.hwId!.equals(chain.chipId)).toBe(true);
        expect(chain.chipId.subarray(8).every((b) => b === 0)).toBe(true);
        expect(snpTcbBytes(vcek.tcb!).toString('hex')).toBe('0203040500000048');
        const raw = snpTestReport(chain, { reportData: Buffer.alloc(64, 7), measurement: Buffer.alloc(48, 9) });
        const r = parseSnpReport(raw);
        expect([r.version, r.cpuidFamily, r.turin]).toEqual([3, 0x1a, true]);
        expect(r.reportedTcb).toEqual(vcek.tcb);
        expect(r.chipId.equals(vcek.hwId!)).toBe(true);
        // A version 2 report names no CPU family: Turin's short CHIP_ID tells it.
        expect(parseSnpReport(snpTestReport(chain, { reportData: Buffer.alloc(64), measurement: Buffer.alloc(48), version: 2 })).reportedTcb).toEqual(vcek.tcb);
        expect(vcekUrl(r)).toBe(`https://kdsintf.amd.com/vcek/v1/Turin/${chain.chipId.subarray(0, 8).toString('hex')}?fmcSPL=2&blSPL=3&teeSPL=4&snpSPL=5&ucodeSPL=72`);
        // A Turin minimum in the policy reads back in Turin's layout.
        expect(snpPolicyOf(snpPolicy(new Map([[AMD_ARK_IDS.Turin, vcek.tcb!]])))!.get(AMD_ARK_IDS.Turin)).toEqual(vcek.tcb);

        // An FMC version with a 64-byte hwID, or an 8-byte hwID without one, is neither generation's VCEK.
        const exts = vcekExtensions(chain.tcb, chain.chipId, 'Turin-B0');
        const hwId = (b: Buffer) => derSeq(derOid(OID_AMD.hwId), derOctets(b));
        const cert = (extensions: Buffer[]) => amdCertificate({ subjectCN: 'SEV-VCEK', issuerCN: 'SEV-Turin', spki: p384Spki(chain.vcek.publicKey), issuer: chain.ask.privateKey, extensions });
        expect(() => parseAmdCertificate(cert([...exts.slice(0, -1), hwId(Buffer.alloc(64, 5))]))).toThrow(/hwID is 64 bytes, expected 8/);
        expect(() => parseAmdCertificate(cert([...exts.slice(0, -2), hwId(chain.chipId.subarray(0, 8))]))).toThrow(/hwID is 8 bytes, expected 64/);
    });
});
