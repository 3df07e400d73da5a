/**
 * Off-chain inputs of the on-chain RSA-4096 PSS check (contracts/lib/rsa-pss.tact).
 *
 * The contract does not reduce s^65537 mod n itself: for each of its
 * seventeen steps (sixteen squarings of x, starting at x = s, then one
 * multiplication by s) the submitter names the quotient q and remainder r of
 * x*y by n, and the contract checks x*y = q*n + r with 0 <= r < n exactly.
 * Numbers travel as RsaNumber cells (17 limbs of 248 bits, least significant
 * first), steps as a chain of RsaStepHint cells.
 */
import { Cell, beginCell } from '@ton/core';
import {
    RSA_PSS_DONE as RSA_PSS_DONE_PHASE,
    Sha384Digest,
    storeRsaLimb,
    storeRsaLimbs,
    storeRsaNumber,
    storeRsaStepHint,
    storeRsaTopLimbs,
} from '../build/AttestationVerifier/AttestationVerifier_AttestationVerifier';

export const RSA_LIMB_BITS = 248n;
export const RSA_LIMBS = 17;
export const RSA_E = 65537n;
/** The phase of a finished verification (rsa-pss.tact: 0-15 square, 16 multiplies, 17-25 decode EM), from the build. */
export const RSA_PSS_DONE = Number(RSA_PSS_DONE_PHASE);

export interface RsaStep {
    quotient: bigint;
    remainder: bigint;
}

/** The 17 limbs of a number below 2^4216, least significant first. */
export function rsaLimbs(x: bigint): bigint[] {
    if (x < 0n || x >> (RSA_LIMB_BITS * BigInt(RSA_LIMBS)) !== 0n) throw new Error('out of RsaNumber range');
    const mask = (1n << RSA_LIMB_BITS) - 1n;
    return Array.from({ length: RSA_LIMBS }, (_, i) => (x >> (RSA_LIMB_BITS * BigInt(i))) & mask);
}

/** A number as an RsaNumber cell (limbs 0-3, then 4-7, 8-11 and 12-16 in references). */
export function rsaNumberCell(x: bigint): Cell {
    const l = rsaLimbs(x);
    const group = (i: number) =>
        beginCell()
            .store(storeRsaLimbs({ $$type: 'RsaLimbs', l0: l[i], l1: l[i + 1], l2: l[i + 2], l3: l[i + 3] }))
            .endCell();
    const limb16 = beginCell()
        .store(storeRsaLimb({ $$type: 'RsaLimb', l: l[16] }))
        .endCell();
    const limbs12 = beginCell()
        .store(storeRsaTopLimbs({ $$type: 'RsaTopLimbs', l0: l[12], l1: l[13], l2: l[14], l3: l[15], limb16 }))
        .endCell();
    return beginCell()
        .store(storeRsaNumber({ $$type: 'RsaNumber', l0: l[0], l1: l[1], l2: l[2], l3: l[3], limbs4: group(4), limbs8: group(8), limbs12 }))
        .endCell();
}

/** The seventeen honest steps of s^65537 mod n. */
export function rsaSteps(n: bigint, s: bigint): RsaStep[] {
    const steps: RsaStep[] = [];
    let x = s;
    for (let i = 0; i < 16; i++) {
        steps.push({ quotient: (x * x) / n, remainder: (x * x) % n });
        x = (x * x) % n;
    }
    steps.push({ quotient: (x * s) / n, remainder: (x * s) % n });
    return steps;
}

/** A chain of RsaStepHint cells for the given steps (null for none). */
export function rsaHintChain(steps: RsaStep[]): Cell | null {
    let next: Cell | null = null;
    for (let i = steps.length - 1; i >= 0; i--) {
        next = beginCell()
            .store(storeRsaStepHint({ $$type: 'RsaStepHint', quotient: rsaNumberCell(steps[i].quotient), remainder: rsaNumberCell(steps[i].remainder), next }))
            .endCell();
    }
    return next;
}

/** A 48-byte SHA-384 digest as the contract's Sha384Digest. */
export function sha384Digest(digest: Buffer): Sha384Digest {
    if (digest.length !== 48) throw new Error('a SHA-384 digest has 48 bytes');
    return { $$type: 'Sha384Digest', high: BigInt('0x' + digest.subarray(0, 24).toString('hex')), low: BigInt('0x' + digest.subarray(24).toString('hex')) };
}

/** A big-endian byte string as an integer. */
export function bytesToBigInt(b: Buffer): bigint {
    return b.length === 0 ? 0n : BigInt('0x' + b.toString('hex'));
}
