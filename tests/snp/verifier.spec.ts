import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import '@ton/test-utils';
import { toNano } from '@ton/core';
import { BlockchainSnapshot } from '@ton/sandbox';
import { ExitCode } from '../../wrappers/exitCodes';
import { AMD_ARK_IDS, AmdCertificate, amdCertificateDer, amdCertificateSteps, amdRsaKeyId, parseAmdCertificate, snpPolicy, vcekKeyId } from '../../wrappers/snp';
import type { ContinueAmdCertificate, VerifyAmdCertificate } from '../../wrappers/AttestationVerifier';
import { VerifierFixture, deployVerifier, intelPolicy } from '../helpers/attestation';
import { passProposal } from '../helpers/registry';

const FIXTURES = join(__dirname, '..', 'fixtures', 'sev-snp');
const cert = (name: string) => parseAmdCertificate(amdCertificateDer(readFileSync(join(FIXTURES, name))));

/**
 * AMD's SEV-SNP key chain verified on chain with the real Milan
 * certificates: the ASK under the pinned ARK, the VCEK under the cached
 * ASK, each over several transactions (the hash of the TBS, then the
 * RSA-PSS check), and what the verifier refuses: another chain shape, an
 * unknown or unpinned issuer, steps out of order, and a forged signature.
 */
