import { NetworkProvider } from '@ton/blueprint';
import { ExtendedAttestationVerifier } from '../wrappers/AttestationVerifier';
import { ExtendedWorkerStake } from '../wrappers/WorkerStake';
import { argOrAsk, parseHash256, waitUntil } from './lib/cli';
import { chainTime, openStaking } from './lib/worker';
import { hex256 } from '../helpers/bytes';

/**
 * Ends every listed attestation of a model whose attestation key a key
 * revocation reaches (the key itself, its PCK or a CA above it), so those
 * workers leave the index until they attest on hardware nobody revoked.
 * Anyone may run it; each ending's unspent value returns.
 *   npx blueprint run endRevokedAttestations <staking> <model id hex>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const staking = await openStaking(provider, args, 0);
    const modelId = parseHash256(await argOrAsk(provider, args, 1, 'Model id (64 hex digits)'), 'model id');
    const verifierAddress = (await staking.getLinks()).verifier;
    if (!verifierAddress) throw new Error('Staking has no linked AttestationVerifier');
    const verifier = provider.open(ExtendedAttestationVerifier.fromAddress(verifierAddress));
    const ended: string[] = [];
    for (const entry of await staking.getAllActiveWorkers(modelId)) {
        const worker = provider.open(ExtendedWorkerStake.fromAddress(entry.worker));
        const attestation = await worker.getAttestation();
        const keyId = attestation?.evidenceKeyId ?? 0n;
        if (keyId === 0n || !(await verifier.getKeyRevoked(keyId))) continue;
        await verifier.sendEndRevokedAttestation(provider.sender(), entry.worker, keyId);
        await waitUntil(provider, `the end of ${entry.worker.toString()}'s attestation`, async () => Number((await worker.getAttestation())?.expiresAt ?? 0n) <= chainTime(provider));
        provider.ui().write(`Ended ${entry.worker.toString()} (attestation key ${hex256(keyId)})`);
        ended.push(entry.worker.toString());
    }
    if (ended.length === 0) provider.ui().write('No listed attestation rests on a revoked key.');
    return ended.length;
}
