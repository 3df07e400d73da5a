/**
 * Remembers the HPKE ephemeral keys (`enc`) of the request envelopes this
 * process has opened, so that a sealed request captured on the network and
 * sent again is refused instead of being served and charged a second time.
 *
 * A client seals every request with a fresh ephemeral key (helpers/hpke.ts),
 * so an `enc` seen twice is always a replay, never a legitimate retry.
 *
 * Bounded: the oldest `capacity` keys are kept (about 100 bytes each). A
 * replay of an envelope older than that, or from before a restart, is
 * served again; the client then refuses the receipt (its cumulative cost
 * does not follow the one it verified), so it is never paid for.
 */
export class ReplayGuard {
    private readonly seen = new Set<string>();

    constructor(private readonly capacity = 100_000) {}

    /** True the first time `enc` is offered, false on every later time. */
    firstSeen(enc: Buffer): boolean {
        const k = enc.toString('base64');
        if (this.seen.has(k)) return false;
        this.seen.add(k);
        if (this.seen.size > this.capacity) {
            // A Set iterates in insertion order: the first key is the oldest.
            const oldest = this.seen.values().next().value;
            if (oldest !== undefined) this.seen.delete(oldest);
        }
        return true;
    }

    get size(): number {
        return this.seen.size;
    }
}
