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
 * receipt (a cut connection, a killed worker, a restarted client): once
 * every other call on the channel holds a receipt, and none of them an
 * earlier one, the call holding the lowest receipt recovers the gap from the
 * worker (./receipts/recovery.ts), leaving the receipts of calls still in
 * flight to those calls, which judge them against the answers they received.
 * The others wait for it to pay: a later receipt judged first would not
 * continue the verified total and be refused as a gap.
 */
export class ChannelSequencer {
    private readonly channels = new Map<string, ChannelCalls>();

    private of(channel: string): ChannelCalls {
        let c = this.channels.get(channel);
        if (!c) this.channels.set(channel, (c = { calls: new Map(), wake: [], lock: Promise.resolve() }));
        return c;
    }

    /** A call starts on `channel`; `attempt` is its attempt record (its receipt is judged live, never recovered). */
    enter(channel: string, attempt: number, requestHash: string): void {
        this.of(channel).calls.set(attempt, { requestHash });
    }

    /** The call's answer came with the receipt numbered `requestId`, whose cost starts at cumulative total `start`. */
    received(channel: string, attempt: number, requestId: string, start: bigint): void {
        const call = this.channels.get(channel)?.calls.get(attempt);
        if (!call) return;
        call.receiptId = requestId;
        call.start = start;
        // A call waiting for a lower receipt may now know there is none.
        this.wake(this.of(channel));
    }

    /** The call is over (paid, refused or failed): it brings no more receipts. */
    leave(channel: string, attempt: number): void {
        const c = this.of(channel);
        c.calls.delete(attempt);
        this.wake(c);
        if (c.calls.size === 0 && c.wake.length === 0) this.channels.delete(channel);
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
     * Resolves once `verified()` reaches the start of the call's receipt
     * (the receipts before it are paid), or once no other call on the
     * channel can pay what comes before it: every other call holds a receipt
     * (none is still on its way with an earlier one) and none holds an
     * earlier one. The caller then takes the lock and looks again
     * (recovering the gap if there still is one).
     */
    async turn(channel: string, attempt: number, verified: () => bigint): Promise<void> {
        const c = this.of(channel);
        const start = c.calls.get(attempt)?.start;
        if (start === undefined) return;
        const earlierMayCome = () => [...c.calls].some(([id, call]) => id !== attempt && (call.start === undefined || call.start < start));
        while (verified() < start && earlierMayCome()) await new Promise<void>((r) => c.wake.push(r));
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
    /** Where its receipt's cost starts (the cumulative total before it), once the answer is in. */
    start?: bigint;
}

interface ChannelCalls {
    /** The calls on the channel, by attempt id. */
    calls: Map<number, InFlightCall>;
    wake: Array<() => void>;
    /** The tail of the channel's payment queue. */
    lock: Promise<void>;
}
