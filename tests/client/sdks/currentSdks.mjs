// The SDKs apps use today, against a Cocoon gateway: the official openai
// client at its current major (7) and the Vercel AI SDK with its
// OpenAI-compatible provider. Run by tests/client/currentSdks.spec.ts with
// Node.js 22 or later (both require it): prints one JSON object of what each
// call returned, for the test to judge.
import OpenAI from 'openai-v7';
import { generateText, streamText, embed, tool, stepCountIs } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { z } from 'zod';

const [baseURL, model] = process.argv.slice(2);
const out = {};
const openai = new OpenAI({ baseURL, apiKey: 'none', maxRetries: 0 });

const chat = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 16 });
out.chat = { text: chat.choices[0].message.content, cost: chat.cost, receipt: chat.receipt };

let streamed = '';
let last;
for await (const chunk of await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 16, stream: true })) {
    streamed += chunk.choices[0]?.delta?.content ?? '';
    last = chunk;
}
out.chatStream = { text: streamed, cost: last.cost, receipt: last.receipt };

const weather = { type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false };
const asked = await openai.responses.create({ model, input: 'Weather in Paris?', tools: [weather], max_output_tokens: 16 });
const calls = asked.output.filter((i) => i.type === 'function_call');
const answered = await openai.responses.create({
    model,
    previous_response_id: asked.id,
    input: calls.map((c) => ({ type: 'function_call_output', call_id: c.call_id, output: 'sunny' })),
    max_output_tokens: 16,
});
out.responses = { calls: calls.map((c) => ({ name: c.name, arguments: c.arguments })), text: answered.output_text, receipt: answered.receipt };

const events = [];
let final;
for await (const event of await openai.responses.create({ model, input: 'Weather in Paris?', tools: [weather], max_output_tokens: 16, stream: true })) {
    events.push(event.type);
    if (event.type === 'response.completed') final = event.response;
}
out.responsesStream = { first: events[0], last: events.at(-1), calls: final.output.filter((i) => i.type === 'function_call').map((c) => c.name), receipt: final.receipt };

const vectors = await openai.embeddings.create({ model, input: ['one', 'two'] });
out.embeddings = { count: vectors.data.length, dims: vectors.data[0].embedding.length, receipt: vectors.receipt };

const provider = createOpenAICompatible({ name: 'cocoon', baseURL, apiKey: 'none' });
const text = await generateText({ model: provider.chatModel(model), prompt: 'Say hello.', maxOutputTokens: 16 });
out.aiText = { text: text.text, usage: text.usage.inputTokens };

const s = streamText({ model: provider.chatModel(model), prompt: 'Say hello.', maxOutputTokens: 16 });
let aiStreamed = '';
for await (const piece of s.textStream) aiStreamed += piece;
out.aiStream = { text: aiStreamed };

const called = [];
const withTools = await generateText({
    model: provider.chatModel(model),
    prompt: 'Weather in Paris?',
    maxOutputTokens: 16,
    tools: {
        get_weather: tool({ description: 'the weather in a city', inputSchema: z.object({ city: z.string() }), execute: async ({ city }) => (called.push(city), 'sunny') }),
        get_time: tool({ description: 'the time', inputSchema: z.object({}), execute: async () => (called.push('time'), 'noon') }),
    },
    stopWhen: stepCountIs(3),
});
out.aiTools = { called, steps: withTools.steps.length, text: withTools.text };

const e = await embed({ model: provider.embeddingModel(model), value: 'one' });
out.aiEmbed = { dims: e.embedding.length };

console.log(JSON.stringify(out));
