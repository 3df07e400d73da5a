import { Address, Cell, beginCell } from '@ton/core';
import { sign, signVerify } from '../helpers/ed25519';
import {
    PriceTerms,
    Receipt,
    ReceiptDetails,
    ReceiptUsage,
    loadReceipt,
    loadReceiptDetails,
    loadSignedReceipt,
    storeReceipt,
    storeReceiptDetails,
    storeSignedReceipt,
} from '../build/WorkerStake/WorkerStake_WorkerStake';

/**
 * Receipts (DESIGN.md section 3): what a worker signs for each request and
 * what a fraud proof is made of. The worker, the client and the tests all
 * build them here, with the Tact-generated serialisers, so the cell a client
 * checks is the cell the WorkerStake judges.
 *
 * Layout: root cell = worker stake, channel, request id (uint64), model id
 * (uint256), usage (4 x uint32), ref -> details (cost, cumulative cost,
 * time, SHA-256 of request and of response). Signature: Ed25519 over the
 * root cell's hash, by the worker key.
 */

/** Token counts of one request. */
export interface Usage {
    prompt: bigint;
    cached: bigint;
    completion: bigint;
    reasoning: bigint;
}

/** nanoTON per million tokens. */
export interface Prices {
    prompt: bigint;
    cached: bigint;
    completion: bigint;
    reasoning: bigint;
}

export interface ReceiptFields {
    workerStake: Address;
    channel: Address;
    /** Assigned by the worker, unique per WorkerStake; never taken from the client. */
    requestId: bigint;
    modelId: bigint;
    usage: Usage;
    /** nanoTON charged for this request. */
    cost: bigint;
    /** nanoTON charged on this channel so far, this request included. */
    cumulativeCost: bigint;
    /** Unix time the worker served the request. */
    time: bigint;
    requestHash: bigint;
    responseHash: bigint;
}

export const PRICE_UNIT_TOKENS = 1_000_000n;
const MAX_UINT32 = (1n << 32n) - 1n;

/**
 * The most a receipt may charge for `usage` under `prices`: the TypeScript
 * twin of `receiptMaxCost` in contracts/lib/worker-rules.tact (tests check they
 * agree). Cached tokens are part of the prompt; at most `prompt` of them are
 * billed at the cached price; the total rounds down.
 */
export function receiptMaxCost(prices: Prices, usage: Usage): bigint {
    const cached = usage.cached < usage.prompt ? usage.cached : usage.prompt;
    return ((usage.prompt - cached) * prices.prompt + cached * prices.cached + usage.completion * prices.completion + usage.reasoning * prices.reasoning) / PRICE_UNIT_TOKENS;
}

export function toPriceTerms(p: Prices): PriceTerms {
    return { $$type: 'PriceTerms', prompt: p.prompt, cached: p.cached, completion: p.completion, reasoning: p.reasoning };
}

export function toReceiptUsage(u: Usage): ReceiptUsage {
    for (const [k, v] of Object.entries(u)) {
        if (v < 0n || v > MAX_UINT32) throw new Error(`usage.${k} must fit in uint32, got ${v}`);
    }
    return { $$type: 'ReceiptUsage', prompt: u.prompt, cached: u.cached, completion: u.completion, reasoning: u.reasoning };
}

/** The receipt cell the worker signs. */
export function buildReceipt(f: ReceiptFields): Cell {
    const details: ReceiptDetails = {
        $$type: 'ReceiptDetails',
        cost: f.cost,
        cumulativeCost: f.cumulativeCost,
        time: f.time,
        requestHash: f.requestHash,
        responseHash: f.responseHash,
    };
    const receipt: Receipt = {
        $$type: 'Receipt',
        workerStake: f.workerStake,
        channel: f.channel,
        requestId: f.requestId,
        modelId: f.modelId,
        usage: toReceiptUsage(f.usage),
        details: beginCell().store(storeReceiptDetails(details)).endCell(),
    };
    return beginCell().store(storeReceipt(receipt)).endCell();
}

/** Decodes a receipt cell back into its fields. */
export function parseReceipt(cell: Cell): ReceiptFields {
    const r = loadReceipt(cell.beginParse());
    const d = loadReceiptDetails(r.details.beginParse());
    return {
        workerStake: r.workerStake,
        channel: r.channel,
        requestId: r.requestId,
        modelId: r.modelId,
        usage: { prompt: r.usage.prompt, cached: r.usage.cached, completion: r.usage.completion, reasoning: r.usage.reasoning },
        cost: d.cost,
        cumulativeCost: d.cumulativeCost,
        time: d.time,
        requestHash: d.requestHash,
        responseHash: d.responseHash,
    };
}

