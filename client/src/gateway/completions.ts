import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import { corkPerTurn } from '../../../helpers/corkPerTurn';
import { CompletionsRequest, completionsRequestSchema, promptOf } from '../../../protocol/completions';
import { openAiErrorBody } from '../../../protocol/openaiError';
import { describeIssues } from '../../../protocol/paidRequest';
import type { CallResult } from '../client';
import { CocoonError } from '../cocoonError';
import { MAX_CHOICES, allServed, paidFor, sumUsage, takeChoiceCount, usageOfFinal } from './choices';
import { DispatchContext, dispatch, takeSelection } from './dispatch';

/**
 * `POST /v1/completions` (OpenAI's legacy text completions): the prompt
 * continued as it is, paid like chat with a verified receipt, whole or
 * streamed; several prompts and `n` choices as that many paid requests. `echo` is served here (the prompt put before the completion in
 * the answer): the worker sends back only what it generated, which is what
 * its receipt commits to.
 */

export interface CompletionsDeps {
    context: (log: FastifyBaseLogger) => DispatchContext;
    fail: (reply: FastifyReply, status: number, code: string, message: string) => FastifyReply;
    extras: (r: CallResult) => Record<string, unknown>;
}

/**
 * The paid requests an app's request asks for: one per prompt (a prompt may
 * be a list of strings) and choice (`n`), in OpenAI's order of choices
 * (prompt by prompt, its choices together); with a seed, choice j of a
 * prompt samples with seed + j, so they differ. Each is checked whole.
 */
function requestsOf(asked: Record<string, unknown>, count: number): CompletionsRequest[] {
    const prompts = Array.isArray(asked.prompt) && asked.prompt.length !== 1 && asked.prompt.every((p) => typeof p === 'string') ? (asked.prompt as string[]) : [asked.prompt];
    if (prompts.length === 0) throw new CocoonError(400, 'invalid_request', 'prompt: must hold at least one prompt');
    if (prompts.length * count > MAX_CHOICES)
        throw new CocoonError(400, 'invalid_request', `prompt: ${prompts.length} prompts times n ${count} is more than ${MAX_CHOICES} completions (each is a paid request of its own)`);
    return prompts.flatMap((prompt) =>
        Array.from({ length: count }, (_, j) => {
            const parsed = completionsRequestSchema.safeParse({ ...asked, prompt });
            if (!parsed.success) throw new CocoonError(400, 'invalid_request', describeIssues(parsed.error));
            const r = parsed.data;
            return j > 0 && r.seed !== undefined && r.seed !== null ? { ...r, seed: r.seed + j } : r;
        }),
    );
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
            const { echo, ...body } = rest;
            if (echo !== undefined && echo !== null && typeof echo !== 'boolean') throw new CocoonError(400, 'invalid_request', 'echo: expected boolean');
            const { count, rest: asked } = takeChoiceCount(body);
            const requests = requestsOf(asked, count);
            const first = requests[0];
            const echoed = (k: number) => (echo === true ? promptOf(requests[k]) : '');
            const named = (chunk: any) => ({ ...chunk, model: first.model });
            const opened = new Set<number>();
            // The stream's head, and choice k's echoed prompt, before its first chunk.
            const open = (k: number, chunk: any) => {
                if (!started) {
                    started = true;
                    reply.hijack();
                    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
                }
                if (opened.has(k)) return;
                opened.add(k);
                if (echoed(k)) write(named({ ...chunk, choices: [{ text: echoed(k), index: k, logprobs: null, finish_reason: null }] }));
            };
            // Each paid request's chunks, as choice k of the app's answer.
            const relay = (k: number) => (chunk: any) => {
                open(k, chunk);
                write(named({ ...chunk, choices: (chunk.choices ?? []).map((c: any) => ({ ...c, index: k })) }));
            };
            const settled = await Promise.allSettled(
                requests.map((request, k) => dispatch(deps.context(req.log), { kind: 'completions', request }, selection, first.stream ? relay(k) : undefined, gone.signal)),
            );
            const results = allServed(settled, requests.length);
            const finals = results.map((r) => {
                const { receipt: _receipt, usage: _usage, ...last } = r.final;
                return last;
            });
            const choices = (k: number) => (finals[k].choices ?? []).map((c: any) => ({ ...c, index: k }));
            const paid = results.length === 1 ? deps.extras(results[0]) : paidFor(results);
            const usage = sumUsage(results.map((r) => usageOfFinal(r.final)));
            if (!first.stream) {
                const all = finals.flatMap((_, k) => choices(k).map((c: any) => ({ ...c, text: echoed(k) + (c.text ?? '') })));
                return reply.code(200).send({ ...named(finals[0]), choices: all, usage, ...paid });
            }
            // A request that delivered nothing before its last chunk still gets its echo (its finish comes next).
            finals.forEach((last, k) => open(k, last));
            if (results.length === 1) write({ ...named(finals[0]), usage, ...paid });
            else {
                // Each choice's finish, then the usage and payment of them all, as OpenAI ends a stream of several choices.
                finals.forEach((last, k) => write(named({ ...last, choices: choices(k) })));
                write({ ...named(finals[0]), choices: [], usage, ...paid });
            }
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
