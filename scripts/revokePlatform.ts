import { NetworkProvider } from '@ton/blueprint';
import { argOrAsk, openRegistry, requireOwner, waitUntil } from './lib/cli';

/**
 * Revokes a whole Intel platform at once by its FMSPC (12 hex digits, as in
 * a PCK certificate's SGX extension and Intel's TCB info): every PCK key of
 * it, and the attestation keys they certified, stop certifying anything.
 * Attestations resting on them end when anyone runs endRevokedAttestations.
 *   npx blueprint run revokePlatform <registry> <fmspc hex>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const registry = await openRegistry(provider, args);
    const text = (await argOrAsk(provider, args, 1, 'FMSPC (12 hex digits)')).trim().replace(/^0x/i, '');
    if (!/^[0-9a-fA-F]{12}$/.test(text)) throw new Error(`FMSPC must be 12 hex digits, got "${text}"`);
    const fmspc = BigInt('0x' + text);
    if (fmspc === 0n) throw new Error('FMSPC 000000000000 names no platform');
    await requireOwner(provider, registry);
    const revoked = async () => (await registry.getRevokedPlatforms()).has(fmspc);
    if (await revoked()) throw new Error(`platform ${text.toLowerCase()} is already revoked`);
    await registry.sendRevokePlatform(provider.sender(), fmspc, 0n, await registry.getPushingValue());
    await waitUntil(provider, 'the revocation', revoked);
    provider.ui().write(`Revoked platform ${text.toLowerCase()}; config version ${await registry.getConfigVersion()}`);
    provider.ui().write('Attestations resting on it end with endRevokedAttestations <staking> <model id>.');
}
