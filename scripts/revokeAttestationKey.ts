import { NetworkProvider } from '@ton/blueprint';
import { argOrAsk, openRegistry, parseHash256, requireOwner, waitUntil } from './lib/cli';
import { hex256 } from '../helpers/bytes';

/**
 * Revokes a verified attestation key at once (no timelock: a leaked key must
 * stop certifying now): a platform CA, a PCK or an attestation key, by its id
 * (SHA-256 of x || y; `cocoon-worker register` and the verifier's KeyCached
 * events print it). Keys it certified fall with it. Attestations resting on
 * it end when anyone runs endRevokedAttestations.
 *   npx blueprint run revokeAttestationKey <registry> <key id hex>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const registry = await openRegistry(provider, args);
    const keyId = parseHash256(await argOrAsk(provider, args, 1, 'Key id (64 hex digits)'), 'key id');
    await requireOwner(provider, registry);
    const revoked = async () => (await registry.getRevokedKeys()).has(keyId);
    if (await revoked()) throw new Error(`key ${hex256(keyId)} is already revoked`);
    await registry.sendRevokeAttestationKey(provider.sender(), keyId, 0n, await registry.getPushingValue());
    await waitUntil(provider, 'the revocation', revoked);
    provider.ui().write(`Revoked attestation key ${hex256(keyId)}; config version ${await registry.getConfigVersion()}`);
    provider.ui().write('Attestations resting on it end with endRevokedAttestations <staking> <model id>.');
}