describe('AttestationVerifier: AMD SEV-SNP certificates', () => {
    const ark = cert('ark-milan.pem');
    const ask = cert('ask-milan.pem');
    const vcek = cert('vcek-milan.der');
    let f: VerifierFixture;
    let pinned: BlockchainSnapshot;

    /** Sends the messages in order; with `failAt`, the one at `index` (or, without an index, some one) must fail with `exitCode`. */
    async function run(messages: Array<VerifyAmdCertificate | ContinueAmdCertificate>, failAt?: { index?: number; exitCode: number }) {
        for (const [i, m] of messages.entries()) {
            const r = await f.verifier.sendVerifyAmdCertificate(f.submitter.getSender(), m);
            const failed = r.transactions.some((t) => t.description.type === 'generic' && t.description.computePhase.type === 'vm' && !t.description.computePhase.success);
            if (failAt && (i === failAt.index || (failAt.index === undefined && failed))) {
                expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: failAt.exitCode });
                return i;
            }
            expect(r.transactions).toHaveTransaction({ to: f.verifier.address, success: true });
        }
        if (failAt) throw new Error(`no step failed with ${failAt.exitCode}`);
        return messages.length;
    }

    beforeAll(async () => {
        f = await deployVerifier({ policy: intelPolicy(snpPolicy([AMD_ARK_IDS.Milan], { bootloader: 3, tee: 0, snp: 8, microcode: 115 })) });
        await f.submitter.send({ to: f.verifier.address, value: toNano('5') });
        pinned = f.blockchain.snapshot();
    });

    afterEach(async () => {
        await f.blockchain.loadFrom(pinned);
    });

    it('caches the ASK under the pinned ARK, then the VCEK under the ASK, with its chip id and TCB', async () => {
        const askSteps = amdCertificateSteps(ask, ark.rsaKey!);
        expect(askSteps.issuerKeyId).toBe(AMD_ARK_IDS.Milan);
        await run(askSteps.messages);
        expect(await f.verifier.getAmdKeyUsable(amdRsaKeyId(ask.rsaKey!))).toBe(true);
        const cachedAsk = (await f.verifier.getAmdKey(amdRsaKeyId(ask.rsaKey!)))!;
        expect(cachedAsk).toMatchObject({ ark: AMD_ARK_IDS.Milan, issuer: AMD_ARK_IDS.Milan, expiresAt: BigInt(Math.floor(ask.notAfter.getTime() / 1000)) });

        const vcekSteps = amdCertificateSteps(vcek, ask.rsaKey!);
        await run(vcekSteps.messages);
        const id = vcekKeyId(vcek.ecKey!);
        expect(await f.verifier.getAmdKeyUsable(id)).toBe(true);
        const cached = (await f.verifier.getAmdKey(id))!;
        expect(cached.ark).toBe(AMD_ARK_IDS.Milan);
        expect(cached.issuer).toBe(amdRsaKeyId(ask.rsaKey!));
        // The TCB as REPORTED_TCB's bytes: bootloader 3, TEE 0, SNP 8, microcode 115.
        expect(cached.tcb).toBe(0x0300000000000873n);
        expect(cached.expiresAt).toBe(BigInt(Math.floor(vcek.notAfter.getTime() / 1000)));
        // Nothing is left under way.
        expect(await f.verifier.getSnpJob(0n)).toBeNull();
    });

    it("refuses an ARK's self-signed certificate as an ASK: a root is not its own ASK", async () => {
        const { messages } = amdCertificateSteps(ark, ark.rsaKey!);
        await run(messages, { index: messages.length - 1, exitCode: ExitCode.ERR_ATTEST_SNP_WRONG_SUBJECT });
        expect(await f.verifier.getAmdKey(AMD_ARK_IDS.Milan)).toBeNull();
    });

    it("refuses another chain's shape, an issuer neither pinned nor cached, and SEV-SNP when no root is pinned", async () => {
        // The ARK signs ASKs only: a VCEK presented as signed by it is refused before any work.
        const vcekUnderArk = amdCertificateSteps(vcek, ark.rsaKey!);
        await run(vcekUnderArk.messages, { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_WRONG_SUBJECT });
        // The VCEK before its ASK is cached.
        await run(amdCertificateSteps(vcek, ask.rsaKey!).messages, { index: 0, exitCode: ExitCode.ERR_ATTEST_UNKNOWN_ISSUER });
        // Genoa's chain is not pinned here.
        const genoa = amdCertificateSteps(cert('ask-genoa.pem'), cert('ark-genoa.pem').rsaKey!);
        await run(genoa.messages, { index: 0, exitCode: ExitCode.ERR_ATTEST_UNKNOWN_ISSUER });
        // No SEV-SNP policy at all.
        await passProposal(f, () => f.registry.sendProposeAttestationPolicy(f.owner.getSender(), intelPolicy()));
        await run(amdCertificateSteps(ask, ark.rsaKey!).messages, { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_DISABLED });
    });

    it('takes the steps in order only (the hash first, then the signature phases), and each input set keeps its own progress', async () => {
        const { messages } = amdCertificateSteps(ask, ark.rsaKey!);
        const hashing = messages.filter((m) => m.$$type === 'VerifyAmdCertificate').length;
        // Signature phases before the hash is done.
        await run([messages[hashing]], { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_WRONG_STAGE });
        await run(messages.slice(0, hashing));
        // More hashing once it is done.
        await run([messages[0]], { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_WRONG_STAGE });
        // A phase skipped: the next message's hints are for later phases.
        await run([messages[hashing + 1]], { index: 0, exitCode: ExitCode.ERR_RSA_BAD_PRODUCT });
        // The same certificate under another issuer modulus is another verification: it starts from its own hash.
        const first = messages[0] as VerifyAmdCertificate;
        const phase = messages[hashing] as ContinueAmdCertificate;
        const genoaModulus = (amdCertificateSteps(ask, cert('ark-genoa.pem').rsaKey!).messages[0] as VerifyAmdCertificate).issuerModulus;
        const other: VerifyAmdCertificate = { ...first, blocks: 0n, phases: phase.phases, hints: phase.hints, issuerModulus: genoaModulus };
        await run([other], { index: 0, exitCode: ExitCode.ERR_ATTEST_UNKNOWN_ISSUER });
        // A continuation with too little value, with no phases, or naming a job that is not a certificate's.
        const tooLittle = await f.verifier.sendVerifyAmdCertificate(f.submitter.getSender(), phase, toNano('0.05'));
        expect(tooLittle.transactions).toHaveTransaction({ to: f.verifier.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
        await run([{ ...phase, phases: 0n }], { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_WRONG_STAGE });
        await run([{ ...phase, job: phase.job ^ 1n }], { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_WRONG_STAGE });
        await run(messages.slice(hashing));
        expect(await f.verifier.getAmdKeyUsable(amdRsaKeyId(ask.rsaKey!))).toBe(true);
        // Nothing left to replay.
        await run([phase], { index: 0, exitCode: ExitCode.ERR_ATTEST_SNP_WRONG_STAGE });
    });

    it('refuses a forged signature: a certificate whose signature was altered fails the PSS check, whatever the hints', async () => {
        const forged: AmdCertificate = { ...ask, der: Buffer.from(ask.der), signature: Buffer.from(ask.signature) };
        // Flip a bit of the signature inside the DER and in the parsed copy (the hints are computed for the forgery).
        const at = forged.der.length - 100;
        forged.der[at] ^= 0x01;
        forged.signature[forged.signature.length - 100] ^= 0x01;
        const { messages } = amdCertificateSteps(forged, ark.rsaKey!);
        // Every modular step checks out (the hints are honest for the forgery); decoding EM does not.
        const failedAt = await run(messages, { exitCode: ExitCode.ERR_RSA_PSS_INCONSISTENT });
        expect(failedAt).toBeGreaterThan(messages.filter((m) => m.$$type === 'VerifyAmdCertificate').length);
        expect(await f.verifier.getAmdKeyUsable(amdRsaKeyId(ask.rsaKey!))).toBe(false);
    });
});
