import type { FastifyInstance } from 'fastify';
import type { InferenceBackend } from '../../inference/types';
import type { WorkerMetrics } from '../../metrics';
import { Refusal } from '../../refusal';
import type { ChatTraffic } from '../chatTraffic';
import type { ModelCatalog } from '../modelCatalog';
import { hex256 } from '../../../../helpers/bytes';

/** The unencrypted endpoints anyone may read: models, attestation, health, metrics. */

export interface PublicRouteDeps {
    backend: InferenceBackend;
    catalog: ModelCatalog;
    traffic: ChatTraffic;
    metrics: WorkerMetrics;
    /** The attestation document (null until attested). */
    attestation: () => unknown | null;
    /** Why the store cannot take writes now, if it cannot. */
    storageProblem: () => string | undefined;
    /** Extra facts for /health. */
    healthExtra?: () => Record<string, unknown>;
    /** The completion tokens a request may ask for, and what it gets when it names none. */
    limits: { defaultMaxTokens: number; maxTokens: number };
}

export function registerPublicRoutes(app: FastifyInstance, deps: PublicRouteDeps): void {
    app.get('/v1/models', async () => {
        let list;
        try {
            list = await deps.catalog.list();
        } catch (e) {
            throw new Refusal('backend_unavailable', `backend: ${(e as Error).message}`);
        }
        return {
            object: 'list',
            data: list.map((m) => ({
                id: m.id,
                object: 'model',
                created: 0,
                owned_by: m.ownedBy,
                aliases: m.aliases,
                model_id: hex256(deps.catalog.chainId(m)),
                context_length: m.contextLength ?? null,
                capabilities: deps.backend.capabilities,
            })),
        };
    });

    app.get('/attestation', async () => {
        const doc = deps.attestation();
        if (!doc) throw new Refusal('not_attested', 'no attestation yet');
        // Beside the evidence, not part of it: how admission bounds a request without max_tokens, so a client can
        // reserve and top up for the cost the worker will count instead of learning it from a refusal.
        return { ...(doc as object), limits: { defaultMaxTokens: deps.limits.defaultMaxTokens, maxTokens: deps.limits.maxTokens } };
    });

    app.get('/health', async (_req, reply) => {
        const h = await deps.backend.health();
        const storage = deps.storageProblem();
        const { draining, active } = deps.traffic;
        const body = { ok: h.ok && !draining && !storage, draining, backend: h, active, ...(storage ? { storage } : {}), ...(deps.healthExtra?.() ?? {}) };
        return reply.code(body.ok ? 200 : 503).send(body);
    });

    app.get('/metrics', async (_req, reply) => {
        reply.type(deps.metrics.registry.contentType);
        return deps.metrics.registry.metrics();
    });
}
