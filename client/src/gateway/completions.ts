import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import { corkPerTurn } from '../../../helpers/corkPerTurn';
import { completionsRequestSchema, promptOf } from '../../../protocol/completions';
import { openAiErrorBody } from '../../../protocol/openaiError';
import { describeIssues } from '../../../protocol/paidRequest';
import type { CallResult } from '../client';
import { CocoonError } from '../cocoonError';
import { DispatchContext, dispatch, takeSelection } from './dispatch';

/**
 * `POST /v1/completions` (OpenAI's legacy text completions): the prompt
 * continued as it is, paid like chat with a verified receipt, whole or
 * streamed. `echo` is served here (the prompt put before the completion in
 * the answer): the worker sends back only what it generated, which is what
 * its receipt commits to.
 */

export interface CompletionsDeps {
    context: (log: FastifyBaseLogger) => DispatchContext;
    fail: (reply: FastifyReply, status: number, code: string, message: string) => FastifyReply;
    extras: (r: CallResult) => Record<string, unknown>;
    usageOf: (final: unknown) => unknown;
}

export function registerCompletionsRoute(app: FastifyInstance, deps: CompletionsDeps): void {
    app.post('/v1/completions', async (req, reply) => {
        let started = false;
        const raw = reply.raw;
        const cork = corkPerTurn(raw);
        const write = (obj: unknown) => {
            if (raw.destroyed) return;
            cork();
            raw.write(`data: ${JSON.stringify(obj)}\n\n`);
        };
        const gone = new AbortController();
        raw.on('close', () => {
            if (!raw.writableFinished) gone.abort();
        });
        try {
            const { selection, rest } = takeSelection((req.body ?? {}) as Record<string, unknown>);
            const { echo, ...asked } = rest;
            if (echo !== undefined && echo !== null && typeof echo !== 'boolean') throw new CocoonError(400, 'invalid_request', 'echo: expected boolean');
            const parsed = completionsRequestSchema.safeParse(asked);
            if (!parsed.success) throw new CocoonError(400, 'invalid_request', describeIssues(parsed.error));
            const request = parsed.data;
            const echoed = echo === true ? promptOf(request) : '';
            const named = (chunk: any) => ({ ...chunk, model: request.model });
            const start = (first: any) => {
                if (started) return;
                started = true;
                reply.hijack();
                raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
                if (echoed) write(named({ ...first, choices: [{ text: echoed, index: 0, logprobs: null, finish_reason: null }] }));
            };
            const onChunk = request.stream
                ? (chunk: any) => {
                      start(chunk);
                      write(named(chunk));
                  }
                : undefined;
            const r = await dispatch(deps.context(req.log), { kind: 'completions', request }, selection, onChunk, gone.signal);
            const { receipt: _receipt, ...last } = r.final;
            const answer = { ...named(last), usage: deps.usageOf(r.final), ...deps.extras(r) };
            if (!request.stream) {
                answer.choices = (last.choices ?? []).map((c: any) => ({ ...c, text: echoed + (c.text ?? '') }));
                return reply.code(200).send(answer);
            }
            start(last);
            write(answer);
            cork.flush();
            raw.end('data: [DONE]\n\n');
            return reply;
        } catch (e) {
            if (gone.signal.aborted) {
                if (!started) reply.hijack();
                raw.destroy();
                return reply;
            }
            const err = e instanceof CocoonError ? e : new CocoonError(502, 'worker_failed', (e as Error).message);
            if (!started) return deps.fail(reply, err.status, err.code, err.message);
            write(openAiErrorBody(502, err.code, err.message));
            cork.flush();
            raw.end();
            return reply;
        }
    });
}
