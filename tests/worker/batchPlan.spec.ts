import { PROMPT_TOKENS_PER_STEP_CPU, planBatch } from '../../worker/src/inference/batchPlan';

interface Item {
    tokens: number[];
    seq?: number;
}
const item = (seq: number | undefined, n: number): Item => ({ seq, tokens: Array.from({ length: n }, (_, i) => i) });
const sequenceIdOf = (i: Item) => i.seq;
const taken = (plan: Array<{ item: Item; processAmount: number }>) => plan.map((p) => [p.item.seq, p.processAmount]);

describe('the engine batch plan', () => {
    it('takes every generating sequence first, then prompts shortest first within the step, and orders the step by sequence id', () => {
        const items = [item(9, 40), item(5, 1), item(2, 70), item(7, 1), item(3, 30), item(0, 1)];
        const plan = planBatch(items, { size: 512, promptTokensPerStep: 128, sequenceIdOf });
        // Prompts of 30 and 40 whole (70 so far), then 58 of the 70-token prompt: 128 prompt tokens in all.
        expect(taken(plan)).toEqual([
            [0, 1],
            [2, 58],
            [3, 30],
            [5, 1],
            [7, 1],
            [9, 40],
        ]);
        // The plan hands node-llama-cpp back its own items.
        expect(plan.every((p) => items.includes(p.item))).toBe(true);
    });

    it('never holds back a generating sequence for the prompts, and leaves a prompt that finds no room for the next step', () => {
        const decoding = Array.from({ length: 16 }, (_, s) => item(s, 1));
        const plan = planBatch([item(20, 200), ...decoding, item(21, 5)], { size: 512, promptTokensPerStep: 4, sequenceIdOf });
        expect(taken(plan)).toEqual([...decoding.map((d) => [d.seq, 1]), [21, 4]]);
    });

    it('stops at the step size whatever the prompt budget (a GPU takes as many as fit)', () => {
        // Equal lengths keep their queue order: the first queued goes whole.
        const plan = planBatch([item(1, 300), item(0, 300)], { size: 512, promptTokensPerStep: 512, sequenceIdOf });
        expect(taken(plan)).toEqual([
            [0, 212],
            [1, 300],
        ]);
        expect(planBatch([item(0, 3)], { size: 2, promptTokensPerStep: 128, sequenceIdOf }).map((p) => p.processAmount)).toEqual([2]);
    });

    it('keeps the order it was given where sequence ids are unknown, after the known ones', () => {
        const a = item(undefined, 1);
        const b = item(undefined, 1);
        const plan = planBatch([a, item(4, 1), b, item(1, 1)], { size: 512, promptTokensPerStep: PROMPT_TOKENS_PER_STEP_CPU, sequenceIdOf });
        expect(plan.map((p) => p.item)).toEqual([expect.objectContaining({ seq: 1 }), expect.objectContaining({ seq: 4 }), a, b]);
        expect(plan[2].item).toBe(a);
        expect(plan[3].item).toBe(b);
    });
});
