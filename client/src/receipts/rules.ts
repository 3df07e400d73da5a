import { Address, Cell } from '@ton/core';
import { DeliveredToolCall, ReceiptWire, TokenLogprob, responseDigest } from '../../../protocol/paidRequest';
import { PriceSchedule, ReceiptFields, Usage, chargeableTerms, openSignedReceipt, parseReceipt, receiptMaxCost, verifyReceipt } from '../../../wrappers/receipt';
import { bytesToUint, hex256 } from '../../../helpers/bytes';

/**
 * Every rule a receipt must keep before the client signs a voucher that
 * pays for it, in one place. The live path (the receipt in the final frame
 * of an answer) and the recovery path (a receipt read back from the
 * worker's store after the final frame was lost, first matched to one of
 * this client's own pending requests) both go through one verifier
 * (./verifier.ts), which runs `checkReceipt` with these rules; a rule that
 * needs what only the live path has (the text and usage the stream
 * delivered) says so in `paths`.
 *
 * A receipt breaking any rule is not paid, is kept as evidence, and its
 * worker is excluded. Only a broken `price` rule can lead to a fraud proof,
 * and only when the WorkerStake would slash for it (see ./fraudProof.ts):
 * the other rules protect the client, not the chain.
 */

/** Seconds of clock difference between client and worker tolerated in a receipt's time. */
export const CLOCK_SKEW_SEC = 120;

export type ReceiptPath = 'live' | 'recovered';

/** What the client itself recorded about the request a receipt answers, before it was sent. */
export interface SentRequest {
    /** hex requestDigest of the sealed plaintext as sent. */
    requestHash: string;
    /** Most prompt tokens the request can count (the worker's own bound: bytes + 16 per message + 16). */
    promptBound: number;
    /** max_completion_tokens ?? max_tokens of the request (null: none set). */
    maxTokens: number | null;
    /** Client-clock unix seconds just before the request was sent. */
    startedAt: number;
}

/** What the live path received (the recovery path has none of it). */
export interface Delivered {
    /** What was asked for: chat or text completions, or embeddings (their data as JSON in `content`, no completion tokens). */
    kind?: 'chat' | 'completions' | 'embeddings';
    content: string;
    reasoning: string;
    toolCalls: readonly DeliveredToolCall[];
    /** Log probabilities delivered with the tokens (none unless asked for). */
    logprobs?: readonly TokenLogprob[];
    /** The usage the worker reported in the final frame (its `usage` object, as sent). */
    usage: unknown;
}

export interface ReceiptContext {
    path: ReceiptPath;
    worker: { workerStake: Address; workerKey: Buffer; modelId: bigint };
    channel: Address;
    /** Cumulative cost of every receipt of the channel verified so far. */
    verified: bigint;
    request: SentRequest;
    /** Live path only. */
    delivered?: Delivered;
    /** The receipt as it came over the wire (its summary must match the signed cell). */
    wire: ReceiptWire;
    /** Client-clock unix seconds, now. */
    now: number;
    /**
     * The worker's price schedule: `cached` (may be a little stale) and
     * `fresh` (read from chain now). The price rule tries the cache first
     * and re-reads before refusing: the worker may know of a raise the cache
     * does not.
     */
    terms: { cached(): PriceSchedule | undefined; fresh(): Promise<PriceSchedule> };
}

/** An opened receipt: the signed cell, its signature and its fields. */
export interface OpenedReceipt {
    cell: Cell;
    signature: Buffer;
    fields: ReceiptFields;
}

export interface ReceiptRule {
    /** Short stable name, used in errors, logs and tests. */
    name: string;
    /** Why the client insists on it. */
    reason: string;
    paths: readonly ReceiptPath[];
    /** Undefined when the receipt keeps the rule, otherwise what is wrong. */
    check(r: OpenedReceipt, c: ReceiptContext): string | undefined | Promise<string | undefined>;
}

export interface BrokenRule {
    rule: string;
    message: string;
}

const BOTH: readonly ReceiptPath[] = ['live', 'recovered'];
const LIVE: readonly ReceiptPath[] = ['live'];

const hashHex = (v: bigint) => hex256(v);

/** The usage the worker reported in the stream, as token counts; a field it left out is -1 (matches no receipt). */
export function reportedUsage(u: any): Usage {
    const n = (v: unknown, missing: bigint) => {
        try {
            return v === undefined || v === null ? missing : BigInt(v as number);
        } catch {
            return -1n;
        }
    };
    return {
        prompt: n(u?.prompt_tokens, -1n),
        cached: n(u?.prompt_tokens_details?.cached_tokens, 0n),
        completion: n(u?.completion_tokens, -1n),
        reasoning: n(u?.completion_tokens_details?.reasoning_tokens, 0n),
    };
}

