import { IMAGE_TOKENS_BOUND, TOOLS_TEMPLATE_TOKENS, chatRequestSchema, describeIssues, promptTokenBound } from '../../protocol/paidRequest';

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
        functions: [{ name: 'f' }],
        function_call: { name: 'f' },
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

    it('carries penalties, logit_bias and response_format, and refuses their malformed values by name', () => {
        const honoured = {
            presence_penalty: 0.5,
            frequency_penalty: -1,
            logit_bias: { '50256': -100, '7': 2.5 },
            response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true } },
        };
        const r = chatRequestSchema.safeParse({ ...base, ...honoured });
        expect(r.success).toBe(true);
        expect(r.data).toMatchObject(honoured);
        expect(chatRequestSchema.safeParse({ ...base, response_format: { type: 'json_object' } }).success).toBe(true);
        expect(refusal({ presence_penalty: 3 })).toMatch(/^presence_penalty: /);
        expect(refusal({ logit_bias: { abc: 1 } })).toMatch(/^logit_bias\.abc: token ids are decimal integers/);
        expect(refusal({ logit_bias: { '1': 101 } })).toMatch(/^logit_bias\.1: /);
        expect(refusal({ logit_bias: Object.fromEntries(Array.from({ length: 301 }, (_, i) => [String(i), 1])) })).toMatch(/^logit_bias: at most 300 tokens/);
        expect(refusal({ response_format: { type: 'xml' } })).toBe('response_format.type: must be "json_object" or "json_schema"');
        expect(refusal({ response_format: { type: 'json_schema', json_schema: { name: 'a b' } } })).toMatch(/^response_format\.json_schema\.name: letters/);
        expect(refusal({ response_format: { type: 'json_object', schema: {} } })).toMatch(/^response_format\.schema: not supported/);
    });

    it('carries logprobs and top_logprobs, and refuses top_logprobs without logprobs or beyond 20', () => {
        const r = chatRequestSchema.safeParse({ ...base, logprobs: true, top_logprobs: 3 });
        expect(r.success).toBe(true);
        expect(r.data).toMatchObject({ logprobs: true, top_logprobs: 3 });
        expect(chatRequestSchema.safeParse({ ...base, logprobs: false, top_logprobs: 0 }).success).toBe(true);
        expect(refusal({ top_logprobs: 2 })).toBe('top_logprobs: needs logprobs: true');
        expect(refusal({ logprobs: true, top_logprobs: 21 })).toMatch(/^top_logprobs: /);
    });

    it('refuses n other than 1 by name (the gateway serves several choices as that many requests)', () => {
        expect(refusal({ n: 2 })).toBe('n: must be 1');
    });

    it('accepts the neutral values and null, which ask for nothing, and drops them', () => {
        const neutral = {
            response_format: { type: 'text' },
            store: false,
            metadata: {},
            modalities: ['text'],
            audio: null,
            function_call: null,
        };
        const r = chatRequestSchema.safeParse({ ...base, ...neutral });
        expect(r.success).toBe(true);
        expect(Object.keys(r.data!).sort()).toEqual(['messages', 'model']);
        expect(chatRequestSchema.safeParse({ ...base, tools: [], tool_choice: 'none', parallel_tool_calls: true }).success).toBe(true);
    });

    it('takes an answer sent back as history (refusal null, no tool calls), one that called tools, and what the tools returned', () => {
        const answer = { role: 'assistant', content: 'hello', refusal: null, annotations: [], tool_calls: [] };
        expect(chatRequestSchema.safeParse({ ...base, messages: [...base.messages, answer] }).success).toBe(true);
        const called = { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] };
        const result = { role: 'tool', content: '42', tool_call_id: 'c' };
        expect(chatRequestSchema.safeParse({ ...base, messages: [...base.messages, called, result] }).success).toBe(true);
        const empty = chatRequestSchema.safeParse({ ...base, messages: [...base.messages, { role: 'assistant', content: null }] });
        expect(describeIssues(empty.error!)).toBe('messages.1.content: an assistant message needs content or tool_calls');
        const orphan = chatRequestSchema.safeParse({ ...base, messages: [{ role: 'tool', content: '42' }] });
        expect(describeIssues(orphan.error!)).toMatch(/^messages\.0\.tool_call_id: /);
        const stranger = chatRequestSchema.safeParse({ ...base, messages: [{ role: 'robot', content: 'x' }] });
        expect(describeIssues(stranger.error!)).toMatch(/^messages\.0\.role: must be /);
    });

    it('carries tools, tool_choice and parallel_tool_calls, and refuses a choice no tool can meet', () => {
        const tools = [{ type: 'function', function: { name: 'get_weather', description: 'd', parameters: { type: 'object' }, strict: true } }];
        for (const tool_choice of ['none', 'auto', 'required', { type: 'function', function: { name: 'get_weather' } }]) {
            const r = chatRequestSchema.safeParse({ ...base, tools, tool_choice, parallel_tool_calls: false });
            expect(r.success).toBe(true);
            expect(r.data).toMatchObject({ tools, tool_choice, parallel_tool_calls: false });
        }
        // Offered tools count as prompt: their JSON, and the instructions a chat template adds for them.
        const messages = [{ role: 'user' as const, content: 'w?' }];
        expect(promptTokenBound({ messages, tools }) - promptTokenBound({ messages })).toBe(Buffer.byteLength(JSON.stringify(tools)) + 16 + TOOLS_TEMPLATE_TOKENS);
        expect(promptTokenBound({ messages, tools: [] })).toBe(promptTokenBound({ messages }) + Buffer.byteLength('[]') + 16);
        expect(refusal({ tool_choice: 'required' })).toBe('tool_choice: asks for a tool call, but no tools were sent');
        expect(refusal({ tools, tool_choice: { type: 'function', function: { name: 'other' } } })).toBe('tool_choice.function.name: names no tool of the request');
        expect(refusal({ tools: [...tools, ...tools] })).toBe('tools: two tools share a name');
        expect(refusal({ tools: [{ type: 'function', function: { name: 'bad name' } }] })).toMatch(/^tools\.0\.function\.name: letters/);
        expect(refusal({ tools: [{ type: 'code_interpreter' }] })).toMatch(/^tools\.0\.type: must be "function"/);
    });

    it('carries images in user messages (https and data URLs), each bounded as IMAGE_TOKENS_BOUND prompt tokens; refuses them elsewhere, and any other part or URL, by name', () => {
        const image = (url: string) => ({ type: 'image_url', image_url: { url, detail: 'low' } });
        const content = [{ type: 'text', text: 'What is this?' }, image('https://example.com/cat.png'), image('data:image/png;base64,iVBORw0KGgo=')];
        const r = chatRequestSchema.safeParse({ ...base, messages: [{ role: 'user', content }] });
        expect(r.success).toBe(true);
        expect(r.data!.messages[0].content).toEqual(content);
        const textOnly = promptTokenBound({ messages: [{ content: 'What is this?' }] });
        expect(promptTokenBound(r.data!)).toBe(textOnly + 2 * IMAGE_TOKENS_BOUND);
        const refused = (messages: unknown[]) => describeIssues(chatRequestSchema.safeParse({ ...base, messages }).error!);
        expect(refused([{ role: 'system', content: [image('https://example.com/a.png')] }])).toMatch(/^messages\.0\.content\.0\.type: must be "text"/);
        expect(refused([{ role: 'user', content: [image('http://example.com/a.png')] }])).toMatch(/^messages\.0\.content\.0\.image_url\.url: an https URL or a base64 data URL/);
        expect(refused([{ role: 'user', content: [image('data:text/html;base64,PGI+')] }])).toMatch(/^messages\.0\.content\.0\.image_url\.url: /);
        expect(refused([{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }])).toMatch(/^messages\.0\.content\.0\.type: must be "text" or "image_url"/);
    });

    it('refuses unknown fields inside stream_options', () => {
        expect(refusal({ stream: true, stream_options: { include_usage: true, include_obfuscation: true } })).toMatch(/^stream_options\.include_obfuscation: not supported/);
    });
});
