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
        // At least fraudProofWindow + PRICE_CUT_GRACE (the Registry checks):
        // a worker can never withdraw while evidence against it is still valid.
        unbondingPeriod: BigInt(8 * DAY),
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
        // The shortest the Registry allows: fraudProofWindow + PRICE_CUT_GRACE
        // (a day and 15 minutes) rounded up, and MIN_CHANNEL_CLOSE_DELAY.
        unbondingPeriod: BigInt(DAY + HOUR),
        channelCloseDelay: BigInt(HOUR),
        attestationLifetime: BigInt(DAY),
        priceNoticePeriod: 60n,
        allowSimulatedAttestation: true,
        timelockDelay: 60n,
        fraudProofWindow: BigInt(DAY),
    };
}
