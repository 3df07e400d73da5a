import { createHash } from 'crypto';
import { sign } from '@ton/crypto';
import { AttestationClaims, claimsBytes } from './claims';
import { bigintTo32 } from './der';

/** What the development key signs: SHA-256(claims bytes || image hash). */
export function simulatedDigest(claims: AttestationClaims, imageHash: bigint): Buffer {
    return createHash('sha256').update(claimsBytes(claims)).update(bigintTo32(imageHash)).digest();
}

/** Signs simulated evidence with an Ed25519 secret key (64 bytes, @ton/crypto form). */
export function signSimulated(claims: AttestationClaims, imageHash: bigint, secretKey: Buffer): Buffer {
    return sign(simulatedDigest(claims, imageHash), secretKey);
}
