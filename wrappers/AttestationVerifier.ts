import { Address, ContractProvider, Sender, toNano } from '@ton/core';
import {
    AMD_KEY_VCEK,
    AttestationVerifier,
    ContinueAmdCertificate,
    ContinueSnpReport,
    KEY_KIND_ATTESTATION,
    SnpJob,
    loadSnpJob,
    SubmitQuote,
    SubmitSimulated,
    SubmitSnpReport,
    VerifyAmdCertificate,
    VerifyCertificate,
    VerifyQeReport,
} from '../build/AttestationVerifier/AttestationVerifier_AttestationVerifier';

export * from '../build/AttestationVerifier/AttestationVerifier_AttestationVerifier';

/**
 * The hardware an attestation rests on: Intel TDX (a quote's attestation
 * key), AMD SEV-SNP (a VCEK), development-key evidence with no hardware
 * behind it (evidence key id 0), or unknown (the key was purged after it
 * expired, or never cached here).
 */
export type EvidenceTee = 'intel-tdx' | 'amd-sev-snp' | 'simulated' | 'unknown';

/**
 * The generated AttestationVerifier wrapper with typed helpers per step.
 * Each step returns what it does not spend, so the values are generous.
 */
export class ExtendedAttestationVerifier extends AttestationVerifier {
    /** One P-256 verification step (certificate, QE report). */
    static readonly SIGNATURE_STEP_VALUE = toNano('0.5');
    /** SubmitQuote: a signature plus the AttestationRecorded message. */
    static readonly QUOTE_VALUE = toNano('0.7');
    static readonly SIMULATED_VALUE = toNano('0.2');
    static readonly SIMPLE_VALUE = toNano('0.05');
    /** EndRevokedAttestation: its gas plus the AttestationRevoked message. */
    static readonly END_REVOKED_VALUE = toNano('0.2');
    static readonly DEPLOY_VALUE = toNano('0.2');
    /** One SEV-SNP step: up to a transaction's gas (1,000,000 at 400 nanoTON), the unspent part returned. */
    static readonly SNP_STEP_VALUE = toNano('0.45');
    /** The last SEV-SNP report step also sends the AttestationRecorded message. */
    static readonly SNP_REPORT_VALUE = toNano('0.6');

    static async fromInit(registry: Address): Promise<ExtendedAttestationVerifier> {
        const base = await AttestationVerifier.fromInit(registry);
        return new ExtendedAttestationVerifier(base.address, base.init);
    }

    static fromAddress(address: Address): ExtendedAttestationVerifier {
        return new ExtendedAttestationVerifier(address);
    }

    async sendDeploy(provider: ContractProvider, via: Sender, value = ExtendedAttestationVerifier.DEPLOY_VALUE) {
        return this.send(provider, via, { value }, null);
    }

    async sendVerifyCertificate(provider: ContractProvider, via: Sender, msg: VerifyCertificate, value = ExtendedAttestationVerifier.SIGNATURE_STEP_VALUE) {
        return this.send(provider, via, { value }, msg);
    }

    async sendVerifyQeReport(provider: ContractProvider, via: Sender, msg: VerifyQeReport, value = ExtendedAttestationVerifier.SIGNATURE_STEP_VALUE) {
        return this.send(provider, via, { value }, msg);
    }

    async sendSubmitQuote(provider: ContractProvider, via: Sender, msg: SubmitQuote, value = ExtendedAttestationVerifier.QUOTE_VALUE) {
        return this.send(provider, via, { value }, msg);
    }

    /** A step of a certificate's verification: VerifyAmdCertificate, or ContinueAmdCertificate once its TBS is hashed. */
    async sendVerifyAmdCertificate(provider: ContractProvider, via: Sender, msg: VerifyAmdCertificate | ContinueAmdCertificate, value = ExtendedAttestationVerifier.SNP_STEP_VALUE) {
        return this.send(provider, via, { value }, msg);
    }

    /** A step of a report's verification: SubmitSnpReport, or ContinueSnpReport once its signature check has begun. */
    async sendSubmitSnpReport(provider: ContractProvider, via: Sender, msg: SubmitSnpReport | ContinueSnpReport, value = ExtendedAttestationVerifier.SNP_REPORT_VALUE) {
        return this.send(provider, via, { value }, msg);
    }

    /** The resumable SEV-SNP verification kept under `id` (wrappers/snp/steps.ts snpJobIdOf), or null. */
    async getSnpJob(provider: ContractProvider, id: bigint): Promise<SnpJob | null> {
        const cell = await this.getSnpJobCell(provider, id);
        return cell ? loadSnpJob(cell.beginParse()) : null;
    }

    async sendDropSnpJob(provider: ContractProvider, via: Sender, job: bigint, queryId = 0n) {
        return this.send(provider, via, { value: ExtendedAttestationVerifier.SIMPLE_VALUE }, { $$type: 'DropSnpJob', queryId, job });
    }

    async sendSubmitSimulated(provider: ContractProvider, via: Sender, msg: SubmitSimulated, value = ExtendedAttestationVerifier.SIMULATED_VALUE) {
        return this.send(provider, via, { value }, msg);
    }

    async sendPurgeKey(provider: ContractProvider, via: Sender, keyId: bigint, queryId = 0n) {
        return this.send(provider, via, { value: ExtendedAttestationVerifier.SIMPLE_VALUE }, { $$type: 'PurgeKey', queryId, keyId });
    }

    /** Which hardware the evidence key a WorkerStake's attestation names (`evidenceKeyId`) belongs to, as this verifier cached it. */
    async getEvidenceTee(provider: ContractProvider, evidenceKeyId: bigint): Promise<EvidenceTee> {
        if (evidenceKeyId === 0n) return 'simulated';
        const intel = await this.getCachedKey(provider, evidenceKeyId);
        if (intel) return intel.kind === KEY_KIND_ATTESTATION ? 'intel-tdx' : 'unknown';
        const amd = await this.getAmdKey(provider, evidenceKeyId);
        return amd && amd.kind === AMD_KEY_VCEK ? 'amd-sev-snp' : 'unknown';
    }

    /** Ends `workerStake`'s attestation resting on the revoked attestation key `keyId` (the unspent value returns). */
    async sendEndRevokedAttestation(provider: ContractProvider, via: Sender, workerStake: Address, keyId: bigint, queryId = 0n) {
        return this.send(provider, via, { value: ExtendedAttestationVerifier.END_REVOKED_VALUE }, { $$type: 'EndRevokedAttestation', queryId, workerStake, keyId });
    }
}
