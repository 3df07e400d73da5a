import { Address, Sender } from '@ton/core';
import type { Logger } from 'pino';
import { ChannelStatus, ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import type { ChainView } from './chain';
import type { WorkerMetrics } from './metrics';
import type { ChannelSummary, WorkerStore } from './store/store';

/**
 * Redeems vouchers on chain: when a channel's unclaimed value passes the
 * threshold, as soon as a channel is seen closing (the worker must redeem
 * before the close deadline) or its client announces a new voucher key
 * (vouchers of the old key stop counting when it takes effect), and on
 * shutdown. A payout that bounced after the channel closed is sent again. Idempotent by cumulative
 * total: the channel pays `total - paid`, and the store records the total
 * the chain confirms, so a repeated or crashed claim never counts twice.
 */

export interface ClaimerOptions {
    store: WorkerStore;
    chain: ChainView;
    sender: Sender;
    logger: Logger;
    metrics?: WorkerMetrics;
    threshold: bigint;
    /** How often channels are checked (status, close deadline, threshold). */
    intervalMs: number;
    retryInitialMs: number;
    retryMaxMs: number;
    /** Inside this many seconds before a close deadline, failed claims are retried every round. */
    closeSafetyMarginSec?: number;
    /** How long to wait for a claim to show on chain. */
    confirmTimeoutMs?: number;
    /**
     * How long a closed channel must show nothing due before it is no longer
     * watched (default 10 minutes): a payout sent with the close, or sent
     * again, may still be on its way and bounce back into the channel.
     */
    closedGraceMs?: number;
}

/** Automatic resends of a payout that bounced after its channel closed. */
const MAX_DUE_RESENDS = 6;

export interface ClaimResult {
    channel: string;
    claimed: boolean;
    paid: bigint;
    error?: string;
}

export class Claimer {
    private timer?: NodeJS.Timeout;
    private running?: Promise<void>;
    private stopped = true;
    private readonly backoff = new Map<string, { next: number; delay: number }>();
    private readonly keyChangeSeen = new Set<string>();
    /** Resends of a closed channel's bounced payout, by channel. */
    private readonly resends = new Map<string, number>();
    /** Closed channels with nothing due, by when that was first seen (Date.now()). */
    private readonly settledSince = new Map<string, number>();

    constructor(private readonly o: ClaimerOptions) {}

    start(): void {
        this.stopped = false;
        const loop = () => {
            if (this.stopped) return;
            this.running = this.tick()
                .then(() => undefined)
                .catch((e) => this.o.logger.warn({ err: e }, 'claim round failed'))
                .finally(() => {
                    this.running = undefined;
                    if (!this.stopped) this.timer = setTimeout(loop, this.o.intervalMs);
                });
        };
        this.timer = setTimeout(loop, 0);
    }

    /** Stops the periodic rounds (waits for a round in progress). */
    async stop(): Promise<void> {
        this.stopped = true;
        if (this.timer) clearTimeout(this.timer);
        await this.running;
    }

    /** One round: watch every live channel, claim what is due. */
    async tick(options: { force?: boolean } = {}): Promise<ClaimResult[]> {
        const results: ClaimResult[] = [];
        for (const c of this.o.store.listChannels()) {
            if (c.state === 'closed') continue;
            try {
                const r = await this.visit(c, options.force ?? false);
                if (r) results.push(r);
            } catch (e) {
                this.o.logger.warn({ channel: c.address, err: e }, 'channel check failed');
                results.push({ channel: c.address, claimed: false, paid: c.claimedTotal, error: (e as Error).message });
            }
        }
        return results;
    }

    /** Claims everything claimable now, ignoring the threshold and backoff (shutdown, `cocoon-worker claim`). */
    claimAll(): Promise<ClaimResult[]> {
        this.backoff.clear();
        this.resends.clear();
        return this.tick({ force: true });
    }

    /** Backs the channel off: the first retry after retryInitialMs, each next one twice as late, up to retryMaxMs. Returns the delay. */
    private retryLater(address: string): number {
        const b = this.backoff.get(address);
        const delay = Math.min(b ? b.delay * 2 : this.o.retryInitialMs, this.o.retryMaxMs);
        this.backoff.set(address, { next: Date.now() + delay, delay });
        return delay;
    }

    /** Sends a closed channel's bounced worker payout again (the channel ignores the voucher then). */
    private async claimDue(c: ChannelSummary, address: Address, due: bigint): Promise<ClaimResult | undefined> {
        const b = this.backoff.get(c.address);
        if (b && Date.now() < b.next) return undefined;
        const sent = this.resends.get(c.address) ?? 0;
        // Each resend costs the claim's gas: a payout the WorkerStake keeps refusing (its Escrow link changed, say)
        // is tried a bounded number of times, ever further apart; `cocoon-worker claim` forces another round.
        if (sent >= MAX_DUE_RESENDS) return undefined;
        const voucher = this.o.store.latestVoucher(c.address);
        if (!voucher) return undefined;
        this.retryLater(c.address);
        this.resends.set(c.address, sent + 1);
        try {
            this.o.logger.warn({ channel: c.address, due: due.toString(), attempt: sent + 1 }, 'a payout bounced after the close: sending it again');
            await this.o.chain.opener.open(ExtendedPaymentChannel.fromAddress(address)).sendClaim(this.o.sender, { channel: address, total: voucher.total, signature: voucher.signature });
            if (sent + 1 >= MAX_DUE_RESENDS) this.o.logger.error({ channel: c.address, due: due.toString() }, 'the WorkerStake keeps refusing this payout: no more automatic resends');
            return { channel: c.address, claimed: true, paid: c.claimedTotal };
        } catch (e) {
            return { channel: c.address, claimed: false, paid: c.claimedTotal, error: (e as Error).message };
        }
    }

    private async visit(c: ChannelSummary, force: boolean): Promise<ClaimResult | undefined> {
        const address = Address.parse(c.address);
        const state = await this.o.chain.channel(address, true);
        if (!state) return undefined;
        const store = this.o.store;
        // Whatever the chain has paid (by us or anyone relaying our voucher) is claimed.
        if (state.paid > c.claimedTotal) store.markClaimed(c.address, state.paid);
        if (state.status === ChannelStatus.Closed) {
            // A payout that bounced after the close waits in the channel for the worker: send it again.
            if (state.claimable > 0n) {
                this.settledSince.delete(c.address);
                return this.claimDue(c, address, state.claimable);
            }
            // Nothing due now, but the close's payout (or one sent again) may still be in flight and bounce
            // back: the channel is let go only once it has shown nothing due for the grace.
            const since = this.settledSince.get(c.address) ?? Date.now();
            this.settledSince.set(c.address, since);
            if (Date.now() - since < (this.o.closedGraceMs ?? 10 * 60_000)) return undefined;
            this.settledSince.delete(c.address);
            store.setChannelState(c.address, 'closed');
            if (c.voucherTotal > state.paid) this.o.logger.error({ channel: c.address, lost: (c.voucherTotal - state.paid).toString() }, 'channel closed with an unredeemed voucher');
            return undefined;
        }
        const closing = state.status === ChannelStatus.Closing;
        if (closing && (c.state !== 'closing' || c.closeDeadline !== state.closeDeadline)) {
            store.setChannelState(c.address, 'closing', state.closeDeadline);
            this.o.logger.warn({ channel: c.address, closeDeadline: state.closeDeadline }, 'channel is closing: redeeming now');
        }
        const voucher = store.latestVoucher(c.address);
        if (!voucher || voucher.total <= state.paid) return undefined;
        const claimable = (voucher.total < state.deposit ? voucher.total : state.deposit) - state.paid;
        if (claimable <= 0n) return undefined;
        const keyChanging = state.pendingClientKey !== 0n;
        if (keyChanging && !this.keyChangeSeen.has(c.address)) {
            this.keyChangeSeen.add(c.address);
            this.o.logger.warn({ channel: c.address, pendingKeyAt: state.pendingKeyAt }, 'client key change announced: redeeming now');
        }
        const due = force || closing || keyChanging || claimable >= this.o.threshold;
        if (!due) return undefined;
        const b = this.backoff.get(c.address);
        // Backoff yields to a deadline (close, or the old key's end): inside the safety margin every round retries.
        const deadline = closing ? state.closeDeadline : keyChanging ? state.pendingKeyAt : undefined;
        const nearDeadline = deadline !== undefined && deadline - Math.floor(Date.now() / 1000) <= (this.o.closeSafetyMarginSec ?? 600);
        if (!force && !nearDeadline && b && Date.now() < b.next) return undefined;

        try {
            const channel = this.o.chain.opener.open(ExtendedPaymentChannel.fromAddress(address));
            this.o.logger.info({ channel: c.address, total: voucher.total.toString(), claimable: claimable.toString() }, 'claiming');
            await channel.sendClaim(this.o.sender, { channel: address, total: voucher.total, signature: voucher.signature });
            const target = voucher.total < state.deposit ? voucher.total : state.deposit;
            const deadline = Date.now() + (this.o.confirmTimeoutMs ?? 60_000);
            let paid = state.paid;
            for (;;) {
                const now = await this.o.chain.channel(address, true);
                paid = now?.paid ?? paid;
                if (paid >= target) break;
                if (Date.now() > deadline) throw new Error('the claim did not show on chain in time');
                await new Promise((r) => setTimeout(r, 300));
            }
            store.markClaimed(c.address, paid);
            this.backoff.delete(c.address);
            this.o.metrics?.claims.inc({ result: 'ok' });
            this.o.logger.info({ channel: c.address, paid: paid.toString() }, 'claimed');
            return { channel: c.address, claimed: true, paid };
        } catch (e) {
            const delay = this.retryLater(c.address);
            this.o.metrics?.claims.inc({ result: 'error' });
            this.o.logger.warn({ channel: c.address, err: e, retryInMs: delay }, 'claim failed');
            return { channel: c.address, claimed: false, paid: state.paid, error: (e as Error).message };
        }
    }
}
