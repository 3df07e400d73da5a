import type { ChatDelta } from '../inference/types';

/**
 * The deltas of one event-loop turn leave as one chunk: when the engine is
 * ahead of the worker (several tokens already read, or a busy worker), they
 * are sealed, sent and opened by the gateway as one frame instead of one
 * frame each; a delta is never held past the end of the turn that produced
 * it. Text, reasoning and log probabilities are kept whole and in order.
 * Deltas carrying tool-call pieces are sent as they are, and reasoning that
 * follows content is not folded into it (a client shows a delta's reasoning
 * before its content).
 */
export class DeltaBatch {
    private pending: ChatDelta | undefined;
    private scheduled = false;

    /** `send` writes one delta out; it is called in order, never concurrently. */
    constructor(private readonly send: (d: ChatDelta) => void) {}

    add(d: ChatDelta): void {
        const p = this.pending;
        if (p && joinable(p, d)) {
            if (d.content) p.content = (p.content ?? '') + d.content;
            if (d.reasoning) p.reasoning = (p.reasoning ?? '') + d.reasoning;
            if (d.logprobs) p.logprobs = p.logprobs ? p.logprobs.concat(d.logprobs) : d.logprobs.slice();
        } else {
            this.pending = { ...d };
            if (p) this.send(p);
        }
        if (!this.scheduled) {
            this.scheduled = true;
            setImmediate(() => {
                this.scheduled = false;
                this.flush();
            });
        }
    }

    /** Sends what is held, now. */
    flush(): void {
        const p = this.pending;
        this.pending = undefined;
        if (p) this.send(p);
    }
}

function joinable(a: ChatDelta, b: ChatDelta): boolean {
    if (a.toolCalls || b.toolCalls) return false;
    return !(a.content && b.reasoning);
}
