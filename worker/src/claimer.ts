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
}

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
        return this.tick({ force: true });
    }

    /** Backs the channel off: the first retry after retryInitialMs, each next one twice as late, up to retryMaxMs. Returns the delay. */
    private retryLater(address: string): number {
        const b = this.backoff.get(address);
        const delay = Math.min(b ? b.delay * 2 : this.o.retryInitialMs, this.o.retryMaxMs);
        this.backoff.set(address, { next: Date.now() + delay, delay });
        return delay;
    }

    private async visit(c: ChannelSummary, force: boolean): Promise<ClaimResult | undefined> {
        const address = Address.parse(c.address);
        const state = await this.o.chain.channel(address, true);
        if (!state) return undefined;
        const store = this.o.store;
        // Whatever the chain has paid (by us or anyone relaying our voucher) is claimed.
        if (state.paid > c.claimedTotal) store.markClaimed(c.address, state.paid);
        if (state.status === ChannelStatus.Closed) {
            // Nothing can come back into a closed channel (it sends nothing bounceable): it is let go at once.
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
