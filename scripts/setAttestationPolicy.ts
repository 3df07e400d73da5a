import { NetworkProvider } from '@ton/blueprint';
import { AttestationPolicy } from '../wrappers/Registry';
import { INTEL_SGX_ROOT_CA_KEY, INTEL_TD_QE_IDENTITY, INTEL_TD_QE_ISVPRODID, INTEL_TD_QE_MRSIGNER } from '../wrappers/tdx';
import { openRegistry, parseHash256, parseUint, requireOwner } from './lib/cli';
import { hex256 } from '../helpers/bytes';
import { AMD_ARK_IDS, snpPolicy, snpPolicyOf, snpTcbValue } from '../wrappers/snp/amd';
import { SnpTcb, snpTcbText } from '../wrappers/snp/report';
import { submitProposal } from './lib/governance';

type Policy = Omit<AttestationPolicy, '$$type'>;

const USAGE =
    'overrides: intel | rootKey=<128 hex: x||y> | qeMrSigner=<64 hex> | qeIsvProdId=N | qeMinIsvSvn=N | qeMiscSelect=<8 hex> | qeMiscSelectMask=<8 hex> | qeAttributes=<32 hex> | qeAttributesMask=<32 hex> | simulatedKey=<64 hex>|none' +
    " | amd (pins AMD's Milan, Genoa and Turin roots) | snpArk=<64 hex: SHA-256 of an ARK modulus> | snpArks=none | snpMinTcb=[<ARK id>:]<bootloader,tee,snp,microcode> (Milan, Genoa) or <fmc,bootloader,tee,snp,microcode> (Turin)";

/** The SEV-SNP roots a policy pins, each with its TCB minimum. */
function snpOf(p: Policy): Map<bigint, SnpTcb> {
    return snpPolicyOf(p) ?? new Map();
}

const NO_TCB: SnpTcb = { bootloader: 0, tee: 0, snp: 0, microcode: 0 };

/** `bl,tee,snp,microcode` (Milan's and Genoa's parts) or `fmc,bl,tee,snp,microcode` (Turin's) as a TCB. */
function parseTcb(value: string, name: string): SnpTcb {
    const parts = value.split(',').map((v) => Number(parseUint(v.trim(), 8, name)));
    if (parts.length === 4) return { bootloader: parts[0], tee: parts[1], snp: parts[2], microcode: parts[3] };
    if (parts.length === 5) return { fmc: parts[0], bootloader: parts[1], tee: parts[2], snp: parts[3], microcode: parts[4] };
    throw new Error(`${name} is four numbers (bootloader,tee,snp,microcode: Milan, Genoa) or five (fmc,bootloader,tee,snp,microcode: Turin)`);
}

/** Whether a pinned root's reports use Turin's TCB layout (the policy says so: its minimum has an FMC part). */
const isTurinRoot = (min: SnpTcb) => min.fmc !== undefined;

/** `bytes` bytes of hex, in the report byte order Intel publishes QE identities in. */
function parseHexBytes(value: string, bytes: number, name: string): bigint {
    const hex = value.replace(/^0x/i, '');
    if (hex.length !== bytes * 2 || !/^[0-9a-fA-F]+$/.test(hex)) throw new Error(`${name} must be ${bytes * 2} hex digits`);
    return BigInt('0x' + hex);
}

function hexBytes(v: bigint, bytes: number): string {
    return v.toString(16).padStart(bytes * 2, '0');
}

