import { readFileSync } from 'fs';
import { NetworkProvider } from '@ton/blueprint';
import { Address, OpenedContract } from '@ton/core';
import { ExtendedAttestationVerifier } from '../wrappers/AttestationVerifier';
import { AttestationClaims, buildAttestationSteps, claimsReportData, imageHashOf, keyIdOf, parseQuote } from '../wrappers/tdx';
import { argOrAsk, parseHash256, parseUint, waitUntil } from './lib/cli';
import { hex256 } from '../helpers/bytes';

/** Claims from a JSON file: { workerStake, workerKey, encryptionKey, modelId, notAfter } (keys and ids as hex). */
export function readClaims(path: string): AttestationClaims {
    const j = JSON.parse(readFileSync(path, 'utf8'));
    for (const k of ['workerStake', 'workerKey', 'encryptionKey', 'modelId', 'notAfter']) {
        if (j[k] === undefined) throw new Error(`claims file ${path} lacks "${k}"`);
    }
    return {
        workerStake: Address.parse(j.workerStake),
        workerKey: parseHash256(String(j.workerKey), 'workerKey'),
        encryptionKey: parseHash256(String(j.encryptionKey), 'encryptionKey'),
        modelId: parseHash256(String(j.modelId), 'modelId'),
        notAfter: parseUint(String(j.notAfter), 64, 'notAfter'),
    };
}

export interface AttestResult {
    sent: string[];
    skipped: string[];
    imageHash: bigint;
}

/**
 * Verifies a TDX quote on chain and records the attestation at the
 * WorkerStake the claims name. Steps whose key the verifier already holds
 * (a re-attestation on the same machine) are skipped.
 *   npx blueprint run attestWorker <verifier> <quote.bin> <claims.json>
 */
export async function run(provider: NetworkProvider, args: string[] = []): Promise<AttestResult> {
    const at = Address.parse(await argOrAsk(provider, args, 0, 'AttestationVerifier address', 'COCOON_VERIFIER'));
    if (!(await provider.isContractDeployed(at))) throw new Error(`no contract is deployed at ${at.toString()}`);
    const verifier: OpenedContract<ExtendedAttestationVerifier> = provider.open(ExtendedAttestationVerifier.fromAddress(at));
    const quote = parseQuote(readFileSync(await argOrAsk(provider, args, 1, 'Quote file')));
    const claims = readClaims(await argOrAsk(provider, args, 2, 'Claims JSON file'));
    const ui = provider.ui();

    // Everything the chain would refuse for free is checked before paying.
    if (!claimsReportData(claims).equals(quote.body.reportData)) {
        throw new Error("the quote's REPORTDATA is not SHA-512 of these claims: this quote was made for other claims");
    }
    // Local chains (sandbox, devnet) may run their own clock; public ones follow the wall clock.
    const publicChain = provider.network() === 'mainnet' || provider.network() === 'testnet';
    if (publicChain && claims.notAfter <= BigInt(Math.floor(Date.now() / 1000))) {
        throw new Error('the claims have already expired');
    }
    const imageHash = imageHashOf(quote.body);
    if (!(await verifier.getImageAllowed(imageHash))) {
        throw new Error(`image ${hex256(imageHash)} is not allowed by the Registry`);
    }
    const rootId = await verifier.getRootKeyId();
    const chainRoot = quote.certificates[quote.certificates.length - 1];
    if (rootId !== keyIdOf(chainRoot.publicKey)) {
        throw new Error(`the quote chains to "${chainRoot.subjectCN}", which is not the root the Registry pins`);
    }

    const steps = buildAttestationSteps(quote, claims, claims.workerStake, BigInt(Date.now()));
    const result: AttestResult = { sent: [], skipped: [], imageHash };
    for (const c of steps.certificates) {
        if (await verifier.getKeyUsable(c.subjectKeyId)) {
            result.skipped.push(c.name);
            ui.write(`${c.name}: already verified`);
            continue;
        }
        ui.write(`${c.name}: verifying...`);
        await verifier.sendVerifyCertificate(provider.sender(), c.message);
        await waitUntil(provider, `${c.name} to be verified`, () => verifier.getKeyUsable(c.subjectKeyId));
        result.sent.push(c.name);
    }
    if (await verifier.getKeyUsable(steps.qeReport.attestationKeyId)) {
        result.skipped.push('QE report');
        ui.write('Attestation key: already certified');
    } else {
        ui.write('QE report: verifying...');
        await verifier.sendVerifyQeReport(provider.sender(), steps.qeReport.message);
        await waitUntil(provider, 'the attestation key to be certified', () => verifier.getKeyUsable(steps.qeReport.attestationKeyId));
        result.sent.push('QE report');
    }
    ui.write(`Quote: submitting for ${claims.workerStake.toString()}...`);
    await verifier.sendSubmitQuote(provider.sender(), steps.quote.message);
    result.sent.push('quote');
    ui.write(`Submitted: image ${hex256(imageHash)}, the WorkerStake records the attestation when the message lands.`);
    return result;
}
