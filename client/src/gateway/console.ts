import { Address, toNano } from '@ton/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { perMinute } from '../../../helpers/perMinute';
import { registerWebPage } from '../../../helpers/webPages';
import { ExtendedWorkerStake, STATUS_NAMES } from '../../../wrappers/WorkerStake';
import { hex256 } from '../../../helpers/bytes';
import type { CocoonClient } from '../client';
import { CocoonError } from '../cocoonError';
import type { WorkerInfo } from '../discovery';
import type { ModelEntries } from './models';

/**
 * The gateway console (`/`): the network this gateway sees, its channels
 * (with top-up and close, through the SDK), what it spent and how each
 * worker served it, its last requests with their verified receipts, and a
 * playground that calls the gateway's own API. The page is public (it holds
 * no data); everything it shows comes from /console/api/, behind the same
 * API keys as /v1. Actions that move money take only a JSON body from this
 * origin, so another site cannot make a browser post them.
 */

export interface ConsoleDeps {
    client: CocoonClient;
    models: ModelEntries;
    /** The devnet explorer's address when the gateway runs on a devnet (accounts link to it). */
    explorer?: string;
    fail: (reply: FastifyReply, status: number, code: string, message: string) => FastifyReply;
}

const SPEND_WINDOW_S = 24 * 3600;
const RECENT_REQUESTS = 50;

const topUpBody = z.object({ amount: z.string().regex(/^\d+(\.\d{1,9})?$/, 'must be a TON amount such as "1.5"') }).strict();

interface WorkerRow {
    workerStake: string;
    model: string;
    owner: string;
    endpoint: string;
    imageHash: string;
    attestation: { verified: boolean; expiresAt: number | null; problem: string | null };
    prices: Record<string, string>;
    stake: string | null;
    status: string | null;
    slashes: string | null;
    slashedTotal: string | null;
    measured: { ok: number; failed: number; successRate: number | null; latencyMs: number | null; ttftMs: number | null };
}

/**
 * Registers the console; returns whether a request's matched route serves
 * the console's page or its assets (served without an API key): judged by
 * the route, never the raw URL.
 */
