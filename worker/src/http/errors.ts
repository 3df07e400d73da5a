import type { FastifyReply } from 'fastify';
import { openAiErrorBody } from '../../../protocol/openaiError';
import { RefusalCode } from '../../../protocol/paidRequest';
import type { WorkerMetrics } from '../metrics';

/**
 * How a refusal reaches a client: the one table from a refusal's kind to the
 * HTTP status and the OpenAI error code, and the one way an error answer is
 * written (the OpenAI envelope of protocol/openaiError.ts). Everything else
 * in the worker names what went wrong by kind only.
 */

/**
 * What the worker was asked to do, for the few kinds whose answer depends
 * on it: admit a paid chat request, recover receipts, co-sign a close,
 * take a voucher on its own.
 */
export type Operation = 'admission' | 'recovery' | 'close' | 'voucher';

interface Mapping {
    status: number;
    code: string;
    /** What the client is told instead when the worker was asked to do this. */
    during?: Partial<Record<Operation, { status?: number; code?: string }>>;
}

/**
 * A chat request is refused 402 (Payment Required) for anything about its
 * channel or voucher that the client can fix by paying differently; the same
 * conditions on the channel endpoints keep the status that names them
 * (not found, conflict with the channel's state, a bad signature).
 */
const AT_ADMISSION_402 = { admission: { status: 402 } };

const REFUSALS = {
    // Malformed input.
    invalid_request: { status: 400, code: RefusalCode.BadRequest },
    // A chat request names its channel inside the sealed request: to its client an unreadable one is an unknown one.
    invalid_channel: { status: 400, code: RefusalCode.BadRequest, during: { admission: { code: RefusalCode.UnknownChannel } } },
    bad_envelope: { status: 400, code: RefusalCode.BadEnvelope },
    wrong_encryption_key: { status: 400, code: RefusalCode.WrongKey },
    body_too_large: { status: 413, code: RefusalCode.TooLarge },
    unsupported_media_type: { status: 415, code: RefusalCode.Unsupported },
    replayed_request: { status: 409, code: RefusalCode.Replayed },
    unauthorized: { status: 401, code: RefusalCode.Unauthorized },
    // The channel gate.
    channel_not_found: { status: 404, code: RefusalCode.UnknownChannel, during: AT_ADMISSION_402 },
    wrong_worker: { status: 403, code: RefusalCode.WrongWorker },
    // The channel's state and the client's vouchers.
    channel_not_open: { status: 409, code: RefusalCode.ChannelNotOpen, during: AT_ADMISSION_402 },
    client_key_changing: { status: 409, code: RefusalCode.ClientKeyChanging, during: AT_ADMISSION_402 },
    invalid_voucher: { status: 401, code: RefusalCode.BadVoucher, during: AT_ADMISSION_402 },
    stale_voucher: { status: 409, code: RefusalCode.StaleVoucher, during: AT_ADMISSION_402 },
    voucher_required: { status: 402, code: RefusalCode.VoucherRequired },
    credit_limit: { status: 429, code: RefusalCode.CreditLimit },
    insufficient_deposit: { status: 402, code: RefusalCode.InsufficientDeposit },
    request_in_flight: { status: 409, code: RefusalCode.RequestInFlight },
    // The model.
    model_not_found: { status: 404, code: RefusalCode.UnknownModel },
    model_not_attested: { status: 404, code: RefusalCode.ModelNotAttested },
    // The worker's own state and what it depends on.
    over_capacity: { status: 429, code: RefusalCode.OverCapacity },
    shutting_down: { status: 503, code: RefusalCode.ShuttingDown },
    backend_unavailable: { status: 503, code: RefusalCode.BackendDown },
    chain_unavailable: { status: 503, code: RefusalCode.BackendDown },
    prices_unavailable: { status: 503, code: RefusalCode.PricesUnavailable },
    storage_unavailable: { status: 503, code: RefusalCode.StorageUnavailable },
    not_attested: { status: 503, code: 'not_attested' },
    not_supported: { status: 501, code: 'not_supported' },
    internal_error: { status: 500, code: 'internal_error' },
} satisfies Record<string, Mapping>;

/** Why a request was refused. The kinds are the table's keys, so every kind has an answer. */
export type RefusalKind = keyof typeof REFUSALS;

/** The refusal as this module reads it (worker/src/refusal.ts is the one class that has this shape). */
export interface RefusalLike {
    kind: RefusalKind;
    message: string;
    during?: Operation;
    /** Seconds after which trying again may succeed (the retry-after header). */
    retryAfter?: number;
}

function answer(kind: RefusalKind, during?: Operation): { status: number; code: string } {
    const m: Mapping = REFUSALS[kind];
    const over = during ? m.during?.[during] : undefined;
    return { status: over?.status ?? m.status, code: over?.code ?? m.code };
}

export function refusalStatus(kind: RefusalKind, during?: Operation): number {
    return answer(kind, during).status;
}

export function refusalCode(kind: RefusalKind, during?: Operation): string {
    return answer(kind, during).code;
}

function sendError(reply: FastifyReply, metrics: WorkerMetrics, status: number, code: string, message: string, retryAfter?: number) {
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
    metrics.requests.inc({ status: String(status) });
    metrics.refused(status, code, message);
    return reply
        .code(status)
        .type('application/json')
        .send(openAiErrorBody(status, code, message));
}

export function sendRefusal(reply: FastifyReply, metrics: WorkerMetrics, r: RefusalLike) {
    const { status, code } = answer(r.kind, r.during);
    return sendError(reply, metrics, status, code, r.message, r.retryAfter);
}

/**
 * An error fastify raised itself (before any route ran: body too large, a
 * content type nobody parses, a JSON body that does not parse). 413 and 415
 * are refusals like any other; any other 4xx keeps its status; anything
 * else is the worker's fault, logged and answered without detail.
 */
export function sendFrameworkError(
    reply: FastifyReply,
    deps: { metrics: WorkerMetrics; maxBodyBytes: number; envelopeType: string; logError: (err: unknown) => void },
    err: { statusCode?: number; code?: string },
) {
    const status = err.statusCode ?? 500;
    if (status === 413) return sendRefusal(reply, deps.metrics, { kind: 'body_too_large', message: `body larger than ${deps.maxBodyBytes} bytes` });
    if (status === 415) return sendRefusal(reply, deps.metrics, { kind: 'unsupported_media_type', message: `send an HPKE envelope as ${deps.envelopeType}` });
    if (status < 500) return sendError(reply, deps.metrics, status, REFUSALS.invalid_request.code, err.code ?? 'bad request');
    deps.logError(err);
    return sendRefusal(reply, deps.metrics, { kind: 'internal_error', message: 'internal error' });
}
