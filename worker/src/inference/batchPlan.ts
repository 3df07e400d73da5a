/**
 * What the embedded engine evaluates in its next batch step, out of what its
 * sequences have queued: node-llama-cpp asks this (its batching
 * "itemPrioritizationStrategy") whenever it dispatches a step.
 */

/** A sequence's queued tokens, as node-llama-cpp hands them over (same object back in the plan). */
export interface QueuedTokens {
    readonly tokens: readonly number[];
}

export interface PlannedItem<T extends QueuedTokens> {
    item: T;
    processAmount: number;
}

export interface BatchPlanOptions<T extends QueuedTokens> {
    /** Tokens one step holds. */
    size: number;
    /** Prompt tokens (from items of more than one token) one step takes. */
    promptTokensPerStep: number;
    /** The llama.cpp sequence id an item's tokens belong to, where known. */
    sequenceIdOf(item: T): number | undefined;
}

/**
 * Prompt tokens one batch step takes on a CPU. There a step costs about as
 * much as the tokens in it, so evaluating a burst's prompts a few at a time
 * costs only each step's own overhead, and the first of them start
 * answering after their own prompts instead of after everyone's. A GPU
 * evaluates a full batch in about the time of a small one, so there a step
 * takes as many as fit.
 */
export const PROMPT_TOKENS_PER_STEP_CPU = 128;

/**
 * The generating sequences' next tokens (one each) go first, so answers
 * keep streaming. Then the items of several tokens (prompts, and tokens a
 * chat wrapper inserts into an answer) in the order they were queued, each
 * whole while it fits, up to promptTokensPerStep, the last one taken in part:
 * under a burst the first prompts finish and start answering instead of
 * every prompt advancing a little per step and all of them starting at the
 * end (node-llama-cpp's default, "maximumParallelism"), and the oldest prompt
 * advances at every step, so no stream of later requests holds it back.
 * A plan is never empty while anything is queued.
 *
 * The plan is in ascending sequence id. With a KV cache of its own per
 * sequence, llama.cpp computes in one graph only a run of consecutive
 * sequence ids in batch order (taking as many tokens from each as the one
 * with fewest has), and starts another graph wherever the next id is not the
 * previous one plus one; in id order, the sequences in use share as few
 * graphs as their ids allow. Items whose id is unknown go last, in the order
 * they came.
 */
export function planBatch<T extends QueuedTokens>(items: readonly T[], o: BatchPlanOptions<T>): PlannedItem<T>[] {
    const plan: PlannedItem<T>[] = [];
    let room = o.size;
    for (const item of items) {
        if (room === 0) break;
        if (item.tokens.length !== 1) continue;
        plan.push({ item, processAmount: 1 });
        room -= 1;
    }
    let promptRoom = Math.max(1, o.promptTokensPerStep);
    for (const item of items) {
        if (room === 0 || promptRoom === 0) break;
        if (item.tokens.length <= 1) continue;
        const processAmount = Math.min(item.tokens.length, room, promptRoom);
        plan.push({ item, processAmount });
        room -= processAmount;
        promptRoom -= processAmount;
    }
    const id = (p: PlannedItem<T>) => o.sequenceIdOf(p.item) ?? Number.MAX_SAFE_INTEGER;
    return plan.sort((a, b) => id(a) - id(b));
}

/**
 * Times in a row, at most, the engine's decode loop is sent round again
 * (each time about two promise turns) before it decodes without a sequence
 * of the last step that has not queued its next token yet.
 *
 * node-llama-cpp decodes the next step as soon as the last one's tokens are
 * all sampled, while the sequences whose samples came back last are still
 * carrying their tokens through their generators (a few promise turns).
 * Left alone, they miss that step, and the sequences keep taking turns at
 * missing steps (four greedy requests at once averaged 2.0 sequences a
 * step); the gaps they leave in the ids split steps into more graphs. Sent
 * round (StepGate), the loop decodes nothing, yields to those promise turns,
 * and finds them queued. A sequence that has ended never comes, hence the
 * bound.
 */
export const STEP_WAIT_TURNS = 16;

/**
 * Holds a batch step back, STEP_WAIT_TURNS times in a row at most, until
 * every sequence of the last step has queued again.
 */
export class StepGate {
    private last: ReadonlySet<number> = new Set();
    private turns = 0;

    constructor(private readonly maxTurns = STEP_WAIT_TURNS) {}

    /** Whether to plan nothing this time (node-llama-cpp then decodes nothing and asks again): a sequence of the last step is missing from `queued` and turns are left. */
    holds(queued: ReadonlySet<number>): boolean {
        if (this.turns >= this.maxTurns) return false;
        for (const id of this.last) {
            if (!queued.has(id)) {
                this.turns++;
                return true;
            }
        }
        return false;
    }

    /** The sequence ids of the step about to be decoded. */
    planned(ids: Iterable<number>): void {
        this.last = new Set(ids);
        this.turns = 0;
    }
}
