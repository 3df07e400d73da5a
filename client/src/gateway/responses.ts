import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import { corkPerTurn } from '../../../helpers/corkPerTurn';
import { ChatMessageInput, chatRequestSchema, describeIssues } from '../../../protocol/paidRequest';
import type { CallResult } from '../client';
import { CocoonError } from '../cocoonError';
import { DispatchContext, Selection, dispatch, takeSelection } from './dispatch';
import { ResponseStore } from './responseStore';
import { ResponseEvents, completedResponse, newId, responseShell } from './responsesOutput';
import { ResponsesRequest, chatMessagesOf, chatRequestOf, responsesRequestSchema } from './responsesRequest';

/**
 * `POST /v1/responses` (and `GET`/`DELETE /v1/responses/{id}`): the API
 * current OpenAI SDKs and agent frameworks call by default, served as one
 * paid chat completion (./responsesRequest.ts in, ./responsesOutput.ts out).
 * The conversation behind `previous_response_id` is kept by this gateway
 * (./responseStore.ts), never by a worker.
 */

export interface ResponsesDeps {
    store: ResponseStore;
    context: (log: FastifyBaseLogger) => DispatchContext;
    fail: (reply: FastifyReply, status: number, code: string, message: string) => FastifyReply;
    extras: (r: CallResult) => Record<string, unknown>;
}

/** The assistant turn a chat answer adds to the conversation. */
function assistantTurn(message: { content?: string | null; tool_calls?: any[] | null }): ChatMessageInput | undefined {
    const calls = (message.tool_calls ?? []).map((c) => ({
        id: String(c.id),
        type: 'function' as const,
        function: { name: String(c.function?.name), arguments: String(c.function?.arguments ?? '') },
    }));
    if (!message.content && calls.length === 0) return undefined;
    return { role: 'assistant', content: message.content || null, ...(calls.length > 0 ? { tool_calls: calls } : {}) };
}

export function registerResponsesRoutes(app: FastifyInstance, deps: ResponsesDeps): void {
    const { store, fail } = deps;

    app.post('/v1/responses', async (req, reply) => {
        let selection: Selection;
        let r: ResponsesRequest;
        let history: ChatMessageInput[] = [];
        try {
            const taken = takeSelection((req.body ?? {}) as Record<string, unknown>);
            selection = taken.selection;
            const parsed = responsesRequestSchema.safeParse(taken.rest);
            if (!parsed.success) throw new CocoonError(400, 'invalid_request', describeIssues(parsed.error));
            r = parsed.data;
            if (r.previous_response_id) {
                const previous = store.get(r.previous_response_id);
                if (!previous) throw new CocoonError(404, 'previous_response_not_found', 'previous_response_id: no response of that id is stored by this gateway');
                history = previous.history;
            }
        } catch (e) {
            const err = e as CocoonError;
            return fail(reply, err.status, err.code, err.message);
        }
        const messages = chatMessagesOf(r.input, history);
        const stream = r.stream === true;
        const chat = chatRequestSchema.safeParse(chatRequestOf(r, messages, stream));
        if (!chat.success) return fail(reply, 400, 'invalid_request', `as a chat completion: ${describeIssues(chat.error)}`);

        const id = newId('resp');
        const shell = responseShell(id, Math.floor(Date.now() / 1000), r, r.previous_response_id ?? null);
        const keep = (response: Record<string, unknown>, message: Parameters<typeof assistantTurn>[0]) => {
            if (r.store === false) return;
            const turn = assistantTurn(message);
            try {
                store.put(id, { response, history: turn ? [...messages, turn] : messages });
            } catch (e) {
                // The answer is paid for and delivered; only a later previous_response_id to it will fail.
                req.log.error({ err: e, id }, 'could not store the response');
            }
        };

        const raw = reply.raw;
        const gone = new AbortController();
        raw.on('close', () => {
            if (!raw.writableFinished) gone.abort();
        });
        if (!stream) {
            try {
                const result = await dispatch(deps.context(req.log), { kind: 'chat', request: chat.data }, selection, undefined, gone.signal);
                const response = { ...completedResponse(shell, result.final), ...deps.extras(result) };
                keep(response, result.final?.choices?.[0]?.message ?? {});
                return reply.code(200).send(response);
            } catch (e) {
                if (gone.signal.aborted) {
                    reply.hijack();
                    raw.destroy();
                    return reply;
                }
                const err = e instanceof CocoonError ? e : new CocoonError(502, 'worker_failed', (e as Error).message);
                return fail(reply, err.status, err.code, err.message);
            }
        }

        let started = false;
        const cork = corkPerTurn(raw);
        const events = new ResponseEvents(
            shell,
            (event) => {
                if (raw.destroyed) return;
                cork();
                raw.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
            },
            r.stream_options?.include_obfuscation !== false,
        );
        const start = () => {
            if (started) return;
            started = true;
            reply.hijack();
            raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
            events.start();
        };
        try {
            const result = await dispatch(
                deps.context(req.log),
                { kind: 'chat', request: chat.data },
                selection,
                (chunk) => {
                    start();
                    events.chunk(chunk);
                },
                gone.signal,
            );
            start();
            const response = events.finish(result.final, deps.extras(result));
            const text = response.output.filter((i) => i.type === 'message').map((i) => i.content[0].text as string);
            const calls = response.output.filter((i) => i.type === 'function_call').map((i) => ({ id: i.call_id, function: { name: i.name, arguments: i.arguments } }));
            keep(response, { content: text.join('') || null, tool_calls: calls });
            cork.flush();
            raw.end();
            return reply;
        } catch (e) {
            if (gone.signal.aborted) {
                if (!started) reply.hijack();
                raw.destroy();
                return reply;
            }
            const err = e instanceof CocoonError ? e : new CocoonError(502, 'worker_failed', (e as Error).message);
            if (!started) return fail(reply, err.status, err.code, err.message);
            events.fail(err.code, err.message);
            cork.flush();
            raw.end();
            return reply;
        }
    });

    app.get('/v1/responses/:id', async (req, reply) => {
        const { id } = req.params as { id: string };
        const stored = store.get(id);
        if (!stored) return fail(reply, 404, 'not_found', 'no response of that id is stored by this gateway');
        return stored.response;
    });

    app.delete('/v1/responses/:id', async (req, reply) => {
        const { id } = req.params as { id: string };
        if (!store.delete(id)) return fail(reply, 404, 'not_found', 'no response of that id is stored by this gateway');
        return { id, object: 'response.deleted', deleted: true };
    });
}
