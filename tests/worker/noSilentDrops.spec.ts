import { chatRequestSchema, describeIssues } from '../../protocol/paidRequest';

/**
 * Every field of a chat request is honoured or refused by name: the worker
 * and the gateway share this schema, and a field dropped on the way would be
 * an answer that silently ignores what the app asked for (a tool, a JSON
 * schema, a penalty).
 */
describe('chat requests: no field is silently dropped', () => {
    const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    const refusal = (extra: Record<string, unknown>) => {
        const r = chatRequestSchema.safeParse({ ...base, ...extra });
        return r.success ? undefined : describeIssues(r.error);
    };

    const asking: Record<string, unknown> = {
        tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
        tool_choice: 'required',
        functions: [{ name: 'f' }],
        function_call: { name: 'f' },
        response_format: { type: 'json_object' },
        logprobs: true,
        top_logprobs: 2,
        presence_penalty: 0.5,
        frequency_penalty: -1,
        logit_bias: { '50256': -100 },
        store: true,
        metadata: { a: 'b' },
        modalities: ['text', 'audio'],
        audio: { voice: 'alloy', format: 'mp3' },
        prediction: { type: 'content', content: 'x' },
        reasoning_effort: 'high',
        service_tier: 'flex',
        web_search_options: {},
        something_new: 1,
    };
    for (const [field, value] of Object.entries(asking)) {
        it(`refuses ${field} with a value that asks for something, naming the field`, () => {
            expect(refusal({ [field]: value })).toMatch(new RegExp(`^${field}: not supported`));
        });
    }

    it('refuses n other than 1 by name', () => {
        expect(refusal({ n: 2 })).toBe('n: must be 1');
    });

    it('accepts the neutral values and null, which ask for nothing, and drops them', () => {
        const neutral = {
            tools: [],
            tool_choice: 'none',
            parallel_tool_calls: true,
            response_format: { type: 'text' },
            logprobs: false,
            top_logprobs: 0,
            presence_penalty: 0,
            frequency_penalty: 0,
            logit_bias: {},
            store: false,
            metadata: {},
            modalities: ['text'],
            audio: null,
            function_call: null,
        };
        const r = chatRequestSchema.safeParse({ ...base, ...neutral });
        expect(r.success).toBe(true);
        expect(Object.keys(r.data!).sort()).toEqual(['messages', 'model']);
    });

    it('takes an answer sent back as history (refusal null, no tool calls) and refuses one carrying tool calls', () => {
        const answer = { role: 'assistant', content: 'hello', refusal: null, annotations: [], tool_calls: [] };
        expect(chatRequestSchema.safeParse({ ...base, messages: [...base.messages, answer] }).success).toBe(true);
        const called = { ...answer, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] };
        const r = chatRequestSchema.safeParse({ ...base, messages: [...base.messages, called] });
        expect(r.success).toBe(false);
        expect(describeIssues(r.error!)).toMatch(/^messages\.1\.tool_calls: not supported/);
    });

    it('refuses content parts other than text (an image is not described as text)', () => {
        const r = chatRequestSchema.safeParse({ ...base, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] });
        expect(r.success).toBe(false);
        expect(describeIssues(r.error!)).toMatch(/^messages\.0\.content/);
    });

    it('refuses unknown fields inside stream_options', () => {
        expect(refusal({ stream: true, stream_options: { include_usage: true, include_obfuscation: true } })).toMatch(/^stream_options\.include_obfuscation: not supported/);
    });
});
