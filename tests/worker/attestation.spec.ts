import { promises as fs, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address } from '@ton/core';
import { signVerify } from '@ton/crypto';
import { AttestationClaims, buildTestQuote, claimsReportData, createTestCa, derToPem, imageHashOf, parseQuote, simulatedDigest } from '../../wrappers/tdx';
import { DEV_IMAGE_HASH, devSimulatedAttestationKey } from '../../wrappers/devnet';
import { AttestationError, SevSnpProvider, SimulatedProvider, TdxProvider, attestationDocument, readDevKey } from '../../worker/src/attestation';
import { SnpTestChain, assembleSnpTestChain, generateSnpTestChain, parseSnpReport, snpImageHashOf, snpTestReport } from '../../wrappers/snp';
import { fakeTsm } from './helpers';

const claims: AttestationClaims = {
    workerStake: new Address(0, Buffer.alloc(32, 9)),
    workerKey: 0x1234n,
    encryptionKey: 0x5678n,
    modelId: 0xabcdn,
    notAfter: 1_900_000_000n,
};

describe('attestation providers', () => {
    let dir: string;
    beforeEach(() => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-tsm-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('simulated: the development key signs claims and image hash; the document carries both', async () => {
        const key = devSimulatedAttestationKey();
        const e = await new SimulatedProvider(key).attest(claims);
        expect(e.imageHash).toBe(DEV_IMAGE_HASH);
        expect(signVerify(simulatedDigest(claims, DEV_IMAGE_HASH), e.signature!, key.publicKey)).toBe(true);
        const doc = attestationDocument(e) as any;
        expect(doc.claims.workerStake).toBe(claims.workerStake.toString());
        expect(doc.claims.notAfter).toBe(1_900_000_000);
        expect(doc.claimsBytes).toHaveLength(137 * 2);
    });

    it('simulated: reads the development key from a 0600 file and refuses a readable one', () => {
        const p = join(dir, 'dev.key');
        writeFileSync(p, 'cd'.repeat(32) + '\n', { mode: 0o600 });
        expect(readDevKey(p).publicKey).toHaveLength(32);
        const q = join(dir, 'open.key');
        writeFileSync(q, 'cd'.repeat(32), { mode: 0o644 });
        expect(() => readDevKey(q)).toThrow(/group or others/);
    });

    it('tdx: writes SHA-512(claims) as inblob under a fresh report dir, reads the quote, removes the dir', async () => {
        const ca = createTestCa();
        const tsm = fakeTsm(dir, (reportData) => buildTestQuote(ca, { reportData }));
        try {
            const e = await new TdxProvider(dir, { timeoutMs: 10_000 }).attest(claims);
            expect(e.provider).toBe('tdx');
            const q = parseQuote(e.quote!);
            expect(q.body.reportData.equals(claimsReportData(claims))).toBe(true);
            expect(e.imageHash).toBe(imageHashOf(q.body));
            expect(tsm.seen).toHaveLength(1);
            expect(tsm.seen[0]).toMatch(/^cocoon-/);
            // The report directory is gone.
            expect(await fs.readdir(dir)).toEqual([]);
            const doc = attestationDocument(e) as any;
            expect(Buffer.from(doc.quote, 'base64').equals(e.quote!)).toBe(true);
        } finally {
            await tsm.close();
        }
    });

    it('tdx: refuses a quote that does not carry our REPORTDATA', async () => {
        const ca = createTestCa();
        const tsm = fakeTsm(dir, () => buildTestQuote(ca, { reportData: Buffer.alloc(64, 1) }));
        try {
            await expect(new TdxProvider(dir, { timeoutMs: 10_000 }).attest(claims)).rejects.toThrow(/REPORTDATA/);
        } finally {
            await tsm.close();
        }
    });

    it('tdx: fails clearly without configfs-tsm, and when no quote comes', async () => {
        await expect(new TdxProvider(join(dir, 'missing')).attest(claims)).rejects.toThrow(AttestationError);
        await expect(new TdxProvider(join(dir, 'missing')).attest(claims)).rejects.toThrow(/not available/);
        await expect(new TdxProvider(dir, { timeoutMs: 200 }).attest(claims)).rejects.toThrow(/no quote in time/);
        expect(await fs.readdir(dir)).toEqual([]);
    });

    describe('sev-snp', () => {
        let chain: SnpTestChain;
        const measurement = Buffer.alloc(48, 0x5e);
        beforeAll(() => {
            chain = generateSnpTestChain();
        });
        const vcekFile = (c: SnpTestChain = chain) => {
            const p = join(dir, 'vcek.der');
            writeFileSync(p, c.vcek.der);
            return p;
        };
        const chainFile = () => {
            const p = join(dir, 'cert_chain.pem');
            writeFileSync(p, derToPem(chain.ask.der) + derToPem(chain.ark.der));
            return p;
        };

        it('writes SHA-512(claims) as inblob, reads the report, checks it against the VCEK file; the document carries both', async () => {
            const tsm = fakeTsm(dir, (reportData) => snpTestReport(chain, { reportData, measurement }), 'sev_guest');
            try {
                const e = await new SevSnpProvider(dir, vcekFile(), chainFile(), { timeoutMs: 10_000 }).attest(claims);
                expect(e.provider).toBe('sev-snp');
                const r = parseSnpReport(e.report!);
                expect(r.reportData.equals(claimsReportData(claims))).toBe(true);
                expect(e.imageHash).toBe(snpImageHashOf({ measurement }));
                expect(e.vcek!.equals(chain.vcek.der)).toBe(true);
                expect((await fs.readdir(dir)).sort()).toEqual(['cert_chain.pem', 'vcek.der']);
                expect(e.amdChain!.ask.equals(chain.ask.der) && e.amdChain!.ark.equals(chain.ark.der)).toBe(true);
                const doc = attestationDocument(e) as any;
                expect(doc.provider).toBe('sev-snp');
                expect(Buffer.from(doc.report, 'base64').equals(e.report!)).toBe(true);
                expect(Buffer.from(doc.vcek, 'base64').equals(chain.vcek.der)).toBe(true);
            } finally {
                await tsm.close();
            }
        });

        it("refuses a VCEK of another chip or another TCB (naming AMD's address for the right one), a report without our REPORT_DATA, and another TEE's provider", async () => {
            const ask = (quoteFor: (d: Buffer) => Buffer, vcek: string, provider: 'sev_guest' | 'tdx_guest' = 'sev_guest') => {
                const tsm = fakeTsm(dir, quoteFor, provider);
                return new SevSnpProvider(dir, vcek, chainFile(), { timeoutMs: 10_000 })
                    .attest(claims)
                    .finally(() => tsm.close())
                    .then(
                        () => undefined,
                        (e) => e,
                    );
            };
            const otherChip = assembleSnpTestChain({ arkKey: chain.ark.privateKey, askKey: chain.ask.privateKey, vcekKey: chain.vcek.privateKey, chipId: Buffer.alloc(64, 1), tcb: chain.tcb });
            const hex = chain.chipId.toString('hex');
            const e1 = await ask((reportData) => snpTestReport(chain, { reportData, measurement }), vcekFile(otherChip));
            expect(e1).toBeInstanceOf(AttestationError);
            expect(e1.message).toMatch(/VCEK of another chip/);
            expect(e1.message).toContain(`https://kdsintf.amd.com/vcek/v1/Milan/${hex}?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115`);
            const updated = { ...chain.tcb, microcode: chain.tcb.microcode + 1 };
            const e2 = await ask((reportData) => snpTestReport(chain, { reportData, measurement, reportedTcb: updated }), vcekFile());
            expect(e2.message).toMatch(/firmware updated/);
            expect(e2.message).toContain(`ucodeSPL=${updated.microcode}`);
            const e3 = await ask(() => snpTestReport(chain, { reportData: Buffer.alloc(64, 1), measurement }), vcekFile());
            expect(e3.message).toMatch(/REPORT_DATA/);
            const e4 = await ask((reportData) => snpTestReport(chain, { reportData, measurement }), vcekFile(), 'tdx_guest');
            expect(e4.message).toMatch(/provider is tdx_guest, not sev_guest/);
            const e5 = await ask((reportData) => snpTestReport(chain, { reportData, measurement }), join(dir, 'missing.der'));
            expect(e5.message).toMatch(/missing\.der.*fetch it from https:\/\/kdsintf/);
            // A report the VCEK did not sign.
            const forged = (reportData: Buffer) => {
                const r = snpTestReport(chain, { reportData, measurement });
                r[0x2a0] ^= 1;
                return r;
            };
            expect((await ask(forged, vcekFile())).message).toMatch(/signature does not verify/);
        });
    });
});
