import { snpPolicy } from '../../wrappers/snp/amd';
import { existsSync, mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Address, Transaction } from '@ton/core';
import { mustOf } from '../../bench/economics';
import { createHash } from 'crypto';
import { keyPairFromSeed } from '@ton/crypto';
import '@ton/test-utils';
import {
    AttestationClaims,
    TEST_QE_MRSIGNER,
    TEST_QE_PRODID,
    TEST_QE_SVN,
    buildAttestationSteps,
    buildTestQuote,
    claimsReportData,
    claimsStruct,
    createTestCa,
    imageHashOf,
    parseQuote,
    signSimulated,
    INTEL_TD_QE_IDENTITY,
} from '../../wrappers/tdx';
import { GAS_FRAGMENTS, GAS_TOLERANCE, chainFees, checkGas, computeGas, isRecording, readGasTable } from '../../bench/lib/gas';
import { Constants } from '../../wrappers/constants';
import { Opcode } from '../../wrappers/opcodes';
import { deployVerifier, fixtureImageHash, intelPolicy, loadIntelFixture, u256 } from '../helpers/attestation';

const MODEL = 0x2222222222222222222222222222222222222222222222222222222222222222n;

function atVerifier(txs: Transaction[], verifier: Address): Transaction {
    const tx = txs.find((t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.dest.equals(verifier));
    if (!tx) throw new Error('no verifier transaction');
    expect(tx.description.type === 'generic' && tx.description.computePhase.type === 'vm' && tx.description.computePhase.success).toBe(true);
    return tx;
}

/**
 * A whole flow (several messages from the submitter): compute gas summed over
 * the verifier's transactions and fees over every transaction, recorded or
 * checked like checkGas does for one operation.
 */
function checkTotal(name: string, steps: { tx: Transaction; chain: Transaction[] }[]): { gasUsed: number; fees: string } {
    const entry = {
        gasUsed: steps.reduce((a, s) => a + Number(computeGas(s.tx)), 0),
        fees: steps.reduce((a, s) => a + chainFees(s.chain), 0n).toString(),
    };
    if (isRecording()) {
        if (!existsSync(GAS_FRAGMENTS)) mkdirSync(GAS_FRAGMENTS, { recursive: true });
        writeFileSync(join(GAS_FRAGMENTS, `${name}.json`), JSON.stringify(entry));
        return entry;
    }
    const committed = readGasTable()[name];
    if (!committed) throw new Error(`${name} is missing from bench/gas.json: run npm run bench:gas and commit it`);
    expect(entry.gasUsed).toBeLessThanOrEqual(Math.floor(committed.gasUsed * (1 + GAS_TOLERANCE)));
    return entry;
}

// What attesting may cost a worker in all (fees of every transaction it
// causes; the sandbox's fees are deterministic, so these are hard caps).
const COLD_MACHINE_CAP = mustOf('AttestationVerifier.total.coldMachine');
const REATTESTATION_CAP = mustOf('AttestationVerifier.total.reattestation');

describe('AttestationVerifier gas', () => {
    it('each step of the real Intel chain', async () => {
        const { quote } = loadIntelFixture();
        const f = await deployVerifier({ policy: intelPolicy(), images: [fixtureImageHash()], models: [MODEL] });
        const ws = (await f.blockchain.treasury('ws')).address;
        const s = buildAttestationSteps(quote, { workerStake: ws, workerKey: 1n, encryptionKey: 2n, modelId: MODEL, notAfter: BigInt(f.blockchain.now! + 86400) }, ws);
        const names = ['AttestationVerifier.verifyCertificate.intelPlatformCa', 'AttestationVerifier.verifyCertificate.intelPck'];
        for (let i = 0; i < s.certificates.length; i++) {
            const r = await f.verifier.sendVerifyCertificate(f.submitter.getSender(), s.certificates[i].message);
            checkGas(names[i], atVerifier(r.transactions, f.verifier.address), r.transactions);
        }
        const r = await f.verifier.sendVerifyQeReport(f.submitter.getSender(), s.qeReport.message);
        checkGas('AttestationVerifier.verifyQeReport.intel', atVerifier(r.transactions, f.verifier.address), r.transactions);
    });

    it('a cold machine, a re-attestation and simulated evidence (test CA)', async () => {
        // Keys derived from a seed: the cache's key ids, and so its dictionary costs, repeat every run.
        const ca = createTestCa('gas table');
        const dev = keyPairFromSeed(createHash('sha256').update('cocoon dev key').digest());
        const image = imageHashOf(parseQuote(buildTestQuote(ca, { reportData: Buffer.alloc(64) })).body);
        const f = await deployVerifier({
            policy: {
                rootKeyX: ca.root.publicKey.x,
                rootKeyY: ca.root.publicKey.y,
                qeMrSigner: u256(TEST_QE_MRSIGNER),
                qeIsvProdId: BigInt(TEST_QE_PRODID),
                qeMinIsvSvn: BigInt(TEST_QE_SVN),
                ...INTEL_TD_QE_IDENTITY,
                simulatedKey: u256(dev.publicKey),
                ...snpPolicy(),
            },
            images: [image],
            models: [MODEL],
        });
        const ws = await f.blockchain.treasury('ws');
        const claims: AttestationClaims = { workerStake: ws.address, workerKey: 5n, encryptionKey: 6n, modelId: MODEL, notAfter: BigInt(f.blockchain.now! + 86400) };
        const s = buildAttestationSteps(parseQuote(buildTestQuote(ca, { reportData: claimsReportData(claims) })), claims, ws.address);

        const cold: { tx: Transaction; chain: Transaction[] }[] = [];
        for (const c of s.certificates) {
            const r = await f.verifier.sendVerifyCertificate(f.submitter.getSender(), c.message);
            cold.push({ tx: atVerifier(r.transactions, f.verifier.address), chain: r.transactions });
        }
        const qe = await f.verifier.sendVerifyQeReport(f.submitter.getSender(), s.qeReport.message);
        cold.push({ tx: atVerifier(qe.transactions, f.verifier.address), chain: qe.transactions });
        const q = await f.verifier.sendSubmitQuote(f.submitter.getSender(), s.quote.message);
        expect(q.transactions).toHaveTransaction({ from: f.verifier.address, to: ws.address, success: true });
        const quoteTx = atVerifier(q.transactions, f.verifier.address);
        checkGas('AttestationVerifier.submitQuote', quoteTx, q.transactions);
        cold.push({ tx: quoteTx, chain: q.transactions });
        const coldTotal = checkTotal('AttestationVerifier.total.coldMachine', cold);
        expect(BigInt(coldTotal.fees)).toBeLessThanOrEqual(COLD_MACHINE_CAP);

        // Re-attestation on the same machine: new claims, one signature.
        const again = { ...claims, workerKey: 7n };
        const s2 = buildAttestationSteps(parseQuote(buildTestQuote(ca, { reportData: claimsReportData(again) })), again, ws.address);
        const r2 = await f.verifier.sendSubmitQuote(f.submitter.getSender(), s2.quote.message);
        const reattest = checkTotal('AttestationVerifier.total.reattestation', [{ tx: atVerifier(r2.transactions, f.verifier.address), chain: r2.transactions }]);
        expect(BigInt(reattest.fees)).toBeLessThanOrEqual(REATTESTATION_CAP);

        // The same on a TDX 1.5 host (version 5 quote, TD report 1.5 body): within 5% of version 4.
        const v5 = { ...claims, workerKey: 8n };
        const s3 = buildAttestationSteps(parseQuote(buildTestQuote(ca, { reportData: claimsReportData(v5), version: 5 })), v5, ws.address);
        const r3 = await f.verifier.sendSubmitQuote(f.submitter.getSender(), s3.quote.message);
        const reattestV5 = checkTotal('AttestationVerifier.total.reattestationV5', [{ tx: atVerifier(r3.transactions, f.verifier.address), chain: r3.transactions }]);
        expect(reattestV5.gasUsed).toBeLessThanOrEqual(reattest.gasUsed * 1.05);
        expect(BigInt(reattestV5.fees)).toBeLessThanOrEqual(REATTESTATION_CAP);

        // Governance revokes the PCK key; anyone ends the attestation resting on it.
        await f.registry.sendRevokeAttestationKey(f.owner.getSender(), s.qeReport.pckKeyId);
        const ended = await f.verifier.sendEndRevokedAttestation(f.submitter.getSender(), ws.address, s.quote.attestationKeyId);
        expect(ended.transactions).toHaveTransaction({ from: f.verifier.address, to: ws.address, op: Opcode.AttestationRevoked });
        const endTx = atVerifier(ended.transactions, f.verifier.address);
        checkGas('AttestationVerifier.endRevokedAttestation', endTx, ended.transactions);
        expect(Number(computeGas(endTx))).toBeLessThanOrEqual(Number(Constants.GAS_ATTEST_END_REVOKED));

        const sim = await f.verifier.sendSubmitSimulated(f.submitter.getSender(), {
            $$type: 'SubmitSimulated',
            queryId: 0n,
            imageHash: image,
            signature: signSimulated(claims, image, dev.secretKey),
            workerStake: ws.address,
            claims: claimsStruct(claims),
        });
        checkGas('AttestationVerifier.submitSimulated', atVerifier(sim.transactions, f.verifier.address), sim.transactions);
    });
});
