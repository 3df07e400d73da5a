import { DeltaBatch } from '../../worker/src/http/deltaBatch';
import type { ChatDelta } from '../../worker/src/inference/types';

const turn = () => new Promise<void>((res) => setImmediate(res));

describe('DeltaBatch: the deltas of one event-loop turn leave as one chunk', () => {
    it('joins one turn’s text, reasoning and log probabilities in order, and sends them at the end of the turn', async () => {
        const sent: ChatDelta[] = [];
        const b = new DeltaBatch((d) => sent.push(d));
        b.add({ type: 'delta', reasoning: 'think ' });
        b.add({ type: 'delta', reasoning: 'more', logprobs: [{ token: 'more', logprob: -1, bytes: null, top_logprobs: [] }] });
        b.add({ type: 'delta', content: 'Hel', logprobs: [{ token: 'Hel', logprob: -2, bytes: null, top_logprobs: [] }] });
        b.add({ type: 'delta', content: 'lo' });
        expect(sent).toEqual([]);
        await turn();
        expect(sent).toEqual([
            {
                type: 'delta',
                reasoning: 'think more',
                content: 'Hello',
                logprobs: [
                    { token: 'more', logprob: -1, bytes: null, top_logprobs: [] },
                    { token: 'Hel', logprob: -2, bytes: null, top_logprobs: [] },
                ],
            },
        ]);
        // A delta of a later turn is a chunk of its own.
        b.add({ type: 'delta', content: '!' });
        await turn();
        expect(sent.map((d) => d.content)).toEqual(['Hello', '!']);
    });

    it('never joins tool-call pieces, nor reasoning that follows content; flush() sends what is held at once', async () => {
        const sent: ChatDelta[] = [];
        const b = new DeltaBatch((d) => sent.push(d));
        const call = { type: 'delta' as const, toolCalls: [{ index: 0, id: 'c1', name: 'f', arguments: '{' }] };
        b.add({ type: 'delta', content: 'a' });
        b.add(call);
        b.add({ type: 'delta', toolCalls: [{ index: 0, arguments: '}' }] });
        b.add({ type: 'delta', content: 'b' });
        b.add({ type: 'delta', reasoning: 'r' });
        expect(sent.map((d) => d.content ?? d.reasoning ?? d.toolCalls?.[0].arguments)).toEqual(['a', '{', '}', 'b']);
        b.flush();
        expect(sent.map((d) => d.content ?? d.reasoning ?? d.toolCalls?.[0].arguments)).toEqual(['a', '{', '}', 'b', 'r']);
        // The caller's deltas are not changed by joining.
        expect(call.toolCalls).toEqual([{ index: 0, id: 'c1', name: 'f', arguments: '{' }]);
        await turn();
        expect(sent).toHaveLength(5);
    });
});
