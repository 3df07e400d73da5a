import { Address, toNano } from '@ton/core';
import type { NetworkParams } from '../build/Registry/Registry_Registry';

const HOUR = 60 * 60;
const DAY = 24 * HOUR;

/**
 * Network parameters a new deployment starts from. Production values; local
 * networks shorten the periods (see `devnetParams`).
 */
export function defaultNetworkParams(treasury: Address): NetworkParams {
    return {
        $$type: 'NetworkParams',
        minWorkerStake: toNano('100'),
        unbondingPeriod: BigInt(7 * DAY),
        channelCloseDelay: BigInt(1 * DAY),
        attestationLifetime: BigInt(7 * DAY),
        minTeeTcbSvn: 0n,
        protocolFeeBps: 100n, // 1%
        treasury,
        slashFractionBps: 5000n, // half the stake
        reporterShareBps: 2000n, // a fifth of the slash
        priceNoticePeriod: BigInt(1 * HOUR),
        allowSimulatedAttestation: false,
        maxActiveWorkers: 256n,
        timelockDelay: BigInt(2 * DAY),
        fraudProofWindow: BigInt(7 * DAY),
    };
}

/** Parameters for a local network: short periods, simulated attestation on. */
export function devnetParams(treasury: Address): NetworkParams {
    return {
        ...defaultNetworkParams(treasury),
        minWorkerStake: toNano('10'),
        unbondingPeriod: 600n,
        channelCloseDelay: 300n,
        attestationLifetime: BigInt(DAY),
        priceNoticePeriod: 60n,
        allowSimulatedAttestation: true,
        timelockDelay: 60n,
        fraudProofWindow: BigInt(DAY),
    };
}