export function registerConsole(app: FastifyInstance, deps: ConsoleDeps): (method: string, route: string | undefined) => boolean {
    const { client } = deps;
    const store = client.o.store;
    let network: { at: number; data: Promise<{ models: unknown[]; workers: WorkerRow[] }> } | undefined;

    function measured(workerStake: string) {
        const s = client.stats.get(workerStake);
        if (!s) return { ok: 0, failed: 0, successRate: null, latencyMs: null, ttftMs: null };
        return {
            ok: s.ok,
            failed: s.failed,
            successRate: s.ok + s.failed > 0 ? s.ok / (s.ok + s.failed) : null,
            latencyMs: s.latencyMs > 0 ? Math.round(s.latencyMs) : null,
            ttftMs: s.ttftMs ? Math.round(s.ttftMs) : null,
        };
    }

    /** A worker as the chain and this client know it: verified by discovery, or why not. */
    async function workerRow(address: string, model: string, info: WorkerInfo | undefined, problem: string | null): Promise<WorkerRow> {
        let state;
        try {
            state = await client.o.opener.open(ExtendedWorkerStake.fromAddress(Address.parse(address))).getState();
        } catch {
            state = undefined;
        }
        const att = state?.attestation;
        const prices = info?.prices ?? state?.listing?.prices;
        return {
            workerStake: address,
            model,
            owner: state?.owner.toString() ?? '',
            endpoint: info?.endpoint ?? state?.listing?.endpoint ?? '',
            imageHash: att ? hex256(att.imageHash) : '',
            attestation: { verified: info !== undefined, expiresAt: att ? Number(att.expiresAt) : null, problem },
            prices: prices ? { prompt: prices.prompt.toString(), cached: prices.cached.toString(), completion: prices.completion.toString(), reasoning: prices.reasoning.toString() } : {},
            stake: state?.stake.toString() ?? null,
            status: state ? (STATUS_NAMES[Number(state.status)] ?? String(state.status)) : null,
            slashes: state?.slashes.toString() ?? null,
            slashedTotal: state?.slashedTotal.toString() ?? null,
            measured: measured(address),
        };
    }

    async function readNetwork() {
        const models = await deps.models();
        let names: string[];
        try {
            names = (await client.discovery.allowedModels()).map((m) => m.name);
        } catch {
            names = (models as Array<{ id: string }>).map((m) => m.id);
        }
        const workers: WorkerRow[] = [];
        for (const name of names) {
            const found = await client.discovery.workers(name).catch(() => ({ workers: [] as WorkerInfo[], rejected: [] }));
            for (const w of found.workers) {
                const excluded = client.excluded.get(w.workerStake.toString());
                workers.push(await workerRow(w.workerStake.toString(), name, excluded ? undefined : w, excluded ? `excluded by this gateway: ${excluded}` : null));
            }
            for (const r of found.rejected) workers.push(await workerRow(r.workerStake, name, undefined, r.reason));
        }
        return { models, workers };
    }

    app.get('/console/api/network', async () => {
        // Read from the chain at most every 10 s, whoever asks; this client's own measures are always current.
        if (!network || Date.now() - network.at > 10_000) {
            network = { at: Date.now(), data: readNetwork() };
            network.data.catch(() => (network = undefined));
        }
        const data = await network.data;
        return { explorer: deps.explorer ?? null, ...data, workers: data.workers.map((w) => ({ ...w, measured: measured(w.workerStake) })) };
    });

    app.get('/console/api/channels', async () => {
        const counts = store.receiptCounts();
        return {
            explorer: deps.explorer ?? null,
            channels: store
                .channels()
                .reverse()
                .map((c) => ({
                    address: c.address,
                    workerStake: c.workerStake,
                    state: c.state,
                    openedAt: c.openedAt,
                    deposit: c.deposit.toString(),
                    paid: c.vouched.toString(),
                    balance: (c.deposit - c.vouched).toString(),
                    receipts: counts.get(c.address) ?? 0,
                })),
        };
    });

    // Receipts name the model as the worker knows it (a GGUF hash, say): shown by its Registry name.
    let names: { at: number; map: Promise<Map<string, string>> } | undefined;
    async function modelName(wire: string): Promise<string> {
        if (!names || Date.now() - names.at > 60_000) {
            names = { at: Date.now(), map: client.discovery.allowedModels().then((list) => new Map(list.map((m) => [hex256(m.id), m.name]))) };
            names.map.catch(() => (names = undefined));
        }
        const map = await names.map.catch(() => new Map<string, string>());
        return map.get(wire.toLowerCase()) ?? wire;
    }

    app.get('/console/api/activity', async () => {
        const now = Math.floor(Date.now() / 1000);
        // Spend per minute over the last day: one point for each minute that had any.
        const spend = perMinute(store.spendSince(now - SPEND_WINDOW_S).map((r) => ({ at: r.at, amount: r.cost })));
        return {
            explorer: deps.explorer ?? null,
            spend: spend.map((m) => ({ at: m.at, cost: m.amount.toString(), requests: m.count })),
            requests: await Promise.all(
                store.recentReceipts(RECENT_REQUESTS).map(async (r) => ({
                    at: r.receivedAt,
                    requestId: r.requestId,
                    model: await modelName(r.model),
                    channel: r.channel,
                    workerStake: r.workerStake,
                    cost: r.cost.toString(),
                    cumulative: r.cumulative.toString(),
                    receipt: r.boc,
                    verified: true,
                })),
            ),
            refused: store.recentBadReceipts(RECENT_REQUESTS).map((b) => ({ at: b.at, channel: b.channel, workerStake: b.workerStake, reason: b.reason, verified: false })),
        };
    });

    /** Actions: a JSON body, from this origin only. */
    function action(req: FastifyRequest, reply: FastifyReply): boolean {
        const origin = req.headers.origin;
        if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
            deps.fail(reply, 415, 'unsupported_media_type', 'content-type: console actions take a JSON body');
            return false;
        }
        if (origin && origin !== `http://${req.headers.host}` && origin !== `https://${req.headers.host}`) {
            deps.fail(reply, 403, 'forbidden_origin', 'origin: console actions are taken only from the console itself');
            return false;
        }
        return true;
    }

    function channelOf(req: FastifyRequest) {
        const raw = (req.params as { address: string }).address;
        let address: string;
        try {
            address = Address.parse(raw).toString();
        } catch {
            throw new CocoonError(400, 'invalid_channel', `address: not a TON address: ${raw}`);
        }
        const row = store.channel(address);
        if (!row) throw new CocoonError(404, 'unknown_channel', `address: ${address} is not a channel of this gateway`);
        return row;
    }

    const answer = (reply: FastifyReply, e: unknown) => {
        const err = e instanceof CocoonError ? e : new CocoonError(502, 'chain_failed', (e as Error).message);
        return deps.fail(reply, err.status, err.code, err.message);
    };

    app.post('/console/api/channels/:address/close', async (req, reply) => {
        if (!action(req, reply)) return reply;
        try {
            const row = channelOf(req);
            if (row.state === 'closed') throw new CocoonError(409, 'channel_closed', 'address: the channel is already closed');
            const r = await client.closeChannel(row.address);
            return { mode: r.mode, paid: r.paid.toString(), refunded: r.refunded.toString(), closeDeadline: r.closeDeadline ?? null, reason: r.reason ?? null };
        } catch (e) {
            return answer(reply, e);
        }
    });

    app.post('/console/api/channels/:address/top-up', async (req, reply) => {
        if (!action(req, reply)) return reply;
        const parsed = topUpBody.safeParse(req.body ?? {});
        if (!parsed.success) return deps.fail(reply, 400, 'invalid_request', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
        try {
            const row = channelOf(req);
            if (row.state !== 'open') throw new CocoonError(409, 'channel_not_open', `address: the channel is ${row.state}; only an open channel takes a top-up`);
            const amount = toNano(parsed.data.amount);
            if (amount <= 0n) throw new CocoonError(400, 'invalid_request', 'amount: must be more than 0');
            const after = await client.topUpExactly(row, amount);
            return { address: after.address, deposit: after.deposit.toString() };
        } catch (e) {
            return answer(reply, e);
        }
    });

    const pages = registerWebPage(app, 'gateway', '/');
    return (method, route) => method === 'GET' && route !== undefined && pages.has(route);
}