export const RECEIPT_RULES: readonly ReceiptRule[] = [
    {
        name: 'signature',
        reason: 'only a receipt signed by the attested worker key is evidence the WorkerStake accepts, and proves the attested enclave issued it',
        paths: BOTH,
        check: (r, c) => (verifyReceipt(r.cell, r.signature, c.worker.workerKey) ? undefined : 'signature is not by the attested worker key'),
    },
    {
        name: 'worker',
        reason: 'a receipt naming another WorkerStake cannot be held against this worker',
        paths: BOTH,
        check: (r, c) => (r.fields.workerStake.equals(c.worker.workerStake) ? undefined : `names another WorkerStake (${r.fields.workerStake.toString()})`),
    },
    {
        name: 'channel',
        reason: 'cumulative costs are per channel: a receipt of another channel says nothing about what this one owes',
        paths: BOTH,
        check: (r, c) => (r.fields.channel.equals(c.channel) ? undefined : `names another channel (${r.fields.channel.toString()})`),
    },
    {
        name: 'model',
        reason: 'the client pays for the attested model only (a receipt for another model is the ProveWrongModel case)',
        paths: BOTH,
        check: (r, c) => (r.fields.modelId === c.worker.modelId ? undefined : 'names another model'),
    },
    {
        name: 'request',
        reason: 'the receipt must commit to the very request this client sent (and a recovered one to a request of ours still unpaid)',
        paths: BOTH,
        check: (r, c) => (hashHex(r.fields.requestHash) === c.request.requestHash.toLowerCase() ? undefined : 'request hash does not match the request sent'),
    },
    {
        name: 'prompt-bound',
        reason: 'no tokenizer counts more prompt tokens than the request has bytes (plus template overhead); no fraud proof can catch an inflated prompt count',
        paths: BOTH,
        check: (r, c) =>
            r.fields.usage.prompt <= BigInt(c.request.promptBound) ? undefined : `charges ${r.fields.usage.prompt} prompt tokens, more than the request can hold (${c.request.promptBound})`,
    },
    {
        name: 'cached-within-prompt',
        reason: 'cached tokens are part of the prompt',
        paths: BOTH,
        check: (r) => (r.fields.usage.cached <= r.fields.usage.prompt ? undefined : `usage is inconsistent: ${r.fields.usage.cached} cached tokens above ${r.fields.usage.prompt} prompt tokens`),
    },
    {
        name: 'reasoning-within-completion',
        reason: 'reasoning tokens are part of the completion',
        paths: BOTH,
        check: (r) =>
            r.fields.usage.reasoning <= r.fields.usage.completion
                ? undefined
                : `usage is inconsistent: ${r.fields.usage.reasoning} reasoning tokens above ${r.fields.usage.completion} completion tokens`,
    },
    {
        name: 'max-tokens',
        reason: 'the request capped the completion (max_completion_tokens, else max_tokens); the worker may not charge past it',
        paths: BOTH,
        check: (r, c) =>
            c.request.maxTokens === null || r.fields.usage.completion <= BigInt(c.request.maxTokens)
                ? undefined
                : `charges ${r.fields.usage.completion} completion tokens, more than the request's max_tokens ${c.request.maxTokens}`,
    },
    {
        name: 'usage-reported',
        reason: 'the receipt must charge the usage the worker reported with the answer, field by field',
        paths: LIVE,
        check: (r, c) => {
            const reported = reportedUsage(c.delivered?.usage);
            for (const k of ['prompt', 'cached', 'completion', 'reasoning'] as const)
                if (reported[k] !== r.fields.usage[k]) return `usage.${k} ${r.fields.usage[k]} differs from the usage delivered (${reported[k]})`;
            return undefined;
        },
    },
    {
        name: 'text-counted',
        reason: 'text was delivered, so at least one completion token was made: a receipt counting none misstates the usage (embeddings generate no tokens: the max-tokens rule holds them to none)',
        paths: LIVE,
        check: (r, c) =>
            c.delivered?.kind !== 'embeddings' && (c.delivered?.content.length ?? 0) + (c.delivered?.reasoning.length ?? 0) > 0 && r.fields.usage.completion === 0n
                ? 'text was delivered but no completion token is counted'
                : undefined,
    },
    {
        name: 'response-hash',
        reason: 'the receipt must commit to exactly the text delivered, so it is evidence of what was served',
        paths: LIVE,
        check: (r, c) =>
            r.fields.responseHash === bytesToUint(responseDigest(c.delivered?.content ?? '', c.delivered?.reasoning ?? '', c.delivered?.toolCalls ?? [], c.delivered?.logprobs ?? []))
                ? undefined
                : 'response hash does not match the text delivered',
    },
    {
        name: 'time',
        reason: `the receipt is dated while the request was served, within ${CLOCK_SKEW_SEC} s of clock skew: a backdated receipt could fall out of the fraud-proof window (or be judged by old prices), a future-dated one could earn an announced raise early`,
        paths: BOTH,
        check: (r, c) => {
            const t = Number(r.fields.time);
            if (t < c.request.startedAt - CLOCK_SKEW_SEC) return `time ${t} is before the request was sent (${c.request.startedAt}, ${CLOCK_SKEW_SEC} s skew allowed)`;
            if (t > c.now + CLOCK_SKEW_SEC) return `time ${t} is in the future (now ${c.now}, ${CLOCK_SKEW_SEC} s skew allowed)`;
            return undefined;
        },
    },
    {
        name: 'cost-positive',
        reason: 'a receipt that charges nothing has nothing to pay for (and would break the cumulative chain of receipts)',
        paths: BOTH,
        check: (r) => (r.fields.cost > 0n ? undefined : 'cost is not positive'),
    },
    {
        name: 'price',
        reason: 'cost within the terms the WorkerStake judges an overcharge by: the highest in force during the price-cut grace before the receipt time (chargeableTerms); the only rule whose breach the chain can also punish',
        paths: BOTH,
        check: async (r, c) => {
            const f = r.fields;
            const limitBy = (s: PriceSchedule | undefined) => {
                if (!s || s.entries.length === 0) return -1n;
                // Judged at the receipt's time, or now for one dated ahead, as the chain judges: a receipt
                // dated past an announced raise must not earn it early.
                return receiptMaxCost(chargeableTerms(s, Math.min(Number(f.time), c.now)), f.usage);
            };
            if (f.cost <= limitBy(c.terms.cached())) return undefined;
            // The cache may predate a raise the worker knows of: judge by the chain before refusing.
            const limit = limitBy(await c.terms.fresh());
            if (f.cost <= limit) return undefined;
            return limit < 0n ? 'the WorkerStake has no price terms' : `cost ${f.cost} exceeds ${limit} nanoTON, the most the price terms allow at its time`;
        },
    },
    {
        name: 'cumulative',
        reason: 'the voucher pays a cumulative total: each receipt must continue the receipts already verified without a gap or an overlap',
        paths: BOTH,
        check: (r, c) =>
            r.fields.cumulativeCost === c.verified + r.fields.cost
                ? undefined
                : `cumulative cost ${r.fields.cumulativeCost} is not the ${c.verified} already verified plus ${r.fields.cost} (a gap or an overlap)`,
    },
    {
        name: 'summary',
        reason: 'the wire summary drives recovery and accounting: it must say what the signed receipt says',
        paths: BOTH,
        check: (r, c) =>
            String(r.fields.cost) === String(c.wire?.cost) && String(r.fields.cumulativeCost) === String(c.wire?.cumulativeCost) && String(r.fields.requestId) === String(c.wire?.requestId)
                ? undefined
                : 'summary differs from the signed receipt',
    },
];

