import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, generateKeyPairSync } from 'node:crypto';
import '@ton/test-utils';
import { beginCell, toNano } from '@ton/core';
import { BlockchainSnapshot, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { ExitCode } from '../../wrappers/exitCodes';
import type { ContinueAmdCertificate, ContinueSnpReport, SubmitSnpReport, VerifyAmdCertificate } from '../../wrappers/AttestationVerifier';
import {
    AMD_ARK_IDS,
    OID_AMD,
    SNP_OFFSETS,
    SNP_POLICY_DEBUG,
    amdCertificate,
    p384Spki,
    snpTcbBytes,
    vcekExtensions,
    SNP_POLICY_MIGRATE_MA,
    SnpTestChain,
    amdChipRevocationId,
    amdCertificateDer,
    amdCertificateSteps,
    amdRsaKeyId,
    assembleSnpTestChain,
    generateSnpTestChain,
    p384KeyBytes,
    parseAmdCertificate,
    parseSnpReport,
    snpImageHashOf,
    snpPolicy,
    snpTestReport,
    snpReportDigest,
    snpReportSteps,
    SNP_P384_WINDOWS_PER_STEP,
    snpJobIdOf,
    vcekKeyId,
} from '../../wrappers/snp';
import { AttestationClaims, byteChain, claimsReportData } from '../../wrappers/tdx';
import { P384_N, p384Hint, p384HintCell, p384Quotients } from '../../wrappers/p384Hints';
import { mod } from '../../helpers/modular';
import { bytesToUint } from '../../helpers/bytes';
import { derOctets, derOid, derSeq } from '../../wrappers/tdx/der';
import { VerifierFixture, deployVerifier, intelPolicy } from '../helpers/attestation';
import { passProposal } from '../helpers/registry';
import { withSlopeHalfFlipped } from '../helpers/p384';

const FIXTURES = join(__dirname, '..', 'fixtures', 'sev-snp');
const MODEL = BigInt('0x' + createHash('sha256').update('snp-model').digest('hex'));
const DAY = 86_400;

/**
 * SEV-SNP reports on chain: the real Milan report through every check up to
 * the claims binding (its REPORT_DATA belongs to another machine); a
 * simulated AMD chain carrying claims into an AttestationRecorded; and each
 * of the report's rules refused by name.
 */
describe('AttestationVerifier: AMD SEV-SNP reports', () => {
    let f: VerifierFixture;
    let ws: SandboxContract<TreasuryContract>;
    let sim: SnpTestChain;
    let turin: SnpTestChain;
    const TURIN_MIN = { fmc: 1, bootloader: 3, tee: 4, snp: 5, microcode: 70 };
    let ready: BlockchainSnapshot;
    const measurement = Buffer.alloc(48, 0x3c);

    async function send<T extends VerifyAmdCertificate | ContinueAmdCertificate | SubmitSnpReport | ContinueSnpReport>(messages: T[], failAt?: { index?: number; exitCode: number }) {
        for (const [i, m] of messages.entries()) {
            const r =
                m.$$type === 'VerifyAmdCertificate' || m.$$type === 'ContinueAmdCertificate'
                    ? await f.verifier.sendVerifyAmdCertificate(f.submitter.getSender(), m as VerifyAmdCertificate | ContinueAmdCertificate)
                    : await f.verifier.sendSubmitSnpReport(f.submitter.getSender(), m as SubmitSnpReport | ContinueSnpReport);
            const failed = r.transactions.some((t) => t.description.type === 'generic' && t.description.computePhase.type === 'vm' && !t.description.computePhase.success);
            if (failAt && (i === failAt.index || (failAt.index === undefined && failed))) {
                expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: failAt.exitCode });
                return r;
            }
            expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: true });
            if (i === messages.length - 1) return r;
        }
        throw new Error('no messages');
    }

    /** The chain with the VCEK AMD would derive for the same chip at another TCB (a key of its own, under the same ASK). */
    const keysOf = (chain: SnpTestChain) => ({ arkKey: chain.ark.privateKey, askKey: chain.ask.privateKey });
    const vcekAt = (chain: SnpTestChain, tcb: SnpTestChain['tcb'], generation?: string) =>
        assembleSnpTestChain({ ...keysOf(chain), vcekKey: generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey, chipId: chain.chipId, tcb, generation });
    const claimsFor = (notAfter = BigInt(f.blockchain.now! + 30 * DAY)): AttestationClaims => ({ workerStake: ws.address, workerKey: 0xabcn, encryptionKey: 0xdefn, modelId: MODEL, notAfter });
    const simReport = (fields: Partial<Parameters<typeof snpTestReport>[1]> = {}, claims = claimsFor()) => snpTestReport(sim, { reportData: claimsReportData(claims), measurement, ...fields });

    beforeAll(async () => {
        sim = generateSnpTestChain({ tcb: { bootloader: 4, tee: 0, snp: 21, microcode: 200 } });
        turin = generateSnpTestChain({ generation: 'Turin', tcb: { fmc: 2, bootloader: 3, tee: 4, snp: 5, microcode: 72 } });
        const milanMin = { bootloader: 3, tee: 0, snp: 8, microcode: 115 };
        const real = parseSnpReport(readFileSync(join(FIXTURES, 'report-milan.bin')));
        f = await deployVerifier({
            policy: intelPolicy(
                snpPolicy(
                    new Map([
                        [AMD_ARK_IDS.Milan, milanMin],
                        [amdRsaKeyId(sim.ark.publicKey), milanMin],
                        [amdRsaKeyId(turin.ark.publicKey), TURIN_MIN],
                    ]),
                ),
            ),
            images: [snpImageHashOf(real), snpImageHashOf({ measurement })],
            models: [MODEL],
        });
        await f.submitter.send({ to: f.verifier.address, value: toNano('10') });
        ws = await f.blockchain.treasury('worker-stake');
        // Both chains' ASK and VCEK cached.
        const cert = (n: string) => parseAmdCertificate(amdCertificateDer(readFileSync(join(FIXTURES, n))));
        await send(amdCertificateSteps(cert('ask-milan.pem'), cert('ark-milan.pem').rsaKey!).messages);
        await send(amdCertificateSteps(cert('vcek-milan.der'), cert('ask-milan.pem').rsaKey!).messages);
        await send(amdCertificateSteps(parseAmdCertificate(sim.ask.der), sim.ark.publicKey).messages);
        await send(amdCertificateSteps(parseAmdCertificate(sim.vcek.der), sim.ask.publicKey).messages);
        await send(amdCertificateSteps(parseAmdCertificate(turin.ask.der), turin.ark.publicKey).messages);
        await send(amdCertificateSteps(parseAmdCertificate(turin.vcek.der), turin.ask.publicKey).messages);
        ready = f.blockchain.snapshot();
    });

    afterEach(async () => {
        await f.blockchain.loadFrom(ready);
    });

    it('the real Milan report passes every field and signature check; only the binding to these claims fails', async () => {
        const raw = readFileSync(join(FIXTURES, 'report-milan.bin'));
        const vcek = parseAmdCertificate(readFileSync(join(FIXTURES, 'vcek-milan.der')));
        const { messages } = snpReportSteps(raw, vcek.ecKey!, claimsFor(), ws.address);
        const r = await send(messages, { index: messages.length - 1, exitCode: ExitCode.ERR_ATTEST_BINDING });
        expect(r.transactions).not.toHaveTransaction({ from: f.verifier.address, to: ws.address });
    });

    it('a simulated chain carries the claims into AttestationRecorded at the WorkerStake, resting on the VCEK', async () => {
        const claims = claimsFor();
        const { messages, jobId } = snpReportSteps(simReport({}, claims), sim.vcek.publicKey, claims, ws.address);
        expect(messages.length).toBe(1 + SNP_P384_WINDOWS_PER_STEP.length);
        // Each transaction stays under one transaction's gas limit.
        for (const [i, m] of messages.entries()) {
            const r = await f.verifier.sendSubmitSnpReport(f.submitter.getSender(), m);
            const tx = r.transactions.find((t) => t.inMessage?.info.dest?.toString() === f.verifier.address.toString())!;
            const d = tx.description as { computePhase: { type: string; gasUsed: bigint; success: boolean } };
            expect(d.computePhase.success).toBe(true);
            expect(d.computePhase.gasUsed).toBeLessThan(1_000_000n);
            if (i === messages.length - 1) {
                expect(r.transactions).toHaveTransaction({ from: f.verifier.address, to: ws.address, success: true });
            } else expect(await f.verifier.getSnpJob(jobId)).not.toBeNull();
        }
        expect(await f.verifier.getSnpJob(jobId)).toBeNull();
    });

    it("another submitter's hint (a valid one: a hint is not unique) is a verification of its own and cannot lock this one", async () => {
        const claims = claimsFor();
        const raw = simReport({}, claims);
        const { messages, jobId } = snpReportSteps(raw, sim.vcek.publicKey, claims, ws.address);
        await send([messages[0]]);
        // The same scalars negated, with their quotients: every check passes with it too.
        const report = parseSnpReport(raw);
        const e = bytesToUint(snpReportDigest(report));
        const honest = p384Hint(e, report.signature.r, report.signature.s, sim.vcek.publicKey);
        const c = mod(-(honest.c0 + (honest.c1 << 192n)), P384_N);
        const other = { ...honest, a: -honest.a, b: -honest.b, c0: c & ((1n << 192n) - 1n), c1: c >> 192n };
        Object.assign(other, p384Quotients(e, report.signature.r, report.signature.s, other));
        const griefer = await f.blockchain.treasury('griefer');
        const hashStep = messages[0] as SubmitSnpReport;
        const grief = await f.verifier.sendSubmitSnpReport(griefer.getSender(), { ...hashStep, hint: p384HintCell(other), blocks: 0n, phases: 1n, slopes: (messages[1] as ContinueSnpReport).slopes });
        // Its own verification has no hash yet: a signature step there is out of order.
        expect(grief.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_SNP_WRONG_STAGE });
        const done = await send(messages.slice(1));
        expect(done.transactions).toHaveTransaction({ from: f.verifier.address, to: ws.address, success: true });
        expect(await f.verifier.getSnpJob(jobId)).toBeNull();
    });

    it('ContinueSnpReport goes on only with a hashed report job, from what the job keeps, and only once', async () => {
        const claims = claimsFor();
        const raw = simReport({}, claims);
        const { messages, jobId } = snpReportSteps(raw, sim.vcek.publicKey, claims, ws.address);
        const hash = messages[0] as SubmitSnpReport;
        const steps = messages.slice(1) as ContinueSnpReport[];
        expect(steps.every((m) => m.$$type === 'ContinueSnpReport')).toBe(true);
        const refused = async (m: ContinueSnpReport, exitCode: number, value?: bigint, id = jobId) => {
            const before = await f.verifier.getSnpJobCell(id);
            const r = await f.verifier.sendSubmitSnpReport(f.submitter.getSender(), m, value);
            expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode });
            const after = await f.verifier.getSnpJobCell(id);
            expect(after === null ? before === null : before !== null && after.equals(before)).toBe(true);
        };
        // no job under that id; a job hashed in part (one block of six); a job begun without a hint
        await refused(steps[0], ExitCode.ERR_ATTEST_SNP_WRONG_STAGE);
        const other = snpReportSteps(simReport({}, { ...claims, workerKey: 0x99n }), sim.vcek.publicKey, claims, ws.address);
        await send([{ ...(other.messages[0] as SubmitSnpReport), blocks: 1n }]);
        await refused({ ...steps[0], job: other.jobId }, ExitCode.ERR_ATTEST_SNP_WRONG_STAGE, undefined, other.jobId);
        const noHint = { ...hash, hint: null };
        await send([noHint]);
        const noHintId = snpJobIdOf('report', noHint.report, noHint.vcekKey, null);
        await refused({ ...steps[0], job: noHintId }, ExitCode.ERR_ATTEST_SNP_WRONG_STAGE, undefined, noHintId);
        await send([hash]);
        // a continuation of the other kind naming either job: a certificate's for this report, this one for a certificate's
        const certSteps = amdCertificateSteps(parseAmdCertificate(sim.vcek.der), sim.ask.publicKey);
        await send(certSteps.messages.filter((m) => m.$$type === 'VerifyAmdCertificate'));
        await refused({ ...steps[0], job: certSteps.jobId }, ExitCode.ERR_ATTEST_SNP_WRONG_STAGE, undefined, certSteps.jobId);
        const certPhase = certSteps.messages.find((m) => m.$$type === 'ContinueAmdCertificate') as ContinueAmdCertificate;
        const crossed = await f.verifier.sendVerifyAmdCertificate(f.submitter.getSender(), { ...certPhase, job: jobId });
        expect(crossed.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_SNP_WRONG_STAGE });
        // no windows, too little value, a wrong slope
        await refused({ ...steps[0], phases: 0n }, ExitCode.ERR_ATTEST_SNP_WRONG_STAGE);
        await refused(steps[0], ExitCode.ERR_INSUFFICIENT_VALUE, toNano('0.05'));
        const offByOne = withSlopeHalfFlipped(steps[1].slopes, 1, 1);
        await send([steps[0]]);
        await refused({ ...steps[1], slopes: offByOne }, ExitCode.ERR_P384_BAD_SLOPE);
        // someone else runs a window first: the step prepared from window 22 skips it and still fits; one from
        // a window not reached yet is refused
        const griefer = await f.blockchain.treasury('griefer');
        const one = await f.verifier.sendSubmitSnpReport(griefer.getSender(), { ...steps[1], phases: 1n });
        expect(one.transactions).toHaveTransaction({ to: f.verifier.address, success: true });
        await refused({ ...steps[1], from: steps[1].from + 2n }, ExitCode.ERR_P384_WINDOW_AHEAD);
        // claims other than the report's are refused at the binding, and the job stays for the right ones
        const last = steps[steps.length - 1];
        for (const m of steps.slice(1, -1)) await send([m]);
        await refused({ ...last, claims: { ...last.claims, workerKey: 0x1234n } }, ExitCode.ERR_ATTEST_BINDING);
        const done = await send([last]);
        expect(done.transactions).toHaveTransaction({ from: f.verifier.address, to: ws.address, success: true });
        expect(await f.verifier.getSnpJob(jobId)).toBeNull();
        // nothing left to replay
        await refused(last, ExitCode.ERR_ATTEST_SNP_WRONG_STAGE);
    });

    it('a first step whose hint is larger than a P384Hint is refused before anything is kept', async () => {
        const claims = claimsFor();
        const { messages } = snpReportSteps(simReport({}, claims), sim.vcek.publicKey, claims, ws.address);
        const hash = messages[0] as SubmitSnpReport;
        // the honest hint with one more cell hung under it
        const hint = hash.hint!;
        const grown = beginCell().storeSlice(hint.beginParse()).storeRef(beginCell().storeUint(1, 8).endCell()).endCell();
        const r = await f.verifier.sendSubmitSnpReport(f.submitter.getSender(), { ...hash, hint: grown });
        expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_MALFORMED });
        expect(await f.verifier.getSnpJob(snpJobIdOf('report', hash.report, hash.vcekKey, grown))).toBeNull();
        await send([hash]);
    });

    it('refuses each report rule by name, before any hashing where the rule needs no signature', async () => {
        // The first step of an honest report with another report in its place (the off-chain parser would refuse these).
        const honest = snpReportSteps(simReport(), sim.vcek.publicKey, claimsFor(), ws.address).messages[0];
        const first = (raw: Buffer, key = sim.vcek.publicKey) => [{ ...honest, report: byteChain(raw), vcekKey: byteChain(p384KeyBytes(key)) }];
        const patched = (at: number, bytes: number[], base = simReport()) => {
            const b = Buffer.from(base);
            Buffer.from(bytes).copy(b, at);
            return b;
        };
        await send(first(simReport({ version: 4 })), { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_VERSION });
        await send(first(patched(SNP_OFFSETS.signatureAlgo, [2, 0, 0, 0])), { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_SIGNATURE_ALGO });
        await send(first(simReport({ vmpl: 1 })), { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_VMPL });
        await send(first(simReport({ policy: 0x30000n | SNP_POLICY_DEBUG })), { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_DEBUG });
        await send(first(simReport({ policy: 0x30000n | SNP_POLICY_MIGRATE_MA })), { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_MIGRATE_MA });
        await send(first(simReport({ measurement: Buffer.alloc(48, 0x3d) })), { index: 0, exitCode: ExitCode.ERR_ATTEST_IMAGE_NOT_ALLOWED });
        await send(first(simReport({ reportedTcb: { ...sim.tcb, microcode: 201 } })), { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_TCB_MISMATCH });
        await send(first(simReport({ chipId: Buffer.alloc(64, 9) })), { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_CHIP_MISMATCH });
        await send(first(patched(SNP_OFFSETS.signature + 60, [1])), { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_BAD_SIGNATURE_AREA });
        await send(first(patched(SNP_OFFSETS.signature + 400, [1])), { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_BAD_SIGNATURE_AREA });
        await send(first(Buffer.concat([simReport(), Buffer.alloc(1)])), { index: 0, exitCode: ExitCode.ERR_ATTEST_MALFORMED });
        // A VCEK nobody verified.
        await send(first(simReport(), { x: sim.vcek.publicKey.x, y: sim.vcek.publicKey.y ^ 1n }), { index: 0, exitCode: ExitCode.ERR_ATTEST_UNKNOWN_ISSUER });
    });

    it('refuses a TCB below the policy minimum, a forged signature, and a revoked VCEK; a tampered report is another verification', async () => {
        // A VCEK of an older TCB (AMD derives another key for each TCB) under the same ASK: cached, but below the minimum.
        const old = { bootloader: 2, tee: 0, snp: 21, microcode: 200 };
        const oldChain = vcekAt(sim, old);
        await send(amdCertificateSteps(parseAmdCertificate(oldChain.vcek.der), sim.ask.publicKey).messages);
        const low = snpTestReport(oldChain, { reportData: claimsReportData(claimsFor()), measurement });
        await send([snpReportSteps(low, oldChain.vcek.publicKey, claimsFor(), ws.address).messages[0]], { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_TCB_TOO_LOW });

        // Signed by another key than the VCEK: its fields pass, the signature check does not.
        const other = generateSnpTestChain({ chipId: sim.chipId, tcb: sim.tcb });
        const forged = snpTestReport(other, { reportData: claimsReportData(claimsFor()), measurement });
        await send(snpReportSteps(forged, sim.vcek.publicKey, claimsFor(), ws.address).messages, { exitCode: ExitCode.ERR_ATTEST_SNP_BAD_SIGNATURE });

        // Governance revokes the VCEK: its reports are refused at once.
        const id = vcekKeyId(sim.vcek.publicKey);
        const revoke = await f.registry.sendRevokeAttestationKey(f.owner.getSender(), id);
        expect(revoke.transactions).toHaveTransaction({ from: f.registry.address, to: f.verifier.address, success: true });
        expect(await f.verifier.getAmdKeyUsable(id)).toBe(false);
        await send([snpReportSteps(simReport(), sim.vcek.publicKey, claimsFor(), ws.address).messages[0]], { index: 0, exitCode: ExitCode.ERR_ATTEST_KEY_REVOKED });
    });

    it('revoking a chip voids every VCEK of it, one verified later for a new TCB included, and refuses caching another', async () => {
        const claims = claimsFor();
        const { messages } = snpReportSteps(simReport({}, claims), sim.vcek.publicKey, claims, ws.address);
        await send(messages);
        const id = vcekKeyId(sim.vcek.publicKey);
        expect(await f.verifier.getKeyRevoked(id)).toBe(false);

        const revoke = await f.registry.sendRevokeAttestationKey(f.owner.getSender(), amdChipRevocationId(sim.chipId));
        expect(revoke.transactions).toHaveTransaction({ from: f.registry.address, to: f.verifier.address, success: true });
        expect(await f.verifier.getKeyRevoked(id)).toBe(true);
        expect(await f.verifier.getAmdKeyUsable(id)).toBe(false);
        await send([snpReportSteps(simReport({}, claims), sim.vcek.publicKey, claims, ws.address).messages[0]], { index: 0, exitCode: ExitCode.ERR_ATTEST_KEY_REVOKED });
        // The attestation already recorded ends: anyone may end it.
        const end = await f.verifier.sendEndRevokedAttestation(f.submitter.getSender(), ws.address, id);
        expect(end.transactions).toHaveTransaction({ from: f.verifier.address, to: ws.address, success: true });

        // AMD derives a new VCEK when the firmware moves on: the same chip, so it is refused.
        const newer = vcekAt(sim, { ...sim.tcb, microcode: 201 });
        const steps = amdCertificateSteps(parseAmdCertificate(newer.vcek.der), sim.ask.publicKey).messages;
        // Refused at its first step: the chip id is read before any hashing.
        await send(steps, { index: 0, exitCode: ExitCode.ERR_ATTEST_KEY_REVOKED });
        expect(await f.verifier.getAmdKeyUsable(vcekKeyId(newer.vcek.publicKey))).toBe(false);
        // Another chip under the same ASK is unaffected.
        expect(await f.verifier.getAmdKeyUsable(amdRsaKeyId(sim.ask.publicKey))).toBe(true);
    });

    it("EPYC Turin: its VCEK (FMC version, 8-byte hwID) and reports in Turin's TCB layout are recorded, held to its root's own minimum", async () => {
        const vcek = parseAmdCertificate(turin.vcek.der);
        const cached = (await f.verifier.getAmdKey(vcekKeyId(turin.vcek.publicKey)))!;
        expect(cached.tcb).toBe(bytesToUint(snpTcbBytes(turin.tcb)));
        expect(cached.chipId).toBe(amdChipRevocationId(vcek.hwId!));
        const claims = claimsFor();
        const raw = snpTestReport(turin, { reportData: claimsReportData(claims), measurement });
        expect(parseSnpReport(raw).turin).toBe(true);
        const done = await send(snpReportSteps(raw, turin.vcek.publicKey, claims, ws.address).messages);
        expect(done.transactions).toHaveTransaction({ from: f.verifier.address, to: ws.address, success: true });

        // A VCEK of an older FMC firmware: below Turin's minimum although every other part meets it.
        const old = vcekAt(turin, { ...turin.tcb, fmc: 0 }, 'Turin');
        await send(amdCertificateSteps(parseAmdCertificate(old.vcek.der), turin.ask.publicKey).messages);
        const low = snpTestReport(old, { reportData: claimsReportData(claims), measurement });
        await send([snpReportSteps(low, old.vcek.publicKey, claims, ws.address).messages[0]], { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_TCB_TOO_LOW });

        // A VCEK must be of its root's generation: a Turin-shaped one under the Milan-pinned root, or a
        // Milan-shaped one under the Turin root, would have its TCB read against a floor in the other layout.
        const turinShaped = assembleSnpTestChain({ ...keysOf(sim), vcekKey: old.vcek.privateKey, chipId: turin.chipId, tcb: turin.tcb, generation: 'Turin' });
        const milanShaped = vcekAt(turin, { bootloader: 9, tee: 9, snp: 9, microcode: 200 });
        await send([amdCertificateSteps(parseAmdCertificate(turinShaped.vcek.der), sim.ask.publicKey).messages[0]], { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_WRONG_GENERATION });
        await send([amdCertificateSteps(parseAmdCertificate(milanShaped.vcek.der), turin.ask.publicKey).messages[0]], { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_WRONG_GENERATION });

        // An FMC version with a 64-byte hwID is neither generation's VCEK.
        const exts = vcekExtensions(turin.tcb, turin.chipId, 'Turin-B0');
        const der = amdCertificate({
            subjectCN: 'SEV-VCEK',
            issuerCN: 'SEV-Turin',
            spki: p384Spki(old.vcek.publicKey),
            issuer: turin.ask.privateKey,
            extensions: [...exts.slice(0, -1), derSeq(derOid(OID_AMD.hwId), derOctets(Buffer.alloc(64, 5)))],
        });
        const mixed = amdCertificateSteps({ ...parseAmdCertificate(old.vcek.der), der }, turin.ask.publicKey).messages;
        await send([mixed[0]], { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_BAD_EXTENSIONS });
    });

    it('unpinning a root voids every key below it', async () => {
        await passProposal(f, () => f.registry.sendProposeAttestationPolicy(f.owner.getSender(), intelPolicy(snpPolicy([AMD_ARK_IDS.Milan]))));
        expect(await f.verifier.getAmdKeyUsable(vcekKeyId(sim.vcek.publicKey))).toBe(false);
        await send([snpReportSteps(simReport(), sim.vcek.publicKey, claimsFor(), ws.address).messages[0]], { index: 0, exitCode: ExitCode.ERR_ATTEST_UNKNOWN_ISSUER });
    });
});
