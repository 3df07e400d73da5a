import { PROMPT_TOKENS_PER_STEP_CPU, STEP_WAIT_TURNS, StepGate, planBatch } from '../../worker/src/inference/batchPlan';

interface Item {
    tokens: number[];
    seq?: number;
}
const item = (seq: number | undefined, n: number): Item => ({ seq, tokens: Array.from({ length: n }, (_, i) => i) });
const sequenceIdOf = (i: Item) => i.seq;
const taken = (plan: Array<{ item: Item; processAmount: number }>) => plan.map((p) => [p.item.seq, p.processAmount]);

describe('the engine batch plan', () => {
    it('takes every generating sequence, then prompts in the order they were queued within the step, and orders the step by sequence id', () => {
        const items = [item(9, 40), item(5, 1), item(2, 70), item(7, 1), item(3, 30), item(0, 1)];
        const plan = planBatch(items, { size: 512, promptTokensPerStep: 128, sequenceIdOf });
        // The prompts of 40 and 70 whole (110 so far), then 18 of the 30-token prompt: 128 prompt tokens in all.
        expect(taken(plan)).toEqual([
            [0, 1],
            [2, 70],
            [3, 18],
            [5, 1],
            [7, 1],
            [9, 40],
        ]);
        // The plan hands node-llama-cpp back its own items.
        expect(plan.every((p) => items.includes(p.item))).toBe(true);
    });

    it('advances the oldest prompt at every step, however many shorter ones queue behind it', () => {
        const long = item(1, 2000);
        let queued = [long, item(2, 50), item(3, 50)];
        for (let step = 0; step < 5; step++) {
            const plan = planBatch(queued, { size: 512, promptTokensPerStep: 128, sequenceIdOf });
            expect(taken(plan)).toEqual([[1, 128]]);
            queued = [...queued, item(4 + step, 20)];
        }
    });

    it('never holds back a generating sequence for the prompts, and leaves what finds no room for the next step', () => {
        const decoding = Array.from({ length: 16 }, (_, s) => item(s, 1));
        const plan = planBatch([item(20, 200), ...decoding, item(21, 5)], { size: 512, promptTokensPerStep: 4, sequenceIdOf });
        expect(taken(plan)).toEqual([...decoding.map((d) => [d.seq, 1]), [20, 4]]);
    });

    it('stops at the step size whatever the prompt budget (a GPU takes as many as fit), and is never empty while anything is queued', () => {
        const plan = planBatch([item(1, 300), item(0, 300)], { size: 512, promptTokensPerStep: 512, sequenceIdOf });
        expect(taken(plan)).toEqual([
            [0, 212],
            [1, 300],
        ]);
        expect(taken(planBatch([item(0, 3)], { size: 2, promptTokensPerStep: 128, sequenceIdOf }))).toEqual([[0, 2]]);
        expect(taken(planBatch([item(0, 5)], { size: 512, promptTokensPerStep: 0, sequenceIdOf }))).toEqual([[0, 1]]);
        expect(taken(planBatch([item(0, 1), item(1, 1), item(2, 1)], { size: 2, promptTokensPerStep: 128, sequenceIdOf }))).toEqual([
            [0, 1],
            [1, 1],
        ]);
    });

    it('keeps the order it was given where sequence ids are unknown, after the known ones', () => {
        const a = item(undefined, 1);
        const b = item(undefined, 1);
        const plan = planBatch([a, item(4, 1), b, item(1, 1)], { size: 512, promptTokensPerStep: PROMPT_TOKENS_PER_STEP_CPU, sequenceIdOf });
        expect(plan.map((p) => p.item.seq)).toEqual([1, 4, undefined, undefined]);
        expect(plan[2].item).toBe(a);
        expect(plan[3].item).toBe(b);
    });
});

describe('the engine step gate', () => {
    it('holds a step while a sequence of the last step has not queued again, for a bounded number of turns', () => {
        const gate = new StepGate();
        // Nothing decoded yet: nothing to wait for.
        expect(gate.holds(new Set([0]))).toBe(false);
        gate.planned([0, 1, 2]);
        expect(gate.holds(new Set([0, 1]))).toBe(true);
        expect(gate.holds(new Set([0, 1]))).toBe(true);
        // Sequence 2 queued: the step goes, with newcomers too.
        expect(gate.holds(new Set([0, 1, 2, 5]))).toBe(false);
        gate.planned([0, 1, 2, 5]);
        // Sequence 5 ended and never queues again: the wait gives up after its turns, and the next step goes without it.
        let held = 0;
        while (gate.holds(new Set([0, 1, 2]))) held++;
        expect(held).toBe(STEP_WAIT_TURNS);
        gate.planned([0, 1, 2]);
        expect(gate.holds(new Set([0, 1, 2]))).toBe(false);
    });

    it('counts the turns afresh after each step, and never holds with no turns to give', () => {
        const gate = new StepGate(2);
        gate.planned([3]);
        expect([gate.holds(new Set()), gate.holds(new Set()), gate.holds(new Set())]).toEqual([true, true, false]);
        gate.planned([4]);
        expect(gate.holds(new Set())).toBe(true);
        const never = new StepGate(0);
        never.planned([1]);
        expect(never.holds(new Set())).toBe(false);
    });
});
