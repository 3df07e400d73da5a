import type { WorkerInfo } from '../discovery';
import type { ClientContext } from '../options';

/**
 * Sends each channel's newest voucher to its worker as soon as it is
 * signed (POST /v1/channels/:channel/voucher), so what the worker served
 * is paid for within milliseconds rather than with the client's next
 * request. One send per channel at a time: vouchers signed meanwhile are
 * covered by the newest, sent next. A send that fails is only logged: the
 * next request carries the newest voucher anyway.
 */
export class VoucherPush {
    private readonly sending = new Map<string, { again: boolean; done: Promise<void> }>();

    constructor(private readonly ctx: ClientContext) {}

    /** Sends the channel's newest voucher (now, or after the send in flight). */
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
                try {
                    // The ledger may be closed by now (the client shut down): then there is nothing left to send.
                    const v = this.ctx.o.store.latestVoucher(channel);
                    if (!v) return;
                    const res = await fetch(`${w.endpoint}/v1/channels/${encodeURIComponent(channel)}/voucher`, {
                        method: 'POST',
                        headers: { 'content-type': 'application/json' },
                        body: JSON.stringify({ total: v.total.toString(), signature: v.signature.toString('hex') }),
                        signal: AbortSignal.timeout(this.ctx.o.connectTimeoutMs ?? 30_000),
                    });
                    // 409 stale: the worker already holds this voucher or a newer one.
                    if (res.status !== 200 && res.status !== 409)
                        this.ctx.log('the worker refused a voucher; the next request carries it', { channel, status: res.status, body: await res.text().catch(() => '') });
                    else await res.arrayBuffer().catch(() => undefined);
                } catch (e) {
                    this.ctx.log('a voucher did not reach the worker; the next request carries it', { channel, error: (e as Error).message });
                }
            } while (entry.again);
        } finally {
            this.sending.delete(channel);
        }
    }
}
