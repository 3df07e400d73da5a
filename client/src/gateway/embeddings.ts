import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import { embeddingsRequestSchema } from '../../../protocol/embeddings';
import { describeIssues } from '../../../protocol/paidRequest';
import type { CallResult } from '../client';
import { CocoonError } from '../cocoonError';
import { DispatchContext, dispatch, takeSelection } from './dispatch';

/**
 * `POST /v1/embeddings`: OpenAI's embeddings, paid like chat (prompt tokens
 * at the worker's prompt price) with a verified receipt; the answer is the
 * worker's list as it came (the receipt's response hash commits to it) with
 * `cost`, `receipt` and `worker`.
 */

export interface EmbeddingsDeps {
    context: (log: FastifyBaseLogger) => DispatchContext;
    fail: (reply: FastifyReply, status: number, code: string, message: string) => FastifyReply;
    extras: (r: CallResult) => Record<string, unknown>;
}

export function registerEmbeddingsRoute(app: FastifyInstance, deps: EmbeddingsDeps): void {
    app.post('/v1/embeddings', async (req, reply) => {
        const gone = new AbortController();
        reply.raw.on('close', () => {
            if (!reply.raw.writableFinished) gone.abort();
        });
        try {
            const { selection, rest } = takeSelection((req.body ?? {}) as Record<string, unknown>);
            const parsed = embeddingsRequestSchema.safeParse(rest);
            if (!parsed.success) throw new CocoonError(400, 'invalid_request', describeIssues(parsed.error));
            const r = await dispatch(deps.context(req.log), { kind: 'embeddings', request: parsed.data }, selection, undefined, gone.signal);
            const { receipt: _receipt, usage, ...list } = r.final;
            return reply.code(200).send({
                ...list,
                model: parsed.data.model,
                usage: { prompt_tokens: usage?.prompt_tokens ?? 0, total_tokens: usage?.total_tokens ?? usage?.prompt_tokens ?? 0 },
                ...deps.extras(r),
            });
        } catch (e) {
            if (gone.signal.aborted) {
                reply.hijack();
                reply.raw.destroy();
                return reply;
            }
            const err = e instanceof CocoonError ? e : new CocoonError(502, 'worker_failed', (e as Error).message);
            return deps.fail(reply, err.status, err.code, err.message);
        }
    });
}
