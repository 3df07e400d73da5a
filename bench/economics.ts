/**
 * What each payment operation may cost, whole message chain through the real
 * network contracts (tests/gas/Network.gas.spec.ts measures them into
 * bench/gas.json): half of what Telegram's COCOON pays for the same job or
 * less. `must` is a hard cap the gas suite asserts (sandbox fees are
 * deterministic); `goal` is where we want to be. bench/run.ts reports both
 * against the figures before the economics work (bench/gas-before.json).
 */
export interface CostTarget {
    /** The bench/gas.json row. */
    row: string;
    label: string;
    /** What the row's figure is: fees in nanoTON, or compute gas. */
    unit: 'TON' | 'gas';
    must: bigint;
    goal: bigint;
}

const TON = 1_000_000_000n;
const milliTon = (m: number) => (BigInt(Math.round(m * 10)) * TON) / 10_000n;

export const COST_TARGETS: readonly CostTarget[] = [
    { row: 'Network.claim', label: 'claim: voucher -> owner, protocol fee accounted', unit: 'TON', must: milliTon(8), goal: milliTon(5) },
    { row: 'Network.openChannel', label: 'open a channel', unit: 'TON', must: milliTon(15), goal: milliTon(8) },
    { row: 'Network.topUp', label: 'top-up', unit: 'TON', must: milliTon(5), goal: milliTon(3) },
    { row: 'Network.cooperativeClose', label: 'cooperative close', unit: 'TON', must: milliTon(12), goal: milliTon(8) },
    { row: 'Network.stake', label: 'stake', unit: 'TON', must: milliTon(40), goal: milliTon(25) },
    { row: 'Network.topUpStake', label: 'top-up stake', unit: 'TON', must: milliTon(40), goal: milliTon(25) },
    { row: 'P256.verify', label: 'ECDSA P-256 verification in a transaction', unit: 'gas', must: 400_000n, goal: 300_000n },
    { row: 'AttestationVerifier.total.coldMachine', label: 'attestation of a new machine (all steps)', unit: 'TON', must: milliTon(750), goal: milliTon(600) },
    { row: 'AttestationVerifier.total.reattestation', label: 're-attestation (keys cached)', unit: 'TON', must: milliTon(180), goal: milliTon(150) },
    { row: 'P384.verify', label: 'ECDSA P-384 verification (an SEV-SNP report signature), all its transactions', unit: 'gas', must: 3_000_000n, goal: 1_000_000n },
    { row: 'RSA4096PSS.verify', label: 'RSA-4096 PSS verification (an AMD certificate signature), all its transactions', unit: 'gas', must: 3_000_000n, goal: 1_000_000n },
    { row: 'AttestationVerifier.total.snpColdMachine', label: 'SEV-SNP attestation of a new machine (ASK cached: VCEK and report)', unit: 'TON', must: milliTon(2500), goal: milliTon(800) },
    { row: 'AttestationVerifier.total.snpReattestation', label: 'SEV-SNP re-attestation (VCEK cached)', unit: 'TON', must: milliTon(1200), goal: milliTon(250) },
    { row: 'PaymentChannel.rentPerYear', label: 'storage rent of one open channel, per year', unit: 'TON', must: milliTon(20), goal: milliTon(5) },
];

/** The row's figure in the target's unit: fees in nanoTON or compute gas. */
export function figureOf(target: CostTarget, entry: { gasUsed: number; fees: string }): bigint {
    return target.unit === 'gas' ? BigInt(entry.gasUsed) : BigInt(entry.fees);
}

/** The hard cap on a bench/gas.json row, in its target's unit. */
export function mustOf(row: string): bigint {
    const target = COST_TARGETS.find((t) => t.row === row);
    if (!target) throw new Error(`no cost target for ${row}`);
    return target.must;
}
