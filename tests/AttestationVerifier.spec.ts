import { AMD_ARK_IDS, snpPolicy, snpPolicyOf, snpTcbValue } from '../wrappers/snp/amd';
import type { SnpTcb } from '../wrappers/snp/report';
import { storeSnpPolicy } from '../wrappers/Registry';
import { createHash } from 'crypto';
import { Address, Dictionary, beginCell, toNano } from '@ton/core';
import { BlockchainSnapshot, SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox';
import { keyPairFromSeed } from '@ton/crypto';
import '@ton/test-utils';
import { ExitCode } from '../wrappers/exitCodes';
import { ExtendedAttestationVerifier, SubmitQuote, loadAttestationAccepted, loadAttestationRecorded, storeAttestationRevoked } from '../wrappers/AttestationVerifier';
import {
    AttestationClaims,
    TEST_QE_MRSIGNER,
    TEST_QE_PRODID,
    TEST_QE_SVN,
    TestCa,
    TestQuoteOptions,
    buildAttestationSteps,
    buildTestQuote,
    byteChain,
    chainOf,
    derChildren,
    readDer,
    claimsReportData,
    claimsStruct,
    createTestCa,
    imageHashOf,
    keyIdOf,
    parseQuote,
    quoteBodyCell,
    qeReportCell,
    signSimulated,
    AttestationSteps,
    INTEL_TD_QE_IDENTITY,
    TEST_QE_ATTRIBUTES,
    TEST_FMSPC,
    TestKey,
    basicConstraintsExtension,
    buildTbs,
    certificateStep,
    chainBytes,
    generateP256,
    parseCertificate,
    signCertificate,
} from '../wrappers/tdx';
import { deployRegistry, linkContracts, passProposal } from './helpers/registry';
import { keyInt, listing, workerKeys } from './helpers/staking';
import { ExtendedStaking } from '../wrappers/Staking';
import { ProposalKind, decodeProposal } from '../wrappers/Registry';
import { ExtendedWorkerStake, WorkerStatus } from '../wrappers/WorkerStake';
import { Policy, VerifierFixture, deployVerifier, fixtureImageHash, intelPolicy, intelRootKey, loadIntelFixture, noAttestationPolicy, u256 } from './helpers/attestation';
import { Opcode } from '../wrappers/opcodes';

const MODEL = 0x2222222222222222222222222222222222222222222222222222222222222222n;
const OTHER_MODEL = 0x3333333333333333333333333333333333333333333333333333333333333333n;
const DAY = 86400;
// TVM's own exit code for reading past the end of a cell.
const CELL_UNDERFLOW = 9;

function flip(buf: Buffer, pos: number, mask = 0x01): Buffer {
    const b = Buffer.from(buf);
    b[pos] ^= mask;
    return b;
}

describe.each(['quote-v4.bin', 'quote-v5.bin'] as const)('AttestationVerifier with the real Intel quote %s', (file) => {
    const { quote } = loadIntelFixture(file);

    async function stepsFor(f: VerifierFixture) {
        const ws = (await f.blockchain.treasury('ws')).address;
        return buildAttestationSteps(
            quote,
            {
                workerStake: ws,
                workerKey: 1n,
                encryptionKey: 2n,
                modelId: MODEL,
                notAfter: BigInt(f.blockchain.now! + DAY),
            },
            ws,
        );
    }

    it("passes every certificate, QE report and quote signature with Intel's root pinned; other claims fail the binding", async () => {
        const f = await deployVerifier({ policy: intelPolicy(), images: [fixtureImageHash(file)], models: [MODEL] });
        const s = await stepsFor(f);
        expect(await f.verifier.getRootKeyId()).toBe(keyIdOf(intelRootKey()));
        for (const cert of s.certificates) {
            const r = await f.verifier.sendVerifyCertificate(f.submitter.getSender(), cert.message);
            expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: true });
            const cached = await f.verifier.getCachedKey(cert.subjectKeyId);
            expect(Number(cached!.expiresAt)).toBe(Math.floor(cert.notAfter.getTime() / 1000));
            expect(await f.verifier.getKeyUsable(cert.subjectKeyId)).toBe(true);
            // Intel's Platform CA is a CA (path length 0: no CA below it); the PCK certificate is not.
            const pck = cert === s.certificates[s.certificates.length - 1];
            expect({ kind: cached!.kind, pathLen: cached!.pathLen }).toEqual(pck ? { kind: 1n, pathLen: 0n } : { kind: 3n, pathLen: 0n });
        }
        const qe = await f.verifier.sendVerifyQeReport(f.submitter.getSender(), s.qeReport.message);
        expect(qe.transactions).toHaveTransaction({ to: f.verifier.address, success: true });
        expect(await f.verifier.getKeyUsable(s.quote.attestationKeyId)).toBe(true);
        // The quote signature is checked before the binding: reaching the
        // binding error proves the structure, measurement and signature passed.
        const r = await f.verifier.sendSubmitQuote(f.submitter.getSender(), s.quote.message);
        expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_BINDING });
        // ...and the same quote with its signature altered is refused there.
        const bad = await f.verifier.sendSubmitQuote(f.submitter.getSender(), { ...s.quote.message, s: s.quote.message.s ^ 1n });
        expect(bad.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_BAD_QUOTE_SIGNATURE });
    });

    it("revoking Intel's PCK key or Platform CA ends what the real chain certifies", async () => {
        const f = await deployVerifier({ policy: intelPolicy(), images: [fixtureImageHash(file)], models: [MODEL] });
        const s = await stepsFor(f);
        for (const cert of s.certificates) await f.verifier.sendVerifyCertificate(f.submitter.getSender(), cert.message);
        await f.verifier.sendVerifyQeReport(f.submitter.getSender(), s.qeReport.message);
        expect(await f.verifier.getKeyUsable(s.quote.attestationKeyId)).toBe(true);
        const refused = async (send: Promise<SendMessageResult>) =>
            expect((await send).transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_KEY_REVOKED });

        await f.registry.sendRevokeAttestationKey(f.owner.getSender(), s.qeReport.pckKeyId);
        expect(await f.verifier.getKeyUsable(s.quote.attestationKeyId)).toBe(false);
        await refused(f.verifier.sendSubmitQuote(f.submitter.getSender(), s.quote.message));
        await refused(f.verifier.sendVerifyQeReport(f.submitter.getSender(), s.qeReport.message));

        await f.registry.sendRevokeAttestationKey(f.owner.getSender(), s.certificates[0].subjectKeyId);
        expect(await f.verifier.getKeyRevoked(s.certificates[0].subjectKeyId)).toBe(true);
        await refused(f.verifier.sendVerifyCertificate(f.submitter.getSender(), s.certificates[1].message));
    });

    it("reads the platform's FMSPC from Intel's PCK certificate; revoking the platform ends what its PCK certifies", async () => {
        const f = await deployVerifier({ policy: intelPolicy(), images: [fixtureImageHash(file)], models: [MODEL] });
        const s = await stepsFor(f);
        for (const cert of s.certificates) await f.verifier.sendVerifyCertificate(f.submitter.getSender(), cert.message);
        await f.verifier.sendVerifyQeReport(f.submitter.getSender(), s.qeReport.message);
        const fmspc = u256(quote.certificates[0].fmspc!);
        expect((await f.verifier.getCachedKey(s.qeReport.pckKeyId))!.platform).toBe(fmspc);
        expect((await f.verifier.getCachedKey(s.quote.attestationKeyId))!.platform).toBe(fmspc);
        expect((await f.verifier.getCachedKey(s.certificates[0].subjectKeyId))!.platform).toBe(0n);
        await f.registry.sendRevokePlatform(f.owner.getSender(), fmspc);
        expect(await f.verifier.getKeyUsable(s.quote.attestationKeyId)).toBe(false);
        const r = await f.verifier.sendVerifyQeReport(f.submitter.getSender(), s.qeReport.message);
        expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_KEY_REVOKED });
        // The Platform CA serves other platforms: it stays usable.
        expect(await f.verifier.getKeyUsable(s.certificates[0].subjectKeyId)).toBe(true);
    });

    it('refuses the real quote with the image error when its image is not allowed', async () => {
        const f = await deployVerifier({ policy: intelPolicy(), images: [], models: [MODEL] });
        const s = await stepsFor(f);
        const r = await f.verifier.sendSubmitQuote(f.submitter.getSender(), s.quote.message);
        expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_IMAGE_NOT_ALLOWED });
    });

    it('refuses everything while the Registry pins no root (its genesis policy)', async () => {
        const f = await deployVerifier({
            policy: noAttestationPolicy(),
            images: [fixtureImageHash(file)],
        });
        const s = await stepsFor(f);
        const r = await f.verifier.sendVerifyCertificate(f.submitter.getSender(), s.certificates[0].message);
        expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_NO_ROOT });
    });
});

