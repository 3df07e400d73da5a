import { Address, ContractProvider, Sender, toNano } from '@ton/core';
import { AttestationVerifier, SubmitQuote, SubmitSimulated, VerifyCertificate, VerifyQeReport } from '../build/AttestationVerifier/AttestationVerifier_AttestationVerifier';

export * from '../build/AttestationVerifier/AttestationVerifier_AttestationVerifier';

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

    async sendSubmitSimulated(provider: ContractProvider, via: Sender, msg: SubmitSimulated, value = ExtendedAttestationVerifier.SIMULATED_VALUE) {
        return this.send(provider, via, { value }, msg);
    }

    async sendPurgeKey(provider: ContractProvider, via: Sender, keyId: bigint, queryId = 0n) {
        return this.send(provider, via, { value: ExtendedAttestationVerifier.SIMPLE_VALUE }, { $$type: 'PurgeKey', queryId, keyId });
    }

    /** Ends `workerStake`'s attestation resting on the revoked attestation key `keyId` (the unspent value returns). */
    async sendEndRevokedAttestation(provider: ContractProvider, via: Sender, workerStake: Address, keyId: bigint, queryId = 0n) {
        return this.send(provider, via, { value: ExtendedAttestationVerifier.END_REVOKED_VALUE }, { $$type: 'EndRevokedAttestation', queryId, workerStake, keyId });
    }
}
