import { NetworkProvider } from '@ton/blueprint';
import { argOrAsk, openRegistry, requireOwner, waitUntil } from './lib/cli';
import { hex256 } from '../helpers/bytes';
import { amdChipRevocationId } from '../wrappers/snp';
import { ExtendedAttestationVerifier } from '../wrappers/AttestationVerifier';

/**
 * Revokes an AMD processor at once (no timelock, as for a key): every VCEK
 * AMD derived for it, at any TCB, certifies nothing more, and none is cached
 * again. The chip id is the 64 bytes of a report's CHIP_ID (or its VCEK's
 * hwID extension), 128 hex digits; an EPYC Turin's is 8 bytes, 16 hex digits
 * (its CHIP_ID is those followed by zeros). Attestations resting on its
 * VCEKs end when anyone runs endRevokedAttestations.
 *   npx blueprint run revokeAmdChip <registry> <chip id hex>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const registry = await openRegistry(provider, args);
    const text = (await argOrAsk(provider, args, 1, 'AMD chip id (128 hex digits; 16 for EPYC Turin)')).trim().replace(/^0x/i, '');
    if (!/^([0-9a-fA-F]{16}|[0-9a-fA-F]{128})$/.test(text)) throw new Error(`the chip id must be 128 hex digits (64 bytes), or 16 for an EPYC Turin's 8 bytes; got ${text.length} characters`);
    const id = amdChipRevocationId(Buffer.concat([Buffer.from(text, 'hex'), Buffer.alloc(64 - text.length / 2)]));
    await requireOwner(provider, registry);
    // Chip and key revocations share one list: an id the verifier holds as a key is not a chip's.
    const verifier = (await registry.getLinks()).verifier;
    if (verifier) {
        const v = provider.open(ExtendedAttestationVerifier.fromAddress(verifier));
        if ((await v.getCachedKey(id)) || (await v.getAmdKey(id)))
            throw new Error(`${hex256(id)} is the id of a key the verifier holds, not of a chip: check the chip id (revokeAttestationKey revokes keys)`);
    }
    const revoked = async () => (await registry.getRevokedKeys()).has(id);
    if (await revoked()) throw new Error(`chip ${text.slice(0, 16)}… (revocation id ${hex256(id)}) is already revoked`);
    await registry.sendRevokeAttestationKey(provider.sender(), id, 0n, await registry.getPushingValue());
    await waitUntil(provider, 'the revocation', revoked);
    provider.ui().write(`Revoked AMD chip ${text.slice(0, 16)}… (revocation id ${hex256(id)}); config version ${await registry.getConfigVersion()}`);
    provider.ui().write('Attestations resting on its VCEKs end with endRevokedAttestations <staking> <model id>.');
}
