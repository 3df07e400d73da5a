import { snpPolicy } from '../../wrappers/snp/amd';
import { readFileSync } from 'fs';
import path from 'path';
import { Address, toNano } from '@ton/core';
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { ExtendedAttestationVerifier } from '../../wrappers/AttestationVerifier';
import { AttestationPolicy, NetworkParams } from '../../wrappers/Registry';
import { INTEL_TD_QE_IDENTITY, ParsedQuote, bigintTo32, imageHashOf, parseQuote } from '../../wrappers/tdx';
import { RegistryFixture, deployRegistry, linkContracts, passProposal } from './registry';

export const TDX_FIXTURES = path.join(__dirname, '..', 'fixtures', 'tdx');

/** The genuine quotes: version 4 (with its expected values) and version 5 (TD report 1.5 body). */
export type IntelFixture = 'quote-v4.bin' | 'quote-v5.bin';

export function loadIntelFixture(file: IntelFixture = 'quote-v4.bin'): { raw: Buffer; quote: ParsedQuote; expected: any } {
    const raw = readFileSync(path.join(TDX_FIXTURES, file));
    const expected = JSON.parse(readFileSync(path.join(TDX_FIXTURES, 'quote-v4.expected.json'), 'utf8'));
    return { raw, quote: parseQuote(raw), expected: file === 'quote-v4.bin' ? expected : undefined };
}

/** Intel's SGX Root CA key, from the fixture's expected values. */
export function intelRootKey(): { x: bigint; y: bigint } {
    const hex: string = loadIntelFixture().expected.intelSgxRootCaPublicKey;
    return { x: BigInt('0x' + hex.slice(0, 64)), y: BigInt('0x' + hex.slice(64)) };
}

export type Policy = Omit<AttestationPolicy, '$$type'>;

export interface VerifierFixture extends RegistryFixture {
    verifier: SandboxContract<ExtendedAttestationVerifier>;
    submitter: SandboxContract<TreasuryContract>;
}

/**
 * A Registry linked to a fresh verifier, with `images` and `models` allowed
 * and `policy` in force, all through the real timelocked proposals.
 */
export async function deployVerifier(opts: { policy: Policy; images?: bigint[]; models?: bigint[]; params?: Partial<NetworkParams> }): Promise<VerifierFixture> {
    const f = await deployRegistry(opts.params ?? {});
    const verifier = f.blockchain.openContract(await ExtendedAttestationVerifier.fromInit(f.registry.address));
    await verifier.sendDeploy(f.owner.getSender(), toNano('1'));
    await linkContracts(f, { verifier: verifier.address });
    for (const image of opts.images ?? []) await passProposal(f, () => f.registry.sendProposeImage(f.owner.getSender(), image));
    for (const model of opts.models ?? []) await passProposal(f, () => f.registry.sendProposeModel(f.owner.getSender(), model, `model-${model.toString(16).slice(0, 8)}`));
    await passProposal(f, () => f.registry.sendProposeAttestationPolicy(f.owner.getSender(), opts.policy));
    const submitter = await f.blockchain.treasury('submitter', { balance: toNano('1000') });
    return { ...f, verifier, submitter };
}

export function fixtureImageHash(file?: IntelFixture): bigint {
    return imageHashOf(loadIntelFixture(file).quote.body);
}

/** The Registry's genesis policy (no root, no QE identity, no simulated key, no SEV-SNP root), with `overrides`. */
export function noAttestationPolicy(overrides: Partial<Policy> = {}): Policy {
    return {
        rootKeyX: 0n,
        rootKeyY: 0n,
        qeMrSigner: 0n,
        qeIsvProdId: 0n,
        qeMinIsvSvn: 0n,
        qeMiscSelect: 0n,
        qeMiscSelectMask: 0n,
        qeAttributes: 0n,
        qeAttributesMask: 0n,
        simulatedKey: 0n,
        ...snpPolicy(),
        ...overrides,
    };
}

export function intelPolicy(overrides: Partial<Policy> = {}): Policy {
    const { quote } = loadIntelFixture();
    const root = intelRootKey();
    return {
        rootKeyX: root.x,
        rootKeyY: root.y,
        qeMrSigner: BigInt('0x' + quote.qe.mrSigner.toString('hex')),
        qeIsvProdId: BigInt(quote.qe.isvProdId),
        qeMinIsvSvn: BigInt(quote.qe.isvSvn),
        ...INTEL_TD_QE_IDENTITY,
        simulatedKey: 0n,
        ...snpPolicy(),
        ...overrides,
    };
}

export function u256(b: Buffer): bigint {
    return BigInt('0x' + b.toString('hex'));
}

export { bigintTo32, Address };
