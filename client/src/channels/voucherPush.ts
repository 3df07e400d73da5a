import { httpPost } from '../../../helpers/httpPost';
import type { WorkerInfo } from '../discovery';
import type { ClientContext } from '../options';

/**
 * Gets each channel's newest voucher to its worker within milliseconds of
 * its signing, so what the worker served is paid for without waiting for the
 * client's next request: a request on the channel that the worker admits
 * carries it; failing that, it is sent on its own
 * (POST /v1/channels/:channel/voucher) after `voucherPushDelayMs`. Under
 * load, requests carry every voucher and no extra message is sent. One send
 * per channel at a time: vouchers signed meanwhile are covered by the
 * newest, sent next. A send that fails is only logged: the next request
 * carries the newest voucher anyway.
 */
const DEFAULT_PUSH_DELAY_MS = 20;

export class VoucherPush {
    private readonly sending = new Map<string, { again: boolean; done: Promise<void> }>();
    /** The newest voucher total each channel's worker is known to hold (a request carrying it was admitted, or a send answered). */
    private readonly held = new Map<string, bigint>();

    constructor(private readonly ctx: ClientContext) {}

    /** The worker admitted a request carrying the voucher of `total` (it stored it before serving). */
    carried(channel: string, total: bigint): void {
        if (total > (this.held.get(channel) ?? 0n)) this.held.set(channel, total);
    }

    /** Sends the channel's newest voucher unless a request carries it first (after the delay, or after the send in flight). */
    push(w: WorkerInfo, channel: string): void {
        const s = this.sending.get(channel);
        if (s) {
            s.again = true;
            return;
        }
        const entry = { again: false, done: Promise.resolve() };
        this.sending.set(channel, entry);
        entry.done = this.run(w, channel, entry);
    }

    /** Resolves when no voucher of `channel` is on its way (for shutdown and tests). */
    async settled(channel?: string): Promise<void> {
        for (;;) {
            const pending = channel ? [this.sending.get(channel)] : [...this.sending.values()];
            const live = pending.filter((p): p is { again: boolean; done: Promise<void> } => p !== undefined);
            if (live.length === 0) return;
            await Promise.all(live.map((p) => p.done));
        }
    }

    private async run(w: WorkerInfo, channel: string, entry: { again: boolean }): Promise<void> {
        try {
            do {
                entry.again = false;
                await new Promise((r) => setTimeout(r, this.ctx.o.voucherPushDelayMs ?? DEFAULT_PUSH_DELAY_MS));
                try {
                    // The ledger may be closed by now (the client shut down): then there is nothing left to send.
                    const v = this.ctx.o.store.latestVoucher(channel);
                    if (!v) return;
                    if (v.total <= (this.held.get(channel) ?? 0n)) continue;
                    const res = await httpPost(`${w.endpoint}/v1/channels/${encodeURIComponent(channel)}/voucher`, {
                        headers: { 'content-type': 'application/json' },
                        body: JSON.stringify({ total: v.total.toString(), signature: v.signature.toString('hex') }),
                        signal: AbortSignal.timeout(this.ctx.o.connectTimeoutMs ?? 30_000),
                    });
                    // 409 stale: the worker already holds this voucher or a newer one.
                    if (res.status !== 200 && res.status !== 409)
                        this.ctx.log('the worker refused a voucher; the next request carries it', { channel, status: res.status, body: await res.text().catch(() => '') });
                    else {
                        this.carried(channel, v.total);
                        await res.bytes().catch(() => undefined);
                    }
                } catch (e) {
                    this.ctx.log('a voucher did not reach the worker; the next request carries it', { channel, error: (e as Error).message });
                }
            } while (entry.again);
        } finally {
            this.sending.delete(channel);
        }
    }
}
