import { promises as fs, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address } from '@ton/core';
import { signVerify } from '@ton/crypto';
import { AttestationClaims, buildTestQuote, claimsReportData, createTestCa, imageHashOf, parseQuote, simulatedDigest } from '../../wrappers/tdx';
import { DEV_IMAGE_HASH, devSimulatedAttestationKey } from '../../wrappers/devnet';
import { AttestationError, SimulatedProvider, TdxProvider, attestationDocument, readDevKey } from '../../worker/src/attestation';
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
});