/** The rule a receipt breaks when its evidence does not even parse. */
export const MALFORMED = 'well-formed';

/** The rule an answer breaks when its usage costs something but no receipt came with it. */
export const RECEIPT_PRESENT = 'receipt-present';

/**
 * The request a recovered receipt answers: one of this client's own
 * requests still waiting for a receipt, found by the receipt's request hash.
 * None: the receipt breaks the `request` rule before any other can be judged
 * (there is no request to judge it against).
 */
export function answeredRequest<T extends { requestHash: string }>(r: OpenedReceipt, pending: readonly T[]): T | undefined {
    const hash = hashHex(r.fields.requestHash);
    return pending.find((a) => a.requestHash === hash);
}

/** Opens the wire's evidence; throws on a malformed one. */
export function openReceipt(wire: ReceiptWire): OpenedReceipt {
    const { receipt, signature } = openSignedReceipt(Cell.fromBase64(String(wire?.boc ?? '')));
    return { cell: receipt, signature, fields: parseReceipt(receipt) };
}

/**
 * Runs every rule of `c.path` on the receipt, in order, and returns each
 * one it breaks (none: it may be paid). A chain read the price rule needs
 * that fails throws (the receipt is then neither paid nor refused).
 */
export async function checkReceipt(r: OpenedReceipt, c: ReceiptContext): Promise<BrokenRule[]> {
    const broken: BrokenRule[] = [];
    for (const rule of RECEIPT_RULES) {
        if (!rule.paths.includes(c.path)) continue;
        const message = await rule.check(r, c);
        if (message !== undefined) broken.push({ rule: rule.name, message });
    }
    return broken;
}
