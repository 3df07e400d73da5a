import type { Address, Sender } from '@ton/core';
import type { KeyPair } from '@ton/crypto';
import type { ContractOpener } from '../../wrappers/toncenter';
import type { ClientStore } from './store';

export interface ClientOptions {
    opener: ContractOpener;
    staking: Address;
    /** The client's wallet: opens and tops up channels, submits fraud proofs. */
    wallet: Sender & { address: Address };
    /** Ed25519 key that signs vouchers (the channel's client key). */
    channelKey: KeyPair;
    store: ClientStore;
    /** Deposit of a new channel, nanoTON. */
    deposit: bigint;
    /** Top up when the unspent deposit falls below this, nanoTON. */
    topUpBelow: bigint;
    /** Amount of each top-up (default: `deposit`). */
    topUpAmount?: bigint;
    /** Seconds between on-chain re-checks of a channel (default 30). */
    channelRecheckSec?: number;
    /** Milliseconds to wait for a worker's response headers (default 30 s). */
    connectTimeoutMs?: number;
    /** Milliseconds without a byte from a worker mid-answer before it counts as failed (default 120 s). */
    idleTimeoutMs?: number;
    /**
     * Milliseconds a newly signed voucher waits for a request on its channel
     * to carry it before it is sent to the worker on its own (default 20).
     * Under load the next request carries it and no extra message is sent;
     * otherwise the worker has it within this long of the receipt.
     */
    voucherPushDelayMs?: number;
    /**
     * Channels to one worker at most (default 1). Concurrent requests share a
     * channel while its unspent deposit covers the most they can all cost;
     * another channel (with its own deposit) is opened only when no channel
     * has room and none is idle to be topped up.
     */
    channelsPerWorker?: number;
    /** Submit overcharge fraud proofs on chain (default true); only proofs the WorkerStake would accept are sent. */
    submitFraudProofs?: boolean;
    /** The client's clock, unix seconds (default: the system clock). Receipt times are judged by it. */
    now?: () => number;
    log?: (msg: string, extra?: Record<string, unknown>) => void;
}

/** What every part of the SDK shares: the options, the log, and the clock receipts are judged by. */
export interface ClientContext {
    readonly o: ClientOptions;
    log(msg: string, extra?: Record<string, unknown>): void;
    /** The client's clock, unix seconds. */
    now(): number;
}

export function clientContext(o: ClientOptions): ClientContext {
    return {
        o,
        log: (msg, extra) => o.log?.(msg, extra),
        now: () => o.now?.() ?? Math.floor(Date.now() / 1000),
    };
}
