/**
 * Many calls on one channel. The worker numbers a channel's receipts by
 * cumulative cost in the order it settles them, and a voucher pays a
 * cumulative total, so the client verifies and pays them in that order: a
 * call whose receipt starts above what is verified waits for the calls
 * whose receipts come before it. Everything that reads or moves a channel's
 * verified total (paying a receipt, recovering lost ones) runs under the
 * channel's lock, one at a time.
 *
 * A gap no call in flight can fill belongs to a call that ended without its
 * receipt (a cut connection, a killed worker): once every call on the
 * channel is either done or waiting, the waiter holding the lowest receipt
 * recovers the gap from the worker (./receipts/recovery.ts), leaving the
 * receipts of calls still in flight to those calls, which judge them
 * against the answers they received.
 */
export class ChannelSequencer {
    private readonly channels = new Map<string, ChannelCalls>();

    private of(channel: string): ChannelCalls {
        let c = this.channels.get(channel);
        if (!c) this.channels.set(channel, (c = { calls: new Map(), waiting: 0, wake: [], lock: Promise.resolve() }));
        return c;
    }

    /** A call starts on `channel`; `attempt` is its attempt record (its receipt is judged live, never recovered). */
    enter(channel: string, attempt: number, requestHash: string): void {
        this.of(channel).calls.set(attempt, { requestHash });
    }

    /** The call's answer came with the receipt numbered `requestId`. */
    received(channel: string, attempt: number, requestId: string): void {
        const call = this.channels.get(channel)?.calls.get(attempt);
        if (call) call.receiptId = requestId;
    }

    /** The call is over (paid, refused or failed): it brings no more receipts. */
    leave(channel: string, attempt: number): void {
        const c = this.of(channel);
        c.calls.delete(attempt);
        this.wake(c);
        if (c.calls.size === 0 && c.waiting === 0 && c.wake.length === 0) this.channels.delete(channel);
    }

    /** The calls on `channel` now, by attempt: recovery leaves their receipts to them. */
    inFlight(channel: string): ReadonlyMap<number, InFlightCall> {
        return new Map(this.channels.get(channel)?.calls ?? []);
    }

    /** Calls on `channel` now. */
    calls(channel: string): number {
        return this.channels.get(channel)?.calls.size ?? 0;
    }

    /**
     * Resolves once `verified()` reaches `start` (the receipts before this
     * one are paid), or once no other call on the channel can pay more:
     * each is waiting too or gone. The caller then takes the lock and looks
     * again (recovering the gap if there still is one).
     */
    async turn(channel: string, start: bigint, verified: () => bigint): Promise<void> {
        const c = this.of(channel);
        c.waiting++;
        try {
            while (verified() < start && c.calls.size > c.waiting) await new Promise<void>((r) => c.wake.push(r));
        } finally {
            c.waiting--;
        }
    }

    /** Wakes the calls waiting on `channel` to look again (a receipt was paid). */
    paid(channel: string): void {
        const c = this.channels.get(channel);
        if (c) this.wake(c);
    }

    /** Resolves when a call on `channel` ends or pays (for a call the worker refused for its credit limit). */
    next(channel: string): Promise<void> {
        const c = this.of(channel);
        return new Promise<void>((r) => c.wake.push(r));
    }

    /** Runs `fn` alone among the channel's payments and recoveries. */
    async locked<T>(channel: string, fn: () => Promise<T>): Promise<T> {
        const c = this.of(channel);
        const before = c.lock;
        let release!: () => void;
        c.lock = new Promise<void>((r) => (release = r));
        await before;
        try {
            return await fn();
        } finally {
            release();
        }
    }

    private wake(c: ChannelCalls) {
        const waiters = c.wake;
        c.wake = [];
        waiters.forEach((w) => w());
    }
}

/** A call on a channel: its request's hash, and once its answer is in, the id of the receipt that came with it. */
export interface InFlightCall {
    requestHash: string;
    receiptId?: string;
}

interface ChannelCalls {
    /** The calls on the channel, by attempt id. */
    calls: Map<number, InFlightCall>;
    /** Calls waiting in turn(). */
    waiting: number;
    wake: Array<() => void>;
    /** The tail of the channel's payment queue. */
    lock: Promise<void>;
}