/** Applies `name=value` overrides (and the `intel` preset) to a policy. */
export function applyPolicyOverrides(current: Policy, overrides: string[]): Policy {
    const next: Policy = { ...current };
    for (const item of overrides) {
        if (item === 'amd') {
            const arks = snpOf(next);
            for (const id of Object.values(AMD_ARK_IDS)) if (!arks.has(id)) arks.set(id, NO_TCB);
            Object.assign(next, snpPolicy(arks));
            continue;
        }
        if (item === 'intel') {
            next.rootKeyX = INTEL_SGX_ROOT_CA_KEY.x;
            next.rootKeyY = INTEL_SGX_ROOT_CA_KEY.y;
            next.qeMrSigner = INTEL_TD_QE_MRSIGNER;
            next.qeIsvProdId = INTEL_TD_QE_ISVPRODID;
            Object.assign(next, INTEL_TD_QE_IDENTITY);
            continue;
        }
        const eq = item.indexOf('=');
        if (eq <= 0) throw new Error(`expected name=value, got "${item}"; ${USAGE}`);
        const name = item.slice(0, eq);
        const value = item.slice(eq + 1).trim();
        switch (name) {
            case 'rootKey': {
                const hex = value.replace(/^0x/i, '');
                if (!/^[0-9a-fA-F]{128}$/.test(hex)) throw new Error('rootKey must be 128 hex digits (x || y)');
                next.rootKeyX = BigInt('0x' + hex.slice(0, 64));
                next.rootKeyY = BigInt('0x' + hex.slice(64));
                break;
            }
            case 'qeMrSigner':
                next.qeMrSigner = parseHash256(value, name);
                break;
            case 'qeIsvProdId':
                next.qeIsvProdId = parseUint(value, 16, name);
                break;
            case 'qeMinIsvSvn':
                next.qeMinIsvSvn = parseUint(value, 16, name);
                break;
            case 'qeMiscSelect':
            case 'qeMiscSelectMask':
                next[name] = parseHexBytes(value, 4, name);
                break;
            case 'qeAttributes':
            case 'qeAttributesMask':
                next[name] = parseHexBytes(value, 16, name);
                break;
            case 'simulatedKey':
                next.simulatedKey = value === 'none' ? 0n : parseHash256(value, name);
                break;
            case 'snpArk': {
                const arks = snpOf(next);
                const id = parseHash256(value, name);
                if (!arks.has(id)) arks.set(id, NO_TCB);
                Object.assign(next, snpPolicy(arks));
                break;
            }
            case 'snpArks':
                if (value !== 'none') throw new Error('snpArks takes only "none" (pin roots one by one with snpArk=, or all of AMD\'s with amd)');
                Object.assign(next, snpPolicy());
                break;
            case 'snpMinTcb': {
                // bl,tee,snp,microcode for every pinned root, or <ARK id>:bl,tee,snp,microcode for one.
                const arks = snpOf(next);
                if (arks.size === 0) throw new Error('snpMinTcb needs an SEV-SNP root pinned first (amd or snpArk=)');
                // A minimum applies to the roots whose reports share its layout.
                const colon = value.indexOf(':');
                if (colon < 0) {
                    const tcb = parseTcb(value, name);
                    const matching = [...arks.entries()].filter(([, min]) => isTurinRoot(min) === (tcb.fmc !== undefined)).map(([id]) => id);
                    if (matching.length === 0) throw new Error(`snpMinTcb: no pinned SEV-SNP root takes a TCB of ${tcb.fmc === undefined ? 'four parts (Milan, Genoa)' : 'five parts (Turin)'}`);
                    for (const id of matching) arks.set(id, tcb);
                } else {
                    const id = parseHash256(value.slice(0, colon), name);
                    if (!arks.has(id)) throw new Error(`snpMinTcb: ${hex256(id)} is not a pinned SEV-SNP root`);
                    const tcb = parseTcb(value.slice(colon + 1), name);
                    // A root's generation (its layout) is chosen with its first minimum and kept after it; AMD's roots have theirs.
                    const current = arks.get(id)!;
                    const fixed = snpTcbValue(current) !== 0n || (Object.values(AMD_ARK_IDS) as bigint[]).includes(id);
                    if (fixed && isTurinRoot(current) !== (tcb.fmc !== undefined))
                        throw new Error(
                            `snpMinTcb: ${hex256(id)} is a ${isTurinRoot(current) ? 'Turin root: its minimum has five parts, fmc,bootloader,tee,snp,microcode' : 'Milan or Genoa root: its minimum has four parts, bootloader,tee,snp,microcode'}`,
                        );
                    arks.set(id, tcb);
                }
                Object.assign(next, snpPolicy(arks));
                break;
            }
            default:
                throw new Error(`unknown policy field "${name}"; ${USAGE}`);
        }
    }
    return next;
}

function describe(p: Policy): Record<string, string> {
    return {
        rootKey: hex256(p.rootKeyX) + hex256(p.rootKeyY),
        qeMrSigner: hex256(p.qeMrSigner),
        qeIsvProdId: String(p.qeIsvProdId),
        qeMinIsvSvn: String(p.qeMinIsvSvn),
        qeMiscSelect: `${hexBytes(p.qeMiscSelect, 4)} (mask ${hexBytes(p.qeMiscSelectMask, 4)})`,
        qeAttributes: `${hexBytes(p.qeAttributes, 16)} (mask ${hexBytes(p.qeAttributesMask, 16)})`,
        simulatedKey: p.simulatedKey === 0n ? 'none' : hex256(p.simulatedKey),
        snpArks:
            [...snpOf(p).entries()]
                .map(([id, tcb]) => `${hex256(id)} (at least ${snpTcbText(tcb)})`)
                .sort()
                .join(', ') || 'none',
    };
}

/**
 * Queues a change of the attestation policy behind the Registry timelock.
 *   npx blueprint run setAttestationPolicy <registry> intel qeMinIsvSvn=6
 *   npx blueprint run setAttestationPolicy <registry> simulatedKey=<hex>
 *   npx blueprint run setAttestationPolicy <registry> amd snpMinTcb=<Milan ARK id>:3,0,8,115
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const registry = await openRegistry(provider, args);
    const overrides = args.slice(1);
    if (overrides.length === 0) throw new Error(`give at least one override; ${USAGE}`);
    await requireOwner(provider, registry);
    const current = await registry.getAttestationPolicy();
    const next = applyPolicyOverrides(current, overrides);
    // The Registry refuses such a QE identity (ERR_REGISTRY_BAD_QE_IDENTITY): no report could match it.
    if ((next.qeMiscSelect & next.qeMiscSelectMask) !== next.qeMiscSelect) throw new Error('qeMiscSelect has bits outside qeMiscSelectMask');
    if ((next.qeAttributes & next.qeAttributesMask) !== next.qeAttributes) throw new Error('qeAttributes has bits outside qeAttributesMask');
    if (provider.network() === 'mainnet' && next.simulatedKey !== 0n) {
        throw new Error('a simulated-evidence key must never be configured on mainnet');
    }
    const before = describe(current);
    const after = describe(next);
    let changed = false;
    for (const key of Object.keys(after)) {
        if (before[key] !== after[key]) {
            provider.ui().write(`  ${key}: ${before[key]} -> ${after[key]}`);
            changed = true;
        }
    }
    if (!changed) throw new Error('the policy already has these values; nothing to propose');
    return submitProposal(provider, registry, () => registry.sendProposeAttestationPolicy(provider.sender(), next));
}