/** What is signed: the receipt cell's representation hash. */
export function receiptHash(receipt: Cell): Buffer {
    return receipt.hash();
}

/** Ed25519 signature of the receipt by the worker's 64-byte secret key. */
export function signReceipt(receipt: Cell, workerSecretKey: Buffer): Buffer {
    return sign(receiptHash(receipt), workerSecretKey);
}

/** Checks a receipt signature against the worker's 32-byte public key. */
export function verifyReceipt(receipt: Cell, signature: Buffer, workerPublicKey: Buffer): boolean {
    return signature.length === 64 && signVerify(receiptHash(receipt), signature, workerPublicKey);
}

/** The evidence cell fraud proofs carry: signature and receipt. */
export function signedReceiptCell(receipt: Cell, signature: Buffer): Cell {
    if (signature.length !== 64) throw new Error('an Ed25519 signature is 64 bytes');
    return beginCell()
        .store(storeSignedReceipt({ $$type: 'SignedReceipt', signature, receipt }))
        .endCell();
}

/** Builds, signs and wraps a receipt in one step. */
export function makeSignedReceipt(f: ReceiptFields, workerSecretKey: Buffer): { receipt: Cell; signature: Buffer; evidence: Cell } {
    const receipt = buildReceipt(f);
    const signature = signReceipt(receipt, workerSecretKey);
    return { receipt, signature, evidence: signedReceiptCell(receipt, signature) };
}

/** Splits an evidence cell back into receipt and signature. */
export function openSignedReceipt(evidence: Cell): { receipt: Cell; signature: Buffer } {
    const s = loadSignedReceipt(evidence.beginParse());
    return { receipt: s.receipt, signature: s.signature };
}

/**
 * A WorkerStake's price terms over time, as its getters tell them:
 * `entries` sorted by the time each took effect (announced raises included,
 * with their future start), `grace` its PRICE_CUT_GRACE and `historySince`
 * the earliest time its history still answers for.
 */
export interface PriceSchedule {
    entries: Array<{ from: number; prices: Prices }>;
    grace: number;
    historySince: number;
    /** The block time the schedule was read at (the WorkerStake's `chainTime`), when known. */
    chainTime?: number;
}

/** The terms in force at `time` (the earliest entry for a time before all): the twin of WorkerStake's termsAt. */
export function termsAt(schedule: PriceSchedule, time: number): Prices {
    if (schedule.entries.length === 0) throw new Error('the price schedule is empty');
    let found = schedule.entries[0].prices;
    for (const e of schedule.entries) if (e.from <= time) found = e.prices;
    return found;
}

/**
 * The most a receipt dated `time` may be charged at, term by term: the
 * highest terms in force at any moment of the grace before it (a raise
 * counts from when it takes effect, a cut once the grace has passed). The
 * twin of WorkerStake's chargeableTerms, which ProveOvercharge judges by;
 * tests check that both agree.
 */
export function chargeableTerms(schedule: PriceSchedule, time: number): Prices {
    const from = time - schedule.grace;
    const t = { ...termsAt(schedule, from) };
    for (const e of schedule.entries) {
        if (e.from > from && e.from <= time) {
            for (const k of ['prompt', 'cached', 'completion', 'reasoning'] as const) if (e.prices[k] > t[k]) t[k] = e.prices[k];
        }
    }
    return t;
}

/** Term by term, the lower of two price terms. */
export function lowerTerms(a: Prices, b: Prices): Prices {
    const min = (x: bigint, y: bigint) => (x < y ? x : y);
    return { prompt: min(a.prompt, b.prompt), cached: min(a.cached, b.cached), completion: min(a.completion, b.completion), reasoning: min(a.reasoning, b.reasoning) };
}

/**
 * Whether ProveOvercharge, run at chain time `chainNow` with `fraudProofWindow`,
 * would slash for this receipt: it judges a receipt dated in the future at
 * `chainNow`, refuses evidence older than the window or than the history,
 * and compares the cost with the chargeable terms.
 */
export function receiptOvercharges(f: ReceiptFields, schedule: PriceSchedule, chainNow: number, fraudProofWindow: number): boolean {
    const dated = Number(f.time);
    if (dated + fraudProofWindow < chainNow) return false;
    const time = Math.min(dated, chainNow);
    if (time - schedule.grace < schedule.historySince) return false;
    return f.cost > receiptMaxCost(chargeableTerms(schedule, time), f.usage);
}
