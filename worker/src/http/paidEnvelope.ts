import type { FastifyInstance, FastifyReply } from 'fastify';
import type { z } from 'zod';
import { ENC_BYTES, ENVELOPE_MEDIA_TYPE, EnvelopeError, OpenedRequest, REQUEST_HEADER_BYTES, X25519KeyPair, openRequest } from '../../../helpers/hpke';
import { describeIssues } from '../../../protocol/paidRequest';
import type { ModelInfo } from '../inference/types';
import { Refusal } from '../refusal';
import type { ReplayGuard } from '../replay';
import type { WorkerMetrics } from '../metrics';
import type { ChatTraffic } from './chatTraffic';
import { sendRefusal } from './errors';
import type { ModelCatalog } from './modelCatalog';

/**
 * What every paid route does first: open the HPKE envelope with the worker's
 * key, refuse a replay, and validate the plaintext against the route's
 * request schema. One ReplayGuard serves every route, so an envelope sent
 * again to another route is a replay too.
 */
export async function openPaidEnvelope<S extends z.ZodTypeAny>(body: Buffer, key: X25519KeyPair, replays: ReplayGuard, schema: S): Promise<{ opened: OpenedRequest; paid: z.infer<S> }> {
    let opened;
    try {
        opened = await openRequest(body, key);
    } catch (e) {
        if (e instanceof EnvelopeError && e.code === 'wrong-key') throw new Refusal('wrong_encryption_key', 'the request is sealed to another encryption key');
        throw new Refusal('bad_envelope', e instanceof EnvelopeError ? e.message : 'malformed envelope');
    }
    // Only an envelope that opened counts (junk must not fill the memory); once
    // opened it is spent, served or refused, so a captured copy is never served later.
    if (!replays.firstSeen(body.subarray(REQUEST_HEADER_BYTES, REQUEST_HEADER_BYTES + ENC_BYTES)))
        throw new Refusal('replayed_request', 'this sealed request was already received; seal every request anew');
    let json: unknown;
    try {
        json = JSON.parse(opened.plaintext.toString('utf8'));
    } catch {
        throw new Refusal('invalid_request', 'the request is not valid JSON');
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new Refusal('invalid_request', describeIssues(parsed.error));
    return { opened, paid: parsed.data };
}

/**
 * A paid route: refused at once while the worker drains, when it is at
 * capacity or when the body is not an envelope; otherwise counted as active
 * while `serve` runs, and a Refusal it throws is answered before the request
 * stops counting as active.
 */
export function registerPaidRoute(
    app: FastifyInstance,
    path: string,
    deps: { traffic: ChatTraffic; metrics: WorkerMetrics; limits: { maxConcurrent: number } },
    serve: (body: Buffer, reply: FastifyReply, t0: number) => Promise<FastifyReply>,
): void {
    const { traffic, metrics } = deps;
    app.post(path, async (req, reply) => {
        const t0 = performance.now();
        if (traffic.draining) return sendRefusal(reply, metrics, new Refusal('shutting_down', 'the worker is shutting down', { retryAfter: 5 }));
        if (traffic.active >= deps.limits.maxConcurrent) return sendRefusal(reply, metrics, new Refusal('over_capacity', 'over capacity', { retryAfter: 1 }));
        if (!Buffer.isBuffer(req.body)) return sendRefusal(reply, metrics, new Refusal('unsupported_media_type', `send an HPKE envelope as ${ENVELOPE_MEDIA_TYPE}`));
        traffic.enter();
        metrics.active.inc();
        try {
            return await serve(req.body, reply, t0);
        } catch (e) {
            if (e instanceof Refusal) return sendRefusal(reply, metrics, e);
            throw e;
        } finally {
            metrics.active.dec();
            traffic.leave();
        }
    });
}

/** The served model a request names (its id or an alias). */
export async function findModel(catalog: ModelCatalog, name: string): Promise<ModelInfo> {
    let list: ModelInfo[];
    try {
        list = await catalog.list();
    } catch (e) {
        throw new Refusal('backend_unavailable', `backend: ${(e as Error).message}`);
    }
    const model = list.find((m) => m.id === name || m.aliases.includes(name));
    if (!model) throw new Refusal('model_not_found', 'this worker does not serve that model');
    return model;
}