describe('AttestationVerifier with a test CA', () => {
    let ca: TestCa;
    let f: VerifierFixture;
    let ws: SandboxContract<TreasuryContract>;
    let image: bigint;
    let base: BlockchainSnapshot;
    let cached: BlockchainSnapshot;
    let T0: number;

    function claimsFor(workerStake: Address, notAfter = BigInt(T0 + 30 * DAY)): AttestationClaims {
        return { workerStake, workerKey: 0xabcn, encryptionKey: 0xdefn, modelId: MODEL, notAfter };
    }

    function testPolicy(overrides: Partial<Policy> = {}): Policy {
        return {
            rootKeyX: ca.root.publicKey.x,
            rootKeyY: ca.root.publicKey.y,
            qeMrSigner: u256(TEST_QE_MRSIGNER),
            qeIsvProdId: BigInt(TEST_QE_PRODID),
            qeMinIsvSvn: BigInt(TEST_QE_SVN),
            ...INTEL_TD_QE_IDENTITY,
            simulatedKey: 0n,
            ...snpPolicy(),
            ...overrides,
        };
    }

    function stepsOf(claims: AttestationClaims, o: Partial<TestQuoteOptions> = {}, target = claims.workerStake): AttestationSteps {
        const raw = buildTestQuote(ca, { reportData: claimsReportData(claims), ...o });
        return buildAttestationSteps(parseQuote(raw), claims, target);
    }

    async function expectStep(send: Promise<SendMessageResult>, exitCode?: number) {
        const r = await send;
        if (exitCode === undefined) {
            expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: true });
        } else {
            expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode });
            // A refused step bounces the submitter's value back.
            expect(r.transactions).toHaveTransaction({ from: f.verifier.address, to: f.submitter.address, inMessageBounced: true });
        }
        return r;
    }

    const cert = (m: AttestationSteps['certificates'][number]['message'], exitCode?: number) => expectStep(f.verifier.sendVerifyCertificate(f.submitter.getSender(), m), exitCode);
    const qe = (m: AttestationSteps['qeReport']['message'], exitCode?: number) => expectStep(f.verifier.sendVerifyQeReport(f.submitter.getSender(), m), exitCode);
    const submit = (m: SubmitQuote, exitCode?: number) => expectStep(f.verifier.sendSubmitQuote(f.submitter.getSender(), m), exitCode);

    async function runChain(s: AttestationSteps) {
        for (const c of s.certificates) await cert(c.message);
        await qe(s.qeReport.message);
    }

    beforeAll(async () => {
        ca = createTestCa();
        image = imageHashOf(parseQuote(buildTestQuote(ca, { reportData: Buffer.alloc(64) })).body);
        f = await deployVerifier({ policy: testPolicy(), images: [image], models: [MODEL], params: { allowSimulatedAttestation: false } });
        ws = await f.blockchain.treasury('workerStake');
        T0 = f.blockchain.now!;
        base = f.blockchain.snapshot();
        await runChain(stepsOf(claimsFor(ws.address)));
        cached = f.blockchain.snapshot();
    });

    async function restore(s: BlockchainSnapshot) {
        await f.blockchain.loadFrom(s);
        f.blockchain.now = T0;
    }

    describe('end to end', () => {
        beforeEach(() => restore(base));

        it('verifies the chain step by step and records the attestation at the WorkerStake', async () => {
            const claims = claimsFor(ws.address);
            const s = stepsOf(claims);
            const before = await f.submitter.getBalance();
            for (const c of s.certificates) {
                expect(await f.verifier.getKeyUsable(c.subjectKeyId)).toBe(false);
                const r = await cert(c.message);
                // The unspent value comes back with an Excesses.
                expect(r.transactions).toHaveTransaction({ from: f.verifier.address, to: f.submitter.address, op: Opcode.Excesses });
                expect(await f.verifier.getKeyUsable(c.subjectKeyId)).toBe(true);
                // The Platform CA certificate makes a CA key; the PCK certificate an end-entity key.
                expect((await f.verifier.getCachedKey(c.subjectKeyId))!.kind).toBe(c === s.certificates[s.certificates.length - 1] ? 1n : 3n);
            }
            await qe(s.qeReport.message);
            const att = (await f.verifier.getCachedKey(s.quote.attestationKeyId))!;
            expect(att.kind).toBe(2n);
            // As long as the chain that certified it (the PCK key's expiry).
            expect(att.expiresAt).toBe((await f.verifier.getCachedKey(s.qeReport.pckKeyId))!.expiresAt);

            const r = await submit(s.quote.message);
            expect(r.transactions).toHaveTransaction({ from: f.verifier.address, to: ws.address, op: ExtendedAttestationVerifier.opcodes.AttestationRecorded, value: toNano('0.1') });
            const rec = r.transactions.find((t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.dest.equals(ws.address))!;
            const body = loadAttestationRecorded(rec.inMessage!.body.beginParse());
            expect(body.imageHash).toBe(image);
            expect(body.modelId).toBe(MODEL);
            expect(body.workerKey).toBe(claims.workerKey);
            expect(body.encryptionKey).toBe(claims.encryptionKey);
            // expiry = min(claims not-after, now + lifetime)
            expect(Number(body.expiresAt)).toBe(Math.min(Number(claims.notAfter), T0 + Number(f.params.attestationLifetime)));
            const log = r.externals.find((e) => e.body.beginParse().preloadUint(32) === ExtendedAttestationVerifier.opcodes.AttestationAccepted)!;
            expect(loadAttestationAccepted(log.body.beginParse()).simulated).toBe(false);
            // Four signatures cost the submitter well under a toncoin.
            const spent = before - (await f.submitter.getBalance());
            expect(spent).toBeLessThan(toNano('1.2'));
        });

        it('caps the expiry at the claims not-after when that comes first', async () => {
            const claims = claimsFor(ws.address, BigInt(T0 + 3600));
            const s = stepsOf(claims);
            await runChain(s);
            const r = await submit(s.quote.message);
            const rec = r.transactions.find((t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.dest.equals(ws.address))!;
            expect(loadAttestationRecorded(rec.inMessage!.body.beginParse()).expiresAt).toBe(BigInt(T0 + 3600));
        });

        it('refuses a certificate whose issuer is not yet verified, and a chain from another CA', async () => {
            const s = stepsOf(claimsFor(ws.address));
            await cert(s.certificates[1].message, ExitCode.ERR_ATTEST_UNKNOWN_ISSUER);
            await qe(s.qeReport.message, ExitCode.ERR_ATTEST_UNKNOWN_ISSUER);
            await submit(s.quote.message, ExitCode.ERR_ATTEST_UNKNOWN_ISSUER);
            // A complete chain rooted in a CA the Registry did not pin.
            const saved = ca;
            ca = createTestCa();
            const foreign = stepsOf(claimsFor(ws.address));
            ca = saved;
            await cert(foreign.certificates[0].message, ExitCode.ERR_ATTEST_UNKNOWN_ISSUER);
        });

        it('refuses too little value on every step', async () => {
            const s = stepsOf(claimsFor(ws.address));
            await expectStep(f.verifier.sendVerifyCertificate(f.submitter.getSender(), s.certificates[0].message, toNano('0.2')), ExitCode.ERR_INSUFFICIENT_VALUE);
            await expectStep(f.verifier.sendVerifyQeReport(f.submitter.getSender(), s.qeReport.message, toNano('0.2')), ExitCode.ERR_INSUFFICIENT_VALUE);
            await expectStep(f.verifier.sendSubmitQuote(f.submitter.getSender(), s.quote.message, toNano('0.3')), ExitCode.ERR_INSUFFICIENT_VALUE);
            await expectStep(
                f.verifier.sendSubmitSimulated(
                    f.submitter.getSender(),
                    {
                        $$type: 'SubmitSimulated',
                        queryId: 0n,
                        imageHash: image,
                        signature: Buffer.alloc(64),
                        workerStake: ws.address,
                        claims: claimsStruct(claimsFor(ws.address)),
                    },
                    toNano('0.05'),
                ),
                ExitCode.ERR_INSUFFICIENT_VALUE,
            );
            await expectStep(f.verifier.send(f.submitter.getSender(), { value: toNano('0.0035') }, { $$type: 'PurgeKey', queryId: 0n, keyId: 1n }), ExitCode.ERR_INSUFFICIENT_VALUE);
            await expectStep(
                f.verifier.send(f.submitter.getSender(), { value: toNano('0.05') }, { $$type: 'EndRevokedAttestation', queryId: 0n, workerStake: ws.address, keyId: 1n }),
                ExitCode.ERR_INSUFFICIENT_VALUE,
            );
            // The owner's key revocation pays for its config push.
            const low = await f.registry.sendRevokeAttestationKey(f.owner.getSender(), 1n, 0n, toNano('0.01'));
            expect(low.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            expect((await f.registry.getRevokedKeys()).size).toBe(0);
        });

        it('refuses malformed bodies', async () => {
            for (const op of [Opcode.VerifyCertificate, Opcode.VerifyQeReport, Opcode.SubmitQuote, Opcode.SubmitSimulated, Opcode.EndRevokedAttestation]) {
                const r = await f.submitter.send({ to: f.verifier.address, value: toNano('1'), body: beginCell().storeUint(op, 32).storeUint(0, 64).endCell() });
                expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: CELL_UNDERFLOW });
            }
            const r = await f.owner.send({ to: f.registry.address, value: toNano('1'), body: beginCell().storeUint(Opcode.RevokeAttestationKey, 32).storeUint(0, 64).endCell() });
            expect(r.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: CELL_UNDERFLOW });
        });

        it('accepts config only from its Registry', async () => {
            const config = await f.registry.getNetworkConfig();
            const r = await f.verifier.send(f.stranger.getSender(), { value: toNano('0.1') }, { $$type: 'ConfigUpdate', queryId: 0n, version: 999n, config });
            expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_CONFIG_NOT_FROM_REGISTRY });
        });
    });

    describe('with the chain cached', () => {
        beforeEach(() => restore(cached));

        it('re-attests on the same machine with one signature', async () => {
            const s = stepsOf(claimsFor(ws.address));
            const r = await submit(s.quote.message);
            expect(r.transactions).toHaveTransaction({ from: f.verifier.address, to: ws.address, op: ExtendedAttestationVerifier.opcodes.AttestationRecorded });
            // A second, fresh quote for new claims (say, a rotated worker key).
            const again = stepsOf({ ...claimsFor(ws.address), workerKey: 0x999n });
            await submit(again.quote.message);
        });

        it('refuses any altered byte of the signed quote body', async () => {
            const claims = claimsFor(ws.address);
            const raw = buildTestQuote(ca, { reportData: claimsReportData(claims) });
            const q = parseQuote(raw);
            const base = buildAttestationSteps(q, claims, ws.address).quote.message;
            // Positions in fields that no check before the signature reads:
            // header user data, MRSEAM, SEAMATTRIBUTES, XFAM, MRCONFIGID,
            // MROWNER, REPORTDATA, and a raised TEE_TCB_SVN component.
            for (const pos of [30, 64, 100, 160, 180, 240, 300, 570, 631, 49]) {
                const body = quoteBodyCell(flip(q.signed, pos, 0x40));
                await submit({ ...base, body }, ExitCode.ERR_ATTEST_BAD_QUOTE_SIGNATURE);
            }
            // A measurement byte changes the image, which is not allowed.
            await submit({ ...base, body: quoteBodyCell(flip(q.signed, 200)) }, ExitCode.ERR_ATTEST_IMAGE_NOT_ALLOWED);
            // Header fields have their own errors.
            await submit({ ...base, body: quoteBodyCell(flip(q.signed, 0, 0x02)) }, ExitCode.ERR_ATTEST_BAD_VERSION);
            // Version 5 in a version 4 layout: its first cell is not the v5 header's.
            await submit({ ...base, body: quoteBodyCell(flip(q.signed, 0)) }, ExitCode.ERR_ATTEST_MALFORMED);
            await submit({ ...base, body: quoteBodyCell(flip(q.signed, 2)) }, ExitCode.ERR_ATTEST_BAD_KEY_TYPE);
            await submit({ ...base, body: quoteBodyCell(flip(q.signed, 4)) }, ExitCode.ERR_ATTEST_BAD_TEE_TYPE);
            await submit({ ...base, body: quoteBodyCell(flip(q.signed, 168)) }, ExitCode.ERR_ATTEST_DEBUG);
        });

        it('refuses an altered quote signature', async () => {
            const s = stepsOf(claimsFor(ws.address)).quote.message;
            await submit({ ...s, r: s.r ^ 1n }, ExitCode.ERR_ATTEST_BAD_QUOTE_SIGNATURE);
            await submit({ ...s, s: s.s ^ (1n << 200n) }, ExitCode.ERR_ATTEST_BAD_QUOTE_SIGNATURE);
            await submit({ ...s, r: 0n }, ExitCode.ERR_ATTEST_BAD_QUOTE_SIGNATURE);
        });

        it('refuses quote cells not cut at the field boundaries', async () => {
            const claims = claimsFor(ws.address);
            const q = parseQuote(buildTestQuote(ca, { reportData: claimsReportData(claims) }));
            const m = buildAttestationSteps(q, claims, ws.address).quote.message;
            await submit({ ...m, body: byteChain(q.signed) }, ExitCode.ERR_ATTEST_MALFORMED);
            await submit({ ...m, body: chainOf([q.signed.subarray(0, 112), q.signed.subarray(112, 632)].map((b) => Buffer.from(b)).slice(0, 1)) }, ExitCode.ERR_ATTEST_MALFORMED);
        });

        it('refuses a quote with the DEBUG attribute set, even correctly signed', async () => {
            const s = stepsOf(claimsFor(ws.address), { tdAttributes: Buffer.from('0100001000000000', 'hex') });
            await submit(s.quote.message, ExitCode.ERR_ATTEST_DEBUG);
        });

        it('refuses a TEE TCB SVN below the minimum, component by component', async () => {
            // The quote's SVN is 07 01 03 00...; a minimum of 00 02 00... is
            // numerically smaller but its second component is higher.
            await passProposal(f, () => f.registry.sendProposeParams(f.owner.getSender(), { ...f.params, minTeeTcbSvn: BigInt('0x00020000000000000000000000000000') }));
            const s = stepsOf(claimsFor(ws.address, BigInt(f.blockchain.now! + DAY)));
            await submit(s.quote.message, ExitCode.ERR_ATTEST_TCB_TOO_LOW);
            await passProposal(f, () => f.registry.sendProposeParams(f.owner.getSender(), { ...f.params, minTeeTcbSvn: BigInt('0x07010300000000000000000000000000') }));
            const ok = stepsOf(claimsFor(ws.address, BigInt(f.blockchain.now! + DAY)));
            await submit(ok.quote.message);
        });

        it('refuses claims that do not match, name another WorkerStake, expired, or an unlisted model', async () => {
            const claims = claimsFor(ws.address);
            const s = stepsOf(claims);
            await submit({ ...s.quote.message, claims: claimsStruct({ ...claims, workerKey: 1n }) }, ExitCode.ERR_ATTEST_BINDING);
            const other = (await f.blockchain.treasury('otherStake')).address;
            await submit({ ...s.quote.message, workerStake: other }, ExitCode.ERR_ATTEST_WRONG_TARGET);
            // Claims that name the other stake do not hash to this quote.
            await submit({ ...s.quote.message, workerStake: other, claims: claimsStruct({ ...claims, workerStake: other }) }, ExitCode.ERR_ATTEST_BINDING);
            const stale = stepsOf(claimsFor(ws.address, BigInt(T0 - 1)));
            await submit(stale.quote.message, ExitCode.ERR_ATTEST_CLAIMS_EXPIRED);
            const unlisted = stepsOf({ ...claims, modelId: OTHER_MODEL });
            await submit(unlisted.quote.message, ExitCode.ERR_ATTEST_MODEL_NOT_ALLOWED);
        });

        it('refuses an expired cache entry', async () => {
            // A PCK certificate that ends in a day ends its attestation key with it
            // (on a fresh cache: a key in use is never shortened by another certificate).
            await restore(base);
            const s = stepsOf(claimsFor(ws.address, BigInt(T0 + 365 * DAY)), { pckNotAfter: new Date((T0 + DAY) * 1000) });
            await runChain(s);
            f.blockchain.now = T0 + DAY;
            await submit(s.quote.message, ExitCode.ERR_ATTEST_KEY_EXPIRED);
            // It can be purged by anyone, and re-verified with the renewed certificate.
            const purge = await f.verifier.sendPurgeKey(f.stranger.getSender(), s.quote.attestationKeyId);
            expect(purge.transactions).toHaveTransaction({ to: f.verifier.address, success: true });
            expect(await f.verifier.getCachedKey(s.quote.attestationKeyId)).toBeNull();
            await runChain(stepsOf(claimsFor(ws.address, BigInt(T0 + 365 * DAY))));
            await submit(s.quote.message);
        });

        it('keeps usable entries from being purged', async () => {
            const s = stepsOf(claimsFor(ws.address));
            const r = await f.verifier.sendPurgeKey(f.stranger.getSender(), s.quote.attestationKeyId);
            expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_KEY_NOT_EXPIRED });
        });

        it('refuses a key of the wrong kind for the step', async () => {
            const s = stepsOf(claimsFor(ws.address));
            // The PCK key is certified, not a quote-signing attestation key...
            await submit({ ...s.quote.message, attestKeyId: s.qeReport.pckKeyId }, ExitCode.ERR_ATTEST_WRONG_KEY_KIND);
            // ...and an attestation key cannot issue certificates.
            await cert({ ...s.certificates[1].message, issuerKeyId: s.quote.attestationKeyId }, ExitCode.ERR_ATTEST_WRONG_KEY_KIND);
        });

        it('voids the cache when governance pins a new root', async () => {
            const s = stepsOf(claimsFor(ws.address, BigInt(T0 + 365 * DAY)));
            const other = createTestCa();
            await passProposal(f, () => f.registry.sendProposeAttestationPolicy(f.owner.getSender(), testPolicy({ rootKeyX: other.root.publicKey.x, rootKeyY: other.root.publicKey.y })));
            expect(await f.verifier.getKeyUsable(s.quote.attestationKeyId)).toBe(false);
            await submit(s.quote.message, ExitCode.ERR_ATTEST_UNKNOWN_ISSUER);
        });

        it('refuses while the network is paused', async () => {
            const p = await f.registry.sendPause(f.owner.getSender());
            expect(p.transactions).toHaveTransaction({ to: f.verifier.address, success: true });
            await submit(stepsOf(claimsFor(ws.address)).quote.message, ExitCode.ERR_ATTEST_PAUSED);
        });

        it('keeps nothing for itself and survives a WorkerStake that bounces', async () => {
            const nowhere = Address.parse('EQD__________________________________________0vo');
            const claims = claimsFor(nowhere);
            const s = stepsOf(claims);
            const balance = (await f.blockchain.getContract(f.verifier.address)).balance;
            const r = await submit(s.quote.message);
            expect(r.transactions).toHaveTransaction({ from: nowhere, to: f.verifier.address, inMessageBounced: true, success: true });
            expect(r.externals.some((e) => e.body.beginParse().preloadUint(32) === ExtendedAttestationVerifier.opcodes.AttestationBounced)).toBe(true);
            // The record's value came back to the verifier, less forwarding fees.
            const after = (await f.blockchain.getContract(f.verifier.address)).balance;
            expect(after).toBeGreaterThanOrEqual(balance);
            expect(after - balance).toBeLessThan(toNano('0.1'));
        });
    });

    describe('QE report and certificate tampering', () => {
        beforeEach(() => restore(base));

        async function certsDone(s: AttestationSteps) {
            for (const c of s.certificates) await cert(c.message);
        }

        it('refuses an altered QE report byte or signature', async () => {
            const claims = claimsFor(ws.address);
            const raw = buildTestQuote(ca, { reportData: claimsReportData(claims) });
            const q = parseQuote(raw);
            const s = buildAttestationSteps(q, claims, ws.address);
            await certsDone(s);
            for (const pos of [0, 20, 64, 200, 300]) {
                await qe({ ...s.qeReport.message, qeReport: qeReportCell(flip(q.qeReport, pos)) }, ExitCode.ERR_ATTEST_BAD_QE_SIGNATURE);
            }
            await qe({ ...s.qeReport.message, r: s.qeReport.message.r ^ 2n }, ExitCode.ERR_ATTEST_BAD_QE_SIGNATURE);
            // Report data that does not bind the attestation key and auth data.
            await qe({ ...s.qeReport.message, qeReport: qeReportCell(flip(q.qeReport, 330)) }, ExitCode.ERR_ATTEST_QE_BINDING);
            await qe({ ...s.qeReport.message, qeAuthData: byteChain(Buffer.alloc(32)) }, ExitCode.ERR_ATTEST_QE_BINDING);
            await qe({ ...s.qeReport.message, attestKeyX: ca.pck.publicKey.x, attestKeyY: ca.pck.publicKey.y }, ExitCode.ERR_ATTEST_QE_BINDING);
            await qe({ ...s.qeReport.message, qeReport: byteChain(q.qeReport) }, ExitCode.ERR_ATTEST_MALFORMED);
            await qe(s.qeReport.message);
        });

        it("refuses a QE other than the policy's", async () => {
            const claims = claimsFor(ws.address);
            const first = stepsOf(claims);
            await certsDone(first);
            await qe(stepsOf(claims, { qeMrSigner: Buffer.alloc(32, 0x77) }).qeReport.message, ExitCode.ERR_ATTEST_QE_MRSIGNER);
            await qe(stepsOf(claims, { qeIsvProdId: 1 }).qeReport.message, ExitCode.ERR_ATTEST_QE_PRODID);
            await qe(stepsOf(claims, { qeIsvSvn: TEST_QE_SVN - 1 }).qeReport.message, ExitCode.ERR_ATTEST_QE_SVN);
            await qe(stepsOf(claims, { qeIsvSvn: TEST_QE_SVN + 1 }).qeReport.message);
            // A PCK key id never certified, and the pinned root, may not sign QE reports.
            await qe({ ...first.qeReport.message, pckKeyId: 12345n }, ExitCode.ERR_ATTEST_UNKNOWN_ISSUER);
            await qe({ ...first.qeReport.message, pckKeyId: keyIdOf(ca.root.publicKey) }, ExitCode.ERR_ATTEST_UNKNOWN_ISSUER);
        });

        it('refuses an altered certificate TBS, signature or SPKI offset', async () => {
            const s = stepsOf(claimsFor(ws.address));
            const m = s.certificates[0].message;
            const tbs = parseQuote(buildTestQuote(ca, { reportData: Buffer.alloc(64) })).certificates[1].tbs;
            // Bytes in the serial and the issuer name: well-formed DER, wrong signature.
            const fields = derChildren(tbs, readDer(tbs, 0));
            const serialValue = fields[1].contentStart;
            const issuerLastByte = fields[3].end - 1;
            for (const pos of [serialValue, issuerLastByte, issuerLastByte - 3]) {
                await cert({ ...m, tbs: byteChain(flip(tbs, pos)) }, ExitCode.ERR_ATTEST_BAD_CERT_SIGNATURE);
            }
            // A byte of the subject key: still a P-256 prefix, wrong signature.
            await cert({ ...m, tbs: byteChain(flip(tbs, Number(m.spkiOffset) + 40)) }, ExitCode.ERR_ATTEST_BAD_CERT_SIGNATURE);
            await cert({ ...m, s: m.s ^ 1n }, ExitCode.ERR_ATTEST_BAD_CERT_SIGNATURE);
            await cert({ ...m, spkiOffset: m.spkiOffset + 1n }, ExitCode.ERR_ATTEST_BAD_SPKI_OFFSET);
            await cert({ ...m, spkiOffset: m.spkiOffset - 27n }, ExitCode.ERR_ATTEST_BAD_SPKI_OFFSET);
            // The key algorithm byte inside the SPKI prefix.
            await cert({ ...m, tbs: byteChain(flip(tbs, Number(m.spkiOffset) + 12)) }, ExitCode.ERR_ATTEST_BAD_SPKI);
            // Broken DER: the outer tag.
            await cert({ ...m, tbs: byteChain(flip(tbs, 0, 0x02)) }, ExitCode.ERR_ATTEST_BAD_CERT_DER);
            // Any chunking of the TBS hashes the same and passes.
            await cert({ ...m, tbs: byteChain(tbs, 50) });
        });

        it("refuses certificates outside their validity and caps keys at their certificate's end", async () => {
            const claims = claimsFor(ws.address);
            const early = stepsOf(claims, { notBefore: new Date((T0 + DAY) * 1000) });
            await cert(early.certificates[0].message, ExitCode.ERR_ATTEST_CERT_NOT_YET_VALID);
            const late = stepsOf(claims, { notAfter: new Date((T0 - DAY) * 1000), notBefore: new Date((T0 - 2 * DAY) * 1000) });
            await cert(late.certificates[0].message, ExitCode.ERR_ATTEST_CERT_EXPIRED);
            // A PCK certificate ending in an hour bounds the attestation key too.
            const pckEnd = T0 + 3600;
            const short = stepsOf(claims, { pckNotAfter: new Date(pckEnd * 1000) });
            await runChain(short);
            expect(Number((await f.verifier.getCachedKey(short.qeReport.pckKeyId))!.expiresAt)).toBe(pckEnd);
            expect(Number((await f.verifier.getCachedKey(short.quote.attestationKeyId))!.expiresAt)).toBe(pckEnd);
            f.blockchain.now = pckEnd;
            await submit(short.quote.message, ExitCode.ERR_ATTEST_KEY_EXPIRED);
        });
    });

    describe("TDX 1.5 quotes and Intel's rules", () => {
        beforeEach(() => restore(base));

        const recordOf = (r: SendMessageResult) => {
            const rec = r.transactions.find((t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.dest.equals(ws.address))!;
            return loadAttestationRecorded(rec.inMessage!.body.beginParse());
        };

        it('records version 5 quotes with a TD 1.0 or a TD 1.5 body as it records version 4', async () => {
            await runChain(stepsOf(claimsFor(ws.address)));
            for (const bodyType of [2, 3] as const) {
                const claims = { ...claimsFor(ws.address), workerKey: BigInt(bodyType) };
                const r = await submit(stepsOf(claims, { version: 5, bodyType }).quote.message);
                expect(recordOf(r)).toMatchObject({ imageHash: image, workerKey: BigInt(bodyType) });
            }
        });

        it('hashes a bound service TD into the image, and holds TEE_TCB_SVN2 to the minimum', async () => {
            await runChain(stepsOf(claimsFor(ws.address)));
            const mrServiceTd = Buffer.alloc(48, 0x5e);
            const bound = stepsOf(claimsFor(ws.address), { version: 5, mrServiceTd });
            const boundImage = imageHashOf(parseQuote(buildTestQuote(ca, { reportData: Buffer.alloc(64), version: 5, mrServiceTd })).body);
            expect(boundImage).not.toBe(image);
            await submit(bound.quote.message, ExitCode.ERR_ATTEST_IMAGE_NOT_ALLOWED);
            await passProposal(f, () => f.registry.sendProposeImage(f.owner.getSender(), boundImage));
            expect(recordOf(await submit(bound.quote.message)).imageHash).toBe(boundImage);
            // The TD started on an up-to-date module but now runs on an older one.
            const minimum = Buffer.from('07010300000000000000000000000000', 'hex');
            await passProposal(f, () => f.registry.sendProposeParams(f.owner.getSender(), { ...f.params, minTeeTcbSvn: u256(minimum) }));
            const older = Buffer.from('07000300000000000000000000000000', 'hex');
            await submit(stepsOf(claimsFor(ws.address), { version: 5, teeTcbSvn: minimum, teeTcbSvn2: older }).quote.message, ExitCode.ERR_ATTEST_TCB_TOO_LOW);
            await submit(stepsOf(claimsFor(ws.address), { version: 5, teeTcbSvn: minimum, teeTcbSvn2: minimum }).quote.message);
        });

        it('refuses a version 5 body type or size Intel does not define', async () => {
            await runChain(stepsOf(claimsFor(ws.address)));
            const claims = claimsFor(ws.address);
            for (const [pos, value] of [
                [48, 4], // body type 4
                [48, 2], // type 2 with a TD 1.5 body's size and cells
                [50, 0x89], // size 649
            ] as const) {
                const q = parseQuote(buildTestQuote(ca, { reportData: claimsReportData(claims), version: 5 }));
                const signed = Buffer.from(q.signed);
                signed[pos] = value;
                const m = buildAttestationSteps(q, claims, ws.address).quote.message;
                await submit({ ...m, body: quoteBodyCell(signed) }, ExitCode.ERR_ATTEST_BAD_BODY_TYPE);
            }
        });

        it('lets only CA certificates certify, no deeper than their path length', async () => {
            const s = stepsOf(claimsFor(ws.address));
            await runChain(s);
            const now = new Date(T0 * 1000);
            const later = new Date((T0 + 30 * DAY) * 1000);
            const issue = (issuer: TestKey, o: { isCA?: boolean; pathLen?: number; extensions?: Buffer[] } = {}) => {
                const subject = generateP256();
                const tbs = buildTbs({ subjectCN: 'Test sub', issuerCN: 'Test issuer', subject: subject.publicKey, issuer: issuer.privateKey, notBefore: now, notAfter: later, ...o });
                return { key: subject, step: certificateStep(parseCertificate(signCertificate(tbs, issuer.privateKey)), issuer.publicKey) };
            };
            // The PCK certificate is not a CA: its key certifies nothing, not even another CA.
            await cert(issue(ca.pck, { isCA: true }).step.message, ExitCode.ERR_ATTEST_ISSUER_NOT_CA);
            // Neither is a certificate without basicConstraints.
            const bare = issue(ca.root, { extensions: [] });
            await cert(bare.step.message);
            expect((await f.verifier.getCachedKey(bare.step.subjectKeyId))!.kind).toBe(1n);
            await cert(issue(bare.key).step.message, ExitCode.ERR_ATTEST_ISSUER_NOT_CA);
            // A CA with path length 0 (as Intel's Platform CA) issues end-entity certificates only.
            const ca0 = issue(ca.root, { isCA: true, pathLen: 0 });
            await cert(ca0.step.message);
            expect((await f.verifier.getCachedKey(ca0.step.subjectKeyId))!).toMatchObject({ kind: 3n, pathLen: 0n });
            await cert(issue(ca0.key, { isCA: true }).step.message, ExitCode.ERR_ATTEST_PATH_LEN_EXCEEDED);
            await cert(issue(ca0.key).step.message);
            // Path length 1 allows one CA below it, whose own unlimited length is capped at 0.
            const ca1 = issue(ca.root, { isCA: true, pathLen: 1 });
            await cert(ca1.step.message);
            const below = issue(ca1.key, { isCA: true });
            await cert(below.step.message);
            expect((await f.verifier.getCachedKey(below.step.subjectKeyId))!).toMatchObject({ kind: 3n, pathLen: 0n });
            await cert(issue(below.key, { isCA: true }).step.message, ExitCode.ERR_ATTEST_PATH_LEN_EXCEEDED);
            // basicConstraints twice, or bytes after the TBSCertificate, are not DER.
            const twice = issue(ca.root, { extensions: [basicConstraintsExtension(false), basicConstraintsExtension(true)] });
            await cert(twice.step.message, ExitCode.ERR_ATTEST_BAD_CERT_DER);
            const longer = issue(ca.root);
            const tbs = chainBytes(longer.step.message.tbs);
            await cert({ ...longer.step.message, tbs: byteChain(Buffer.concat([tbs, Buffer.alloc(1)])) }, ExitCode.ERR_ATTEST_BAD_CERT_DER);
        });

        it('refuses a QE report whose MISCSELECT or ATTRIBUTES differ from the pinned QE identity, and DEBUG whatever the policy', async () => {
            const claims = claimsFor(ws.address);
            for (const c of stepsOf(claims).certificates) await cert(c.message);
            const attributes = (flags: number) => Buffer.concat([Buffer.from([flags]), TEST_QE_ATTRIBUTES.subarray(1)]);
            await qe(stepsOf(claims, { qeAttributes: attributes(0x17) }).qeReport.message, ExitCode.ERR_ATTEST_QE_DEBUG);
            // PROVISIONKEY missing.
            await qe(stepsOf(claims, { qeAttributes: attributes(0x05) }).qeReport.message, ExitCode.ERR_ATTEST_QE_ATTRIBUTES);
            await qe(stepsOf(claims, { qeMiscSelect: Buffer.from('00000001', 'hex') }).qeReport.message, ExitCode.ERR_ATTEST_QE_MISCSELECT);
            // Bits outside the masks may vary (MODE64BIT, XFRM).
            await qe(stepsOf(claims, { qeAttributes: Buffer.from('1100000000000000ff00000000000000', 'hex') }).qeReport.message);
            // A policy that ignores ATTRIBUTES still refuses a debug QE.
            await passProposal(f, () => f.registry.sendProposeAttestationPolicy(f.owner.getSender(), testPolicy({ qeAttributes: 0n, qeAttributesMask: 0n })));
            await qe(stepsOf(claims, { qeAttributes: attributes(0x17) }).qeReport.message, ExitCode.ERR_ATTEST_QE_DEBUG);
        });

        it('ends an attestation no later than the keys and certificates it rests on', async () => {
            // A Platform CA certificate ending in six hours bounds the PCK key, the attestation key and the record.
            const end = T0 + 6 * 3600;
            const claims = claimsFor(ws.address);
            const s = stepsOf(claims, { notAfter: new Date(end * 1000), pckNotAfter: new Date((T0 + 20 * DAY) * 1000) });
            await runChain(s);
            expect(Number((await f.verifier.getCachedKey(s.quote.attestationKeyId))!.expiresAt)).toBe(end);
            expect(Number(recordOf(await submit(s.quote.message)).expiresAt)).toBe(end);
        });

        it('holds attestation keys already cached to the QE policy in force now', async () => {
            const s = stepsOf(claimsFor(ws.address));
            await runChain(s);
            // Governance raises the minimum QE ISVSVN after an advisory: the key certified by the old QE stops signing.
            await passProposal(f, () => f.registry.sendProposeAttestationPolicy(f.owner.getSender(), testPolicy({ qeMinIsvSvn: BigInt(TEST_QE_SVN + 1) })));
            expect(await f.verifier.getKeyUsable(s.quote.attestationKeyId)).toBe(false);
            await submit(stepsOf(claimsFor(ws.address)).quote.message, ExitCode.ERR_ATTEST_QE_SVN);
            // A report from the updated QE certifies it again.
            const updated = stepsOf(claimsFor(ws.address), { qeIsvSvn: TEST_QE_SVN + 1 });
            await qe(updated.qeReport.message);
            await submit(updated.quote.message);
            // Any other change of the QE identity voids it likewise.
            await passProposal(f, () =>
                f.registry.sendProposeAttestationPolicy(f.owner.getSender(), testPolicy({ qeMinIsvSvn: BigInt(TEST_QE_SVN + 1), qeAttributesMask: INTEL_TD_QE_IDENTITY.qeAttributesMask | 1n })),
            );
            await submit(stepsOf(claimsFor(ws.address), { qeIsvSvn: TEST_QE_SVN + 1 }).quote.message, ExitCode.ERR_ATTEST_QE_IDENTITY_CHANGED);
        });

        it('keeps a key in use on the chain it was verified through: no shorter certificate, no other issuer, no replayed QE report', async () => {
            const s = stepsOf(claimsFor(ws.address));
            await runChain(s);
            const pckId = s.qeReport.pckKeyId;
            const before = (await f.verifier.getCachedKey(pckId))!.expiresAt;
            // A second, shorter certificate for the same PCK key from the same CA renews nothing and shortens nothing.
            const shorter = stepsOf(claimsFor(ws.address), { pckNotAfter: new Date((T0 + 3600) * 1000) });
            await cert(shorter.certificates[shorter.certificates.length - 1].message);
            expect((await f.verifier.getCachedKey(pckId))!.expiresAt).toBe(before);
            // The same PCK key certified by another CA (under the same root) stays under its first CA.
            const otherCa: TestCa = { ...ca, platformCa: generateP256() };
            const elsewhere = buildAttestationSteps(parseQuote(buildTestQuote(otherCa, { reportData: claimsReportData(claimsFor(ws.address)) })), claimsFor(ws.address), ws.address);
            await cert(elsewhere.certificates[0].message);
            await cert(elsewhere.certificates[1].message, ExitCode.ERR_ATTEST_KEY_CACHED);
            // The attestation key, certified through the first PCK, cannot be moved under a second one
            // by another QE report (so a later revocation of either reaches exactly what it should); its own chain renews it.
            const secondPck: TestCa = { ...ca, pck: generateP256() };
            const fromSecond = buildAttestationSteps(parseQuote(buildTestQuote(secondPck, { reportData: claimsReportData(claimsFor(ws.address)) })), claimsFor(ws.address), ws.address);
            await cert(fromSecond.certificates[1].message);
            await qe(fromSecond.qeReport.message, ExitCode.ERR_ATTEST_KEY_CACHED);
            await qe(s.qeReport.message);
        });

        it('refuses a migratable TD', async () => {
            await runChain(stepsOf(claimsFor(ws.address)));
            const tdAttributes = Buffer.from('0000003000000000', 'hex');
            await submit(stepsOf(claimsFor(ws.address), { tdAttributes }).quote.message, ExitCode.ERR_ATTEST_MIGRATABLE);
            // SEPT_VE_DISABLE (bit 28), as real quotes carry it, is fine.
            await submit(stepsOf(claimsFor(ws.address), { tdAttributes: Buffer.from('0000001000000000', 'hex') }).quote.message);
        });

        it('takes from governance only a QE identity that some report can match', async () => {
            const r = await f.registry.sendProposeAttestationPolicy(f.owner.getSender(), testPolicy({ qeAttributes: 0x15n << 120n }));
            expect(r.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_BAD_QE_IDENTITY });
            const m = await f.registry.sendProposeAttestationPolicy(f.owner.getSender(), testPolicy({ qeMiscSelect: 1n, qeMiscSelectMask: 0n }));
            expect(m.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_BAD_QE_IDENTITY });
        });
    });

    describe('simulated evidence', () => {
        const dev = keyPairFromSeed(createHash('sha256').update('cocoon dev key').digest());

        async function simulate(claims: AttestationClaims, img: bigint, secret = dev.secretKey, target = claims.workerStake) {
            return f.verifier.sendSubmitSimulated(f.submitter.getSender(), {
                $$type: 'SubmitSimulated',
                queryId: 5n,
                imageHash: img,
                signature: signSimulated(claims, img, secret),
                workerStake: target,
                claims: claimsStruct(claims),
            });
        }

        beforeEach(() => restore(base));

        it('is refused unless the Registry allows it', async () => {
            await passProposal(f, () => f.registry.sendProposeAttestationPolicy(f.owner.getSender(), testPolicy({ simulatedKey: u256(dev.publicKey) })));
            const r = await simulate(claimsFor(ws.address), image);
            expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_SIMULATED_DISABLED });
        });

        it('is refused without a configured key even when allowed', async () => {
            await passProposal(f, () => f.registry.sendProposeParams(f.owner.getSender(), { ...f.params, allowSimulatedAttestation: true }));
            const r = await simulate(claimsFor(ws.address, BigInt(f.blockchain.now! + DAY)), image);
            expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_SIMULATED_DISABLED });
        });

        it('is accepted when allowed and signed by the development key', async () => {
            await passProposal(f, () => f.registry.sendProposeAttestationPolicy(f.owner.getSender(), testPolicy({ simulatedKey: u256(dev.publicKey) })));
            await passProposal(f, () => f.registry.sendProposeParams(f.owner.getSender(), { ...f.params, allowSimulatedAttestation: true }));
            const claims = claimsFor(ws.address, BigInt(f.blockchain.now! + DAY));
            const r = await simulate(claims, image);
            expect(r.transactions).toHaveTransaction({ from: f.verifier.address, to: ws.address, op: ExtendedAttestationVerifier.opcodes.AttestationRecorded });
            const log = r.externals.find((e) => e.body.beginParse().preloadUint(32) === ExtendedAttestationVerifier.opcodes.AttestationAccepted)!;
            expect(loadAttestationAccepted(log.body.beginParse()).simulated).toBe(true);

            const other = keyPairFromSeed(Buffer.alloc(32, 9));
            const bad = await simulate(claims, image, other.secretKey);
            expect(bad.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_BAD_SIMULATED_SIGNATURE });
            const notAllowed = await simulate(claims, image ^ 1n);
            expect(notAllowed.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_IMAGE_NOT_ALLOWED });
            const elsewhere = await simulate(claims, image, dev.secretKey, f.stranger.address);
            expect(elsewhere.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_WRONG_TARGET });
        });
    });

    it('is refused before any config arrives', async () => {
        await restore(base);
        const lone = f.blockchain.openContract(await ExtendedAttestationVerifier.fromInit(f.stranger.address));
        await lone.sendDeploy(f.owner.getSender());
        const s = stepsOf(claimsFor(ws.address));
        const r = await lone.sendSubmitQuote(f.submitter.getSender(), s.quote.message);
        expect(r.transactions).toHaveTransaction({ to: lone.address, success: false, exitCode: ExitCode.ERR_ATTEST_NOT_CONFIGURED });
        const end = await lone.sendEndRevokedAttestation(f.submitter.getSender(), ws.address, s.quote.attestationKeyId);
        expect(end.transactions).toHaveTransaction({ to: lone.address, success: false, exitCode: ExitCode.ERR_ATTEST_NOT_CONFIGURED });
    });
});

describe('AttestationVerifier with Staking and a real WorkerStake', () => {
    /** A Registry, Staking and verifier pinned to a test CA, and a staked worker attested by a quote from `ca`. */
    async function attestedWorker() {
        const ca = createTestCa();
        const image = imageHashOf(parseQuote(buildTestQuote(ca, { reportData: Buffer.alloc(64) })).body);
        const f = await deployRegistry({ allowSimulatedAttestation: false });
        const provider = await f.blockchain.treasury('provider', { balance: toNano('100000') });
        const staking = f.blockchain.openContract(await ExtendedStaking.fromInit(f.registry.address));
        await staking.sendDeploy(f.owner.getSender());
        const verifier = f.blockchain.openContract(await ExtendedAttestationVerifier.fromInit(f.registry.address));
        await verifier.sendDeploy(f.owner.getSender(), toNano('1'));
        await passProposal(f, () => f.registry.sendProposeImage(f.owner.getSender(), image));
        await passProposal(f, () => f.registry.sendProposeModel(f.owner.getSender(), MODEL, 'tiny-model'));
        await passProposal(f, () =>
            f.registry.sendProposeAttestationPolicy(f.owner.getSender(), {
                rootKeyX: ca.root.publicKey.x,
                rootKeyY: ca.root.publicKey.y,
                qeMrSigner: u256(TEST_QE_MRSIGNER),
                qeIsvProdId: BigInt(TEST_QE_PRODID),
                qeMinIsvSvn: BigInt(TEST_QE_SVN),
                ...INTEL_TD_QE_IDENTITY,
                simulatedKey: 0n,
                ...snpPolicy(),
            }),
        );
        await linkContracts(f, { staking: staking.address, verifier: verifier.address });

        const keys = workerKeys('attested-worker');
        const workerKey = keyInt(keys.publicKey);
        await staking.sendStake(provider.getSender(), await staking.getStakeValue(f.params.minWorkerStake), workerKey, listing({ modelId: MODEL }));
        const worker = f.blockchain.openContract(ExtendedWorkerStake.fromAddress(await staking.getWorkerAddress(provider.address, workerKey)));
        expect(Number(await worker.getStatus())).toBe(WorkerStatus.Pending);
        const submitter = await f.blockchain.treasury('anyone', { balance: toNano('100') });

        /** Runs every step of a quote from `machine` for the worker; returns the steps and the quote's result. */
        async function attestOn(machine: TestCa, o: Partial<TestQuoteOptions> = {}) {
            const claims: AttestationClaims = { workerStake: worker.address, workerKey, encryptionKey: 0xe5n, modelId: MODEL, notAfter: BigInt(f.blockchain.now! + 30 * DAY) };
            const s = buildAttestationSteps(parseQuote(buildTestQuote(machine, { reportData: claimsReportData(claims), ...o })), claims, worker.address);
            for (const c of s.certificates) await verifier.sendVerifyCertificate(submitter.getSender(), c.message);
            await verifier.sendVerifyQeReport(submitter.getSender(), s.qeReport.message);
            return { s, r: await verifier.sendSubmitQuote(submitter.getSender(), s.quote.message) };
        }
        const { s, r } = await attestOn(ca);
        expect(r.transactions).toHaveTransaction({ from: verifier.address, to: worker.address, success: true });
        return { ca, image, f, provider, staking, verifier, worker, workerKey, submitter, s, attestOn };
    }

    it('a test-CA quote activates the WorkerStake it names; revoking the image unlists it at once', async () => {
        const { image, f, provider, staking, verifier, worker, workerKey, submitter, s } = await attestedWorker();
        expect(Number(await worker.getStatus())).toBe(WorkerStatus.Active);
        const att = (await worker.getAttestation())!;
        expect(att.imageHash).toBe(image);
        expect(att.encryptionKey).toBe(0xe5n);
        expect(att.evidenceKeyId).toBe(s.quote.attestationKeyId);
        expect(Number(att.expiresAt)).toBe(f.blockchain.now! + Number(f.params.attestationLifetime));
        expect((await staking.getAllActiveWorkers(MODEL)).length).toBe(1);

        // Revocation acts at once: discovery stops listing the worker in the
        // same message chain, and its own record follows on the next sync.
        await f.registry.sendRevokeImage(f.owner.getSender(), image);
        expect((await staking.getAllActiveWorkers(MODEL)).length).toBe(0);
        await staking.sendSyncWorkerConfig(f.stranger.getSender(), provider.address, workerKey);
        expect(Number(await worker.getStatus())).toBe(WorkerStatus.Pending);
        // And the verifier refuses that image from now on.
        const again = await verifier.sendSubmitQuote(submitter.getSender(), s.quote.message);
        expect(again.transactions).toHaveTransaction({ to: verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_IMAGE_NOT_ALLOWED });
    });

    it('revoking the PCK key ends the attestation resting on it; the worker attests again on other hardware, which that revocation cannot end', async () => {
        const { ca, f, staking, verifier, worker, submitter, s, attestOn } = await attestedWorker();
        const attestationKey = s.quote.attestationKeyId;
        const pck = s.qeReport.pckKeyId;
        const end = (keyId: bigint, from = submitter) => verifier.sendEndRevokedAttestation(from.getSender(), worker.address, keyId);

        // Nothing is revoked yet: nobody can end the attestation.
        expect((await end(attestationKey)).transactions).toHaveTransaction({ to: verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_KEY_NOT_REVOKED });
        // Only the owner revokes; the WorkerStake takes AttestationRevoked only from the verifier.
        const stranger = await f.registry.sendRevokeAttestationKey(f.stranger.getSender(), pck);
        expect(stranger.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_NOT_OWNER });
        const forged = await f.stranger.send({
            to: worker.address,
            value: toNano('0.2'),
            body: beginCell()
                .store(storeAttestationRevoked({ $$type: 'AttestationRevoked', queryId: 0n, evidenceKeyId: attestationKey }))
                .endCell(),
        });
        expect(forged.transactions).toHaveTransaction({ to: worker.address, success: false, exitCode: ExitCode.ERR_WS_NOT_VERIFIER });
        expect(Number(await worker.getStatus())).toBe(WorkerStatus.Active);

        // The owner revokes the PCK key at once; the attestation key below it falls with it.
        const revoke = await f.registry.sendRevokeAttestationKey(f.owner.getSender(), pck);
        expect(revoke.transactions).toHaveTransaction({ from: f.registry.address, to: verifier.address, success: true });
        expect((await f.registry.sendRevokeAttestationKey(f.owner.getSender(), pck)).transactions).toHaveTransaction({
            to: f.registry.address,
            success: false,
            exitCode: ExitCode.ERR_REGISTRY_ALREADY_REVOKED,
        });
        expect(await verifier.getKeyRevoked(attestationKey)).toBe(true);
        expect(await verifier.getKeyUsable(attestationKey)).toBe(false);
        // It certifies nothing more: no QE report, no quote, and its certificate cannot bring it back.
        const step = async (send: Promise<SendMessageResult>) =>
            expect((await send).transactions).toHaveTransaction({ to: verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_KEY_REVOKED });
        await step(verifier.sendSubmitQuote(submitter.getSender(), s.quote.message));
        await step(verifier.sendVerifyQeReport(submitter.getSender(), s.qeReport.message));
        await step(verifier.sendVerifyCertificate(submitter.getSender(), s.certificates[s.certificates.length - 1].message));
        // Nor can its entries be purged while they are what the revocation reaches the attestation through.
        expect((await verifier.sendPurgeKey(submitter.getSender(), attestationKey)).transactions).toHaveTransaction({
            to: verifier.address,
            success: false,
            exitCode: ExitCode.ERR_ATTEST_KEY_NOT_EXPIRED,
        });

        // Anyone ends the attestation resting on it: the worker leaves the index.
        const ended = await end(attestationKey);
        expect(ended.transactions).toHaveTransaction({ from: verifier.address, to: worker.address, success: true });
        expect(Number(await worker.getStatus())).toBe(WorkerStatus.Pending);
        expect(Number((await worker.getAttestation())!.expiresAt)).toBe(f.blockchain.now!);
        expect((await staking.getAllActiveWorkers(MODEL)).length).toBe(0);

        // The same quoting enclave, certified again by the machine's new PCK, attests again...
        const renewed = await attestOn({ ...ca, pck: generateP256() });
        expect(renewed.r.transactions).toHaveTransaction({ from: verifier.address, to: worker.address, success: true });
        expect(renewed.s.quote.attestationKeyId).toBe(attestationKey);
        expect(await verifier.getKeyRevoked(attestationKey)).toBe(false);
        expect(Number(await worker.getStatus())).toBe(WorkerStatus.Active);
        // ...and so does a machine with another PCK and QE key (same platform CA and root).
        const other: TestCa = { ...ca, pck: generateP256(), attestation: generateP256() };
        const { s: s2, r } = await attestOn(other);
        expect(r.transactions).toHaveTransaction({ from: verifier.address, to: worker.address, success: true });
        expect(Number(await worker.getStatus())).toBe(WorkerStatus.Active);
        expect((await worker.getAttestation())!.evidenceKeyId).toBe(s2.quote.attestationKeyId);
        // The old revocation proves nothing about the new attestation: the WorkerStake refuses it.
        const stale = await end(pck);
        expect(stale.transactions).toHaveTransaction({ from: verifier.address, to: worker.address, success: false, exitCode: ExitCode.ERR_WS_OTHER_EVIDENCE });
        expect(Number(await worker.getStatus())).toBe(WorkerStatus.Active);

        // Revoking the platform CA reaches every PCK it certified, and their attestation keys.
        await f.registry.sendRevokeAttestationKey(f.owner.getSender(), keyIdOf(ca.platformCa.publicKey));
        expect(await verifier.getKeyRevoked(s2.quote.attestationKeyId)).toBe(true);
        await step(verifier.sendVerifyCertificate(submitter.getSender(), s2.certificates[s2.certificates.length - 1].message));
        await end(s2.quote.attestationKeyId);
        expect(Number(await worker.getStatus())).toBe(WorkerStatus.Pending);
    });

    it('revoking a platform (FMSPC) ends the attestations of every machine of it, and no other', async () => {
        const { ca, f, verifier, worker, submitter, s, attestOn } = await attestedWorker();
        const end = (keyId: bigint) => verifier.sendEndRevokedAttestation(submitter.getSender(), worker.address, keyId);
        const bad = await f.registry.sendRevokePlatform(f.owner.getSender(), 0n);
        expect(bad.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_BAD_PLATFORM });
        const stranger = await f.registry.sendRevokePlatform(f.stranger.getSender(), u256(TEST_FMSPC));
        expect(stranger.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_NOT_OWNER });
        // Another platform's revocation reaches nothing here.
        await f.registry.sendRevokePlatform(f.owner.getSender(), 0x0102030405n);
        expect(await verifier.getKeyRevoked(s.quote.attestationKeyId)).toBe(false);
        expect((await end(s.quote.attestationKeyId)).transactions).toHaveTransaction({ to: verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_KEY_NOT_REVOKED });

        await f.registry.sendRevokePlatform(f.owner.getSender(), u256(TEST_FMSPC));
        expect((await f.registry.sendRevokePlatform(f.owner.getSender(), u256(TEST_FMSPC))).transactions).toHaveTransaction({
            to: f.registry.address,
            success: false,
            exitCode: ExitCode.ERR_REGISTRY_ALREADY_REVOKED,
        });
        expect(await verifier.getKeyRevoked(s.quote.attestationKeyId)).toBe(true);
        await end(s.quote.attestationKeyId);
        expect(Number(await worker.getStatus())).toBe(WorkerStatus.Pending);
        // A new PCK of the same platform is cached but certifies nothing; one of another platform works.
        const sibling: TestCa = { ...ca, pck: generateP256(), attestation: generateP256() };
        const { s: s3, r: refused } = await attestOn(sibling);
        expect(await verifier.getKeyRevoked(s3.qeReport.pckKeyId)).toBe(true);
        // Its QE report was refused, so the quote's attestation key is unknown.
        expect(await verifier.getCachedKey(s3.quote.attestationKeyId)).toBeNull();
        expect(refused.transactions).toHaveTransaction({ to: verifier.address, success: false, exitCode: ExitCode.ERR_ATTEST_UNKNOWN_ISSUER });
        const { r } = await attestOn({ ...ca, pck: generateP256(), attestation: generateP256() }, { fmspc: Buffer.from('a0b0c1000000', 'hex') });
        expect(r.transactions).toHaveTransaction({ from: verifier.address, to: worker.address, success: true });
        expect(Number(await worker.getStatus())).toBe(WorkerStatus.Active);
    });
});

describe('Registry attestation policy', () => {
    it("is all-zero at genesis, changes only through the owner's timelocked proposal, and is pushed", async () => {
        const f = await deployVerifier({ policy: intelPolicy() });
        const fresh = await deployRegistry();
        const genesis = await fresh.registry.getAttestationPolicy();
        expect([genesis.rootKeyX, genesis.rootKeyY, genesis.qeMrSigner, genesis.simulatedKey]).toEqual([0n, 0n, 0n, 0n]);

        const next = intelPolicy({ qeMinIsvSvn: 9n, simulatedKey: 0x77n });
        const denied = await f.registry.sendProposeAttestationPolicy(f.stranger.getSender(), next);
        expect(denied.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_NOT_OWNER });

        const id = await f.registry.getNextProposalId();
        await f.registry.sendProposeAttestationPolicy(f.owner.getSender(), next);
        const decoded = decodeProposal((await f.registry.getProposal(id))!);
        expect(decoded).toMatchObject({ kind: ProposalKind.SetAttestationPolicy, policy: { qeMinIsvSvn: 9n, simulatedKey: 0x77n } });
        const early = await f.registry.sendExecute(f.stranger.getSender(), id);
        expect(early.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_TIMELOCK_ACTIVE });
        expect((await f.verifier.getAttestationPolicy())!.qeMinIsvSvn).toBe(intelPolicy().qeMinIsvSvn);

        f.blockchain.now = Number(decoded.executeAfter);
        const done = await f.registry.sendExecute(f.stranger.getSender(), id);
        expect(done.transactions).toHaveTransaction({ from: f.registry.address, to: f.verifier.address, success: true });
        expect((await f.registry.getAttestationPolicy()).qeMinIsvSvn).toBe(9n);
        expect((await f.verifier.getAttestationPolicy())!.simulatedKey).toBe(0x77n);
    });

    it("pins AMD's SEV-SNP roots and TCB minimums through the same proposal; refuses an SEV-SNP policy that pins no root, or does not parse", async () => {
        const f = await deployVerifier({ policy: intelPolicy() });
        expect((await f.verifier.getAttestationPolicy())!.snp).toBeNull();
        const milan = { bootloader: 3, tee: 0, snp: 8, microcode: 115 };
        const turin = { fmc: 1, bootloader: 3, tee: 4, snp: 5, microcode: 70 };
        const mins = new Map<bigint, SnpTcb>([
            [AMD_ARK_IDS.Milan, milan],
            [AMD_ARK_IDS.Genoa, milan],
            [AMD_ARK_IDS.Turin, turin],
        ]);
        await passProposal(f, () => f.registry.sendProposeAttestationPolicy(f.owner.getSender(), intelPolicy(snpPolicy(mins))));
        // Each root's minimum reads back in its generation's layout.
        expect(snpPolicyOf((await f.verifier.getAttestationPolicy())!)).toEqual(mins);
        expect(() => snpPolicy([AMD_ARK_IDS.Turin], milan)).toThrow(/five parts/);

        const before = await f.registry.getNextProposalId();
        // A minimum with a byte its layout reserves (a four-part floor read as Turin's, say), or a Turin root not pinned.
        const raw = (arks: Array<[bigint, bigint]>, turinIds: bigint[]) => {
            const a = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.BigUint(64));
            for (const [id, v] of arks) a.set(id, v);
            const t = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Bool());
            for (const id of turinIds) t.set(id, true);
            return intelPolicy({
                snp: beginCell()
                    .store(storeSnpPolicy({ $$type: 'SnpPolicy', arks: a, turinArks: t }))
                    .endCell(),
            });
        };
        for (const bad of [
            raw([[AMD_ARK_IDS.Turin, snpTcbValue(milan)]], [AMD_ARK_IDS.Turin]),
            raw([[AMD_ARK_IDS.Milan, snpTcbValue(turin)]], []),
            raw([[AMD_ARK_IDS.Milan, 0n]], [AMD_ARK_IDS.Turin]),
        ]) {
            const r = await f.registry.sendProposeAttestationPolicy(f.owner.getSender(), bad);
            expect(r.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_BAD_SNP_POLICY });
        }
        const empty = beginCell().storeBit(false).storeBit(false).endCell();
        const none = await f.registry.sendProposeAttestationPolicy(f.owner.getSender(), intelPolicy({ snp: empty }));
        expect(none.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_BAD_SNP_POLICY });
        const short = await f.registry.sendProposeAttestationPolicy(f.owner.getSender(), intelPolicy({ snp: beginCell().endCell() }));
        expect(short.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: CELL_UNDERFLOW });
        expect(await f.registry.getNextProposalId()).toBe(before);
    });
});
