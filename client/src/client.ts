import { randomInt } from 'node:crypto';
import { Address, Cell, Sender } from '@ton/core';
import { sign, type KeyPair } from '@ton/crypto';
import { ENVELOPE_MEDIA_TYPE, ResponseOpener, frameFromText } from '../../helpers/hpke';
import {
    ChatCompletionRequest,
    PaidRequest,
    RECEIPTS_SIGNATURE_HEADER,
    RECEIPTS_TIMESTAMP_HEADER,
    ReceiptWire,
    ReceiptsAnswer,
    contentText,
    encodeVoucher,
    receiptsQueryDigest,
    requestDigest,
    sealPaidRequest,
} from '../../protocol/paidRequest';
import { ChannelStatus, ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { ExtendedEscrow } from '../../wrappers/Escrow';
import { ExtendedStaking } from '../../wrappers/Staking';
import { ExtendedWorkerStake, WorkerStatus } from '../../wrappers/WorkerStake';
import { PriceSchedule, ReceiptFields, openSignedReceipt, parseReceipt, receiptMaxCost, receiptOvercharges, verifyReceipt } from '../../wrappers/receipt';
import { keyToInt, signVoucher, verifyCloseApproval } from '../../wrappers/voucher';
import type { ContractOpener } from '../../wrappers/toncenter';
import { Discovery, WorkerInfo, keyBuf } from './discovery';
import { MALFORMED, OpenedReceipt, ReceiptPath, SentRequest, Delivered, checkReceipt, openReceipt } from './receiptRules';
import { AttemptRow, ChannelRow, ClientStore } from './store';

/**
 * The Cocoon client SDK: pays for private inference one verified receipt at
 * a time. For each request it (1) makes sure an open, funded channel to the
 * worker exists, (2) seals the request to the worker's attested X25519 key
 * with the voucher that covers every receipt verified so far (the worker's
 * `maxUnpaidReceipts` rule), (3) opens the sealed answer, and (4) verifies
 * the receipt by the rules of ./receiptRules.ts (the same rules for a
 * receipt recovered after its final frame was lost) before it signs the
 * voucher that pays for it. A receipt that breaks any rule is kept as
 * evidence, the worker is excluded, and nothing is signed; an overcharge
 * the WorkerStake would slash for is also proven on chain.
 */

export interface ClientOptions {
    opener: ContractOpener;
    staking: Address;
    /** The client's wallet: opens and tops up channels, submits fraud proofs. */
    wallet: Sender & { address: Address };
    /** Ed25519 key that signs vouchers (the channel's client key). */
    channelKey: KeyPair;
    store: ClientStore;
    /** Deposit of a new channel, nanoTON. */
    deposit: bigint;
    /** Top up when the unspent deposit falls below this, nanoTON. */
    topUpBelow: bigint;
    /** Amount of each top-up (default: `deposit`). */
    topUpAmount?: bigint;
    /** Seconds between on-chain re-checks of a channel (default 30). */
    channelRecheckSec?: number;
    /** Milliseconds to wait for a worker's response headers (default 30 s). */
    connectTimeoutMs?: number;
    /** Milliseconds without a byte from a worker mid-answer before it counts as failed (default 120 s). */
    idleTimeoutMs?: number;
    /**
     * Channels used in parallel per worker (default 1). A channel carries one
     * request at a time (its cumulative total is sequential), so this is the
     * most requests in flight to one worker; each channel has its own deposit
     * and is opened only when every existing one is busy.
     */
    channelsPerWorker?: number;
    /** Submit overcharge fraud proofs on chain (default true); only proofs the WorkerStake would accept are sent. */
    submitFraudProofs?: boolean;
    /** The client's clock, unix seconds (default: the system clock). Receipt times are judged by it. */
    now?: () => number;
    log?: (msg: string, extra?: Record<string, unknown>) => void;
}

export class CocoonError extends Error {
    constructor(
        readonly status: number,
        readonly code: string,
        message: string,
        /** True once any token reached the caller: another worker must not be tried. */
        readonly delivered = false,
        /** receipt_rejected: the names of the receipt rules broken (./receiptRules.ts). */
        readonly rules?: readonly string[],
    ) {
        super(message);
        this.name = 'CocoonError';
    }
}

export interface CallResult {
    worker: WorkerInfo;
    channel: string;
    /** The final frame: a chat.completion (non-streaming) or the last chunk (streaming). */
    final: any;
    content: string;
    receipt: ReceiptWire | null;
    fields: ReceiptFields | null;
    cost: bigint;
    latencyMs: number;
}

interface WorkerStats {
    ok: number;
    failed: number;
    latencyMs: number;
}

export class CocoonClient {
    readonly discovery: Discovery;
    private readonly cache = new Map<string, { at: number; workers: WorkerInfo[] }>();
    private readonly locks = new Map<string, Promise<unknown>>();
    /** Channels a call is using now: one request at a time per channel. */
    private readonly busy = new Set<string>();
    /** Channel opens in flight, per worker (they count against channelsPerWorker). */
    private readonly opening = new Map<string, number>();
    /** Calls waiting for one of a worker's channels to come free. */
    private readonly waiting = new Map<string, Array<() => void>>();
    private readonly checkedAt = new Map<string, number>();
    /** Workers caught with a bad receipt (by WorkerStake address). */
    readonly excluded = new Map<string, string>();
    readonly stats = new Map<string, WorkerStats>();
    /** Price schedules read from chain, by WorkerStake, with when they were read (Date.now()). */
    private readonly schedules = new Map<string, { at: number; schedule: PriceSchedule }>();
    /** Outcomes of the overcharge fraud proofs considered so far (for callers and tests to await). */
    readonly fraudProofs: Array<Promise<FraudProofOutcome>> = [];

    constructor(readonly o: ClientOptions) {
        this.discovery = new Discovery(o.opener, o.staking);
        // A worker once caught with a bad receipt stays excluded across restarts.
        for (const b of o.store.badReceipts()) this.excluded.set(b.workerStake, b.reason);
    }

    private log(msg: string, extra?: Record<string, unknown>) {
        this.o.log?.(msg, extra);
    }

    /** The client's clock, unix seconds. */
    now(): number {
        return this.o.now?.() ?? Math.floor(Date.now() / 1000);
    }

    /** Verified workers of `model`, cached for 30 s; excluded workers left out. */
    async workers(model: string, refresh = false): Promise<WorkerInfo[]> {
        const hit = this.cache.get(model);
        let list: WorkerInfo[];
        if (!refresh && hit && Date.now() - hit.at < 30_000) list = hit.workers;
        else {
            let r;
            try {
                r = await this.discovery.workers(model);
            } catch (e) {
                // The chain is unreachable: the workers verified last time are still the best knowledge
                // (each receipt is still checked against their attested keys and prices).
                if (!hit) throw e;
                this.log('discovery failed; using the workers verified before', { model, error: (e as Error).message });
                return hit.workers.filter((w) => !this.excluded.has(w.workerStake.toString()));
            }
            for (const x of r.rejected) this.log('worker rejected', { ...x });
            this.cache.set(model, { at: Date.now(), workers: r.workers });
            list = r.workers;
        }
        return list.filter((w) => !this.excluded.has(w.workerStake.toString()));
    }

    statsOf(w: WorkerInfo): WorkerStats {
        const k = w.workerStake.toString();
        let s = this.stats.get(k);
        if (!s) this.stats.set(k, (s = { ok: 0, failed: 0, latencyMs: 0 }));
        return s;
    }

    /** Runs `fn` with no other call on the same key in flight (one channel, one request at a time). */
    private async serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
        const prev = this.locks.get(key) ?? Promise.resolve();
        const run = prev.catch(() => undefined).then(fn);
        const tail = run.catch(() => undefined);
        this.locks.set(key, tail);
        try {
            return await run;
        } finally {
            if (this.locks.get(key) === tail) this.locks.delete(key);
        }
    }

    /**
     * Runs `fn` holding a channel to `w` that no other call uses: a free open
     * one, or (when all are busy and fewer than channelsPerWorker exist) the
     * right to open one; otherwise it waits for one to come free.
     */
    private async withChannel<T>(w: WorkerInfo, fn: (lease: ChannelLease) => Promise<T>): Promise<T> {
        const ws = w.workerStake.toString();
        const max = Math.max(1, this.o.channelsPerWorker ?? 1);
        const lease: ChannelLease = { worker: ws, addresses: new Set(), opening: false };
        for (;;) {
            const rows = this.o.store.openChannelsFor(ws);
            const free = rows.find((r) => !this.busy.has(r.address));
            if (free) {
                lease.preferred = free;
                this.take(lease, free.address);
                break;
            }
            if (rows.length + (this.opening.get(ws) ?? 0) < max) {
                lease.opening = true;
                this.opening.set(ws, (this.opening.get(ws) ?? 0) + 1);
                break;
            }
            await new Promise<void>((resolve) => this.waiting.set(ws, [...(this.waiting.get(ws) ?? []), resolve]));
        }
        try {
            return await fn(lease);
        } finally {
            this.opened(lease);
            for (const a of lease.addresses) this.busy.delete(a);
            const waiters = this.waiting.get(ws) ?? [];
            this.waiting.delete(ws);
            waiters.forEach((wake) => wake());
        }
    }

    /** Runs `fn` with the channel at `address` held (waiting while a request uses it). */
    private async withChannelAt<T>(address: string, worker: string, fn: () => Promise<T>): Promise<T> {
        while (this.busy.has(address)) await new Promise<void>((resolve) => this.waiting.set(worker, [...(this.waiting.get(worker) ?? []), resolve]));
        const lease: ChannelLease = { worker, addresses: new Set(), opening: false };
        this.take(lease, address);
        try {
            return await fn();
        } finally {
            this.busy.delete(address);
            const waiters = this.waiting.get(worker) ?? [];
            this.waiting.delete(worker);
            waiters.forEach((wake) => wake());
        }
    }

    private take(lease: ChannelLease, address: string) {
        this.busy.add(address);
        lease.addresses.add(address);
    }

    /** The lease's reserved open is over (the channel exists, or the open failed). */
    private opened(lease: ChannelLease) {
        if (!lease.opening) return;
        lease.opening = false;
        const n = (this.opening.get(lease.worker) ?? 1) - 1;
        if (n > 0) this.opening.set(lease.worker, n);
        else this.opening.delete(lease.worker);
    }

    private channelContract(address: string) {
        return this.o.opener.open(ExtendedPaymentChannel.fromAddress(Address.parse(address)));
    }

    private async waitFor<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 90_000): Promise<T> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const v = await read().catch(() => undefined);
            if (v !== undefined && ok(v)) return v;
            if (Date.now() > deadline) throw new CocoonError(504, 'chain_timeout', `timed out waiting for ${what}`);
            await new Promise((r) => setTimeout(r, 400));
        }
    }

    /**
     * An open channel to `w` with at least `topUpBelow` unspent (opened or
     * topped up as needed). With a lease: the lease's channel, or a new one
     * held by the lease.
     */
    async ensureChannel(w: WorkerInfo, minFree = 0n, lease?: ChannelLease): Promise<ChannelRow> {
        const ws = w.workerStake.toString();
        let row = lease ? lease.preferred : this.o.store.openChannelFor(ws);
        const recheck = (this.o.channelRecheckSec ?? 30) * 1000;
        if (row) {
            const free = row.deposit - row.verified;
            const stale = Date.now() - (this.checkedAt.get(row.address) ?? 0) > recheck;
            if (stale || free < this.o.topUpBelow || free < minFree) {
                const ch = this.channelContract(row.address);
                let deployed: boolean;
                let status: ChannelStatus;
                try {
                    deployed = await this.o.opener.isDeployed(Address.parse(row.address));
                    status = deployed ? (Number(await ch.getStatus()) as ChannelStatus) : ChannelStatus.New;
                } catch (e) {
                    // Chain unreachable: a channel seen open with enough unspent deposit serves on (the worker re-checks it too);
                    // one that needs a top-up must wait for the chain.
                    if (!stale || free < this.o.topUpBelow || free < minFree) throw e;
                    this.log('chain unreachable; continuing the channel from its last known state', { channel: row.address, error: (e as Error).message });
                    return row;
                }
                if (status !== ChannelStatus.Open) {
                    // New: the open never landed (the Escrow returns a refused deposit).
                    this.o.store.setState(row.address, status === ChannelStatus.Closing ? 'closing' : 'closed');
                    row = undefined;
                } else {
                    const deposit = await ch.getDeposit();
                    if (deposit !== row.deposit) this.o.store.setDeposit(row.address, deposit);
                    row = { ...row, deposit };
                    this.checkedAt.set(row.address, Date.now());
                    if (deposit - row.verified < this.o.topUpBelow || deposit - row.verified < minFree) row = await this.topUp(row, this.o.topUpAmount ?? this.o.deposit);
                }
            }
        }
        return row ?? (await this.openChannel(w, lease));
    }

    async openChannel(w: WorkerInfo, lease?: ChannelLease): Promise<ChannelRow> {
        const staking = this.o.opener.open(ExtendedStaking.fromAddress(this.o.staking));
        const escrowAddr = (await staking.getLinks()).escrow;
        if (!escrowAddr) throw new CocoonError(503, 'no_escrow', 'the network has no Escrow configured');
        const escrow = this.o.opener.open(ExtendedEscrow.fromAddress(escrowAddr));
        // A fresh nonce gives every channel a new address (no voucher crosses channels).
        const nonce = BigInt(Date.now()) * 1000n + BigInt(randomInt(1000));
        const address = (await ExtendedPaymentChannel.fromInit(escrowAddr, this.o.wallet.address, w.workerStake, nonce)).address;
        // Held before it enters the ledger, so no other call takes it.
        if (lease) {
            this.take(lease, address.toString());
            this.opened(lease);
        }
        this.log('opening channel', { worker: w.workerStake.toString(), channel: address.toString(), deposit: this.o.deposit.toString() });
        await escrow.sendOpenChannel(this.o.wallet, {
            workerStake: w.workerStake,
            nonce,
            clientKey: keyToInt(this.o.channelKey.publicKey),
            workerKey: keyToInt(w.workerKey),
            deposit: this.o.deposit,
        });
        // In the ledger before it is confirmed: a channel that opens after a timeout here is still found (and listed by `channels`).
        this.o.store.addChannel({ address: address.toString(), workerStake: w.workerStake.toString(), nonce, deposit: 0n });
        const ch = this.channelContract(address.toString());
        await this.waitFor('the channel to open', async () => Number(await ch.getStatus()), (s) => s === ChannelStatus.Open);
        const deposit = await ch.getDeposit();
        this.o.store.setDeposit(address.toString(), deposit);
        this.checkedAt.set(address.toString(), Date.now());
        return this.o.store.channel(address.toString())!;
    }

    async topUp(row: ChannelRow, amount: bigint): Promise<ChannelRow> {
        const ch = this.channelContract(row.address);
        this.log('topping up channel', { channel: row.address, amount: amount.toString() });
        await ch.sendTopUp(this.o.wallet, amount);
        const deposit = await this.waitFor('the top-up', () => ch.getDeposit(), (d) => d >= row.deposit + amount);
        this.o.store.setDeposit(row.address, deposit);
        return { ...row, deposit };
    }

    /**
     * One paid request to `w`. `onChunk` receives each streamed
     * chat.completion.chunk as it is decrypted. Resolves once the receipt is
     * verified and the voucher for it signed and stored.
     */
    async call(w: WorkerInfo, request: ChatCompletionRequest, onChunk?: (chunk: any) => void | Promise<void>, signal?: AbortSignal): Promise<CallResult> {
        // The worker knows the model by its wire name (the app may have used the Registry's display name).
        const req = { ...request, model: w.model };
        return this.withChannel(w, (lease) => this.callNow(w, req, onChunk, true, true, signal, lease));
    }

    private async callNow(
        w: WorkerInfo,
        request: ChatCompletionRequest,
        onChunk: ((chunk: any) => void | Promise<void>) | undefined,
        mayTopUp: boolean,
        mayRecover = true,
        /** The caller is gone (an app that disconnected): stop reading; the worker's receipt for what it delivered is recovered. */
        signal?: AbortSignal,
        lease?: ChannelLease,
    ): Promise<CallResult> {
        if (signal?.aborted) throw new CocoonError(499, 'caller_gone', 'the caller went away before the request was sent');
        const t0 = performance.now();
        let row = await this.ensureChannel(w, 0n, lease);
        // A retry below (after a top-up or a recovery) uses the same channel.
        if (lease) lease.preferred = row;
        const voucher = this.o.store.latestVoucher(row.address);
        const paid: PaidRequest = {
            version: 1,
            channel: row.address,
            ...(voucher && voucher.total > 0n ? { voucher: encodeVoucher({ channel: Address.parse(row.address), total: voucher.total, signature: voucher.signature }) } : {}),
            request,
        };
        const sealed = await sealPaidRequest(w.encryptionKey, paid);
        // On disk before it leaves: if the final frame is lost, the worker's stored receipt for it is paid later (recoverReceipts).
        const sent: SentRequest = {
            requestHash: requestDigest(sealed.plaintext).toString('hex'),
            maxTokens: request.max_completion_tokens ?? request.max_tokens ?? null,
            promptBound: promptBoundOf(request),
            startedAt: this.now(),
        };
        const attemptId = this.o.store.addAttempt({ channel: row.address, requestHash: sent.requestHash, maxTokens: sent.maxTokens, promptBound: sent.promptBound, at: sent.startedAt });
        const ac = new AbortController();
        signal?.addEventListener('abort', () => ac.abort(), { once: true });
        const timer = setTimeout(() => ac.abort(), this.o.connectTimeoutMs ?? 30_000);
        let res: Response;
        try {
            res = await fetch(`${w.endpoint}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': ENVELOPE_MEDIA_TYPE }, body: sealed.envelope, signal: ac.signal });
        } catch (e) {
            // The connection may have broken after the worker stored its receipt (killed before answering).
            await this.recoverAfterFailure(w, row.address);
            throw new CocoonError(502, 'worker_unreachable', `worker unreachable: ${(e as Error).message}`);
        } finally {
            clearTimeout(timer);
        }
        if (res.status !== 200) {
            let err: { message?: string; code?: string } = {};
            try {
                err = ((await res.json()) as any).error ?? {};
            } catch {
                /* not JSON */
            }
            // A refusal: the worker served nothing, so no receipt may ever name this request.
            this.o.store.setAttemptState(attemptId, 'refused');
            if (res.status === 402 && err.code === 'insufficient_deposit' && mayTopUp) {
                await this.topUp(row, this.o.topUpAmount ?? this.o.deposit);
                return this.callNow(w, request, onChunk, false, mayRecover, signal, lease);
            }
            // Receipts whose final frames were lost are what the voucher does not cover: recover them, then retry.
            if (res.status === 402 && err.code === 'voucher_required' && mayRecover) {
                if ((await this.recoverOrReject(w, row.address, false)) > 0) return this.callNow(w, request, onChunk, mayTopUp, false, signal, lease);
            }
            throw new CocoonError(res.status === 429 ? 429 : 502, err.code ?? 'worker_refused', `worker refused (${res.status}): ${err.message ?? 'no reason given'}`);
        }

        let final: any;
        let content = '';
        let reasoning = '';
        let delivered = false;
        const opener: ResponseOpener = sealed.response;
        // A worker that stalls mid-answer is cut (its receipt never comes, so nothing is paid for it).
        let idle: NodeJS.Timeout | undefined;
        const touch = () => {
            clearTimeout(idle);
            idle = setTimeout(() => ac.abort(), this.o.idleTimeoutMs ?? 120_000);
        };
        touch();
        try {
            if (request.stream) {
                const reader = res.body!.getReader();
                const decoder = new TextDecoder();
                let buf = '';
                for (;;) {
                    const { value, done } = await reader.read();
                    touch();
                    if (value) buf += decoder.decode(value, { stream: true });
                    let i: number;
                    while ((i = buf.indexOf('\n\n')) >= 0) {
                        const block = buf.slice(0, i);
                        buf = buf.slice(i + 2);
                        const line = block.split('\n').find((l) => l.startsWith('data:'));
                        if (!line) continue;
                        const f = opener.open(frameFromText(line.slice(5)));
                        const json = JSON.parse(f.plaintext.toString('utf8'));
                        if (f.final) final = json;
                        else {
                            const d = json.choices?.[0]?.delta ?? {};
                            content += d.content ?? '';
                            reasoning += d.reasoning_content ?? '';
                            delivered = true;
                            await onChunk?.(json);
                        }
                    }
                    if (done) break;
                }
                opener.finish();
            } else {
                const f = opener.open(Buffer.from(await res.arrayBuffer()));
                opener.finish();
                final = JSON.parse(f.plaintext.toString('utf8'));
                const m = final.choices?.[0]?.message ?? {};
                content = m.content ?? '';
                reasoning = m.reasoning_content ?? '';
            }
        } catch (e) {
            if (e instanceof CocoonError) throw e;
            // The worker may hold a receipt for what it delivered (stored before the final frame that never came).
            await this.recoverAfterFailure(w, row.address, delivered);
            throw new CocoonError(502, 'worker_failed', `the worker's answer broke off: ${(e as Error).message}`, delivered);
        } finally {
            clearTimeout(idle);
        }

        const receipt: ReceiptWire | null = final?.receipt ?? null;
        let fields: ReceiptFields | null = null;
        let cost = 0n;
        try {
            // A cumulative above what is verified plus this receipt's cost: receipts between were lost on the way. Fetch them first.
            if (receipt && /^[0-9]+$/.test(String(receipt.cumulativeCost)) && /^[0-9]+$/.test(String(receipt.cost)) && BigInt(receipt.cumulativeCost) - BigInt(receipt.cost) > row.verified) {
                try {
                    await this.recoverReceipts(w, row.address, attemptId, BigInt(receipt.cumulativeCost) - BigInt(receipt.cost));
                } catch (e) {
                    if (e instanceof ReceiptRejected) throw e;
                    // Nothing recovered: the gap stays, and the receipt in hand is judged (and rejected) as it is.
                    this.log('receipt recovery failed', { worker: w.workerStake.toString(), error: (e as Error).message });
                }
                row = this.o.store.channel(row.address) ?? row;
            }
            if (receipt) {
                fields = await this.judge('live', w, row.address, row.verified, sent, receipt, { content, reasoning, usage: final?.usage });
                cost = fields.cost;
            } else if (this.usageCost(w, final) !== 0n) {
                throw new ReceiptRejected('usage costs something but no receipt came [receipt-present]', ['receipt-present']);
            }
        } catch (e) {
            if (!(e instanceof ReceiptRejected)) throw e;
            // Never paid later either: a recovered copy would miss the rules only the live answer can judge.
            this.o.store.setAttemptState(attemptId, 'refused');
            throw this.rejected(w, row.address, e.boc ?? receipt?.boc ?? '', e, delivered);
        }
        if (fields) {
            // Only now, with the receipt verified, is the voucher that pays for it signed.
            const v = signVoucher(Address.parse(row.address), fields.cumulativeCost, this.o.channelKey.secretKey);
            this.o.store.recordPayment(
                { channel: row.address, requestId: fields.requestId.toString(), boc: receipt!.boc, cost: fields.cost, cumulative: fields.cumulativeCost, model: w.model, receivedAt: Math.floor(Date.now() / 1000) },
                { total: v.total, signature: v.signature },
                attemptId,
            );
        } else this.o.store.setAttemptState(attemptId, 'refused'); // nothing charged for it: no receipt may name it later

        const latencyMs = performance.now() - t0;
        return { worker: w, channel: row.address, final, content, receipt, fields, cost, latencyMs };
    }

    private usageCost(w: WorkerInfo, final: any): bigint {
        const u = final?.usage ?? {};
        return receiptMaxCost(w.prices, {
            prompt: BigInt(u.prompt_tokens ?? 0),
            cached: BigInt(u.prompt_tokens_details?.cached_tokens ?? 0),
            completion: BigInt(u.completion_tokens ?? 0),
            reasoning: BigInt(u.completion_tokens_details?.reasoning_tokens ?? 0),
        });
    }

    /**
     * Judges a receipt, live or recovered, by every rule of ./receiptRules.ts
     * for its path. Returns its fields when it may be paid; throws
     * ReceiptRejected naming each rule it breaks.
     */
    private async judge(path: ReceiptPath, w: WorkerInfo, channel: string, verified: bigint, sent: SentRequest, wire: ReceiptWire, delivered?: Delivered, opened?: OpenedReceipt): Promise<ReceiptFields> {
        const what = path === 'live' ? 'receipt' : 'recovered receipt';
        const boc = typeof wire?.boc === 'string' ? wire.boc : '';
        let r = opened;
        if (!r) {
            try {
                r = openReceipt(wire);
            } catch (e) {
                throw new ReceiptRejected(`${what}: malformed: ${(e as Error).message} [${MALFORMED}]`, [MALFORMED], boc);
            }
        }
        const broken = await checkReceipt(r, {
            path,
            worker: w,
            channel: Address.parse(channel),
            verified,
            request: sent,
            delivered,
            wire,
            now: this.now(),
            terms: { cached: () => this.cachedSchedule(w), fresh: () => this.freshSchedule(w) },
        });
        if (broken.length > 0)
            throw new ReceiptRejected(
                `${what}: ${broken.map((b) => `${b.message} [${b.rule}]`).join('; ')}`,
                broken.map((b) => b.rule),
                boc,
            );
        return r.fields;
    }

    /**
     * The schedule receipts are first judged by: the one last read from chain
     * while it is under a minute old (a cut binds only after the grace, and an
     * announced raise may be replaced, so an old copy must not be trusted
     * long); none, and the price rule reads the chain. The terms discovery saw
     * in force are never used: they say nothing of a receipt's own time.
     */
    private cachedSchedule(w: WorkerInfo): PriceSchedule | undefined {
        const hit = this.schedules.get(w.workerStake.toString());
        if (hit && Date.now() - hit.at < SCHEDULE_TTL_MS) return hit.schedule;
        return undefined;
    }

    /** The worker's price schedule read from chain now (and cached). */
    private async freshSchedule(w: WorkerInfo): Promise<PriceSchedule> {
        const schedule = await this.o.opener.open(ExtendedWorkerStake.fromAddress(w.workerStake)).getPriceSchedule();
        this.schedules.set(w.workerStake.toString(), { at: Date.now(), schedule });
        return schedule;
    }

    /** Records a rejected receipt as evidence, excludes the worker, and returns the error for the caller (nothing is signed). */
    private rejected(w: WorkerInfo, channel: string, boc: string, e: ReceiptRejected, delivered: boolean): CocoonError {
        this.o.store.recordBadReceipt(channel, w.workerStake.toString(), boc, e.message);
        this.excluded.set(w.workerStake.toString(), e.message);
        this.log('receipt rejected; worker excluded and not paid', { worker: w.workerStake.toString(), reason: e.message });
        // Only a broken price rule can be proven, and proveOvercharge files only what the WorkerStake would slash for.
        if (e.overcharge && boc && this.o.submitFraudProofs !== false) this.fraudProofs.push(this.proveOvercharge(w, boc));
        return new CocoonError(502, 'receipt_rejected', `the worker's receipt was rejected: ${e.message}`, delivered, e.rules);
    }

    /** After a call that ended without a receipt: pays any receipt the worker stored for it; a worker still down is left for later. */
    private async recoverAfterFailure(w: WorkerInfo, channel: string, delivered = false): Promise<void> {
        await this.recoverOrReject(w, channel, delivered);
    }

    /** recoverReceipts, with a bad recovered receipt handled as any bad receipt; an unreachable worker counts as nothing recovered. */
    private async recoverOrReject(w: WorkerInfo, channel: string, delivered: boolean): Promise<number> {
        try {
            return await this.recoverReceipts(w, channel);
        } catch (e) {
            if (e instanceof ReceiptRejected) throw this.rejected(w, channel, e.boc ?? '', e, delivered);
            this.log('receipt recovery failed; retried on the next request', { worker: w.workerStake.toString(), error: (e as Error).message });
            return 0;
        }
    }

    /**
     * Receipt recovery: reads from the worker the receipts it stored on
     * `channel` above the verified cumulative cost (their final frames never
     * arrived), and pays each, in order, only if it answers one of this
     * client's own requests still waiting for a receipt (each used once;
     * never `exclude`, the request in flight) and keeps every rule of
     * ./receiptRules.ts that a receipt without its answer can be judged by
     * (the same rules as a live receipt: attested key, worker, channel,
     * model, usage within that request's bounds, time, price, cumulative
     * chain without a gap).
     * Stops at `upTo` (the receipt in hand starts above it). Returns how
     * many were paid; throws ReceiptRejected on the first bad one.
     */
    async recoverReceipts(w: WorkerInfo, channel: string, exclude?: number, upTo?: bigint): Promise<number> {
        let recovered = 0;
        for (let round = 0; round < 100; round++) {
            const row = this.o.store.channel(channel);
            if (!row) return recovered;
            const after = row.verified;
            const timestamp = Math.floor(Date.now() / 1000);
            const signature = sign(receiptsQueryDigest(Address.parse(channel), after, timestamp), this.o.channelKey.secretKey);
            const res = await fetch(`${w.endpoint}/v1/channels/${encodeURIComponent(channel)}/receipts?after=${after}`, {
                headers: { [RECEIPTS_TIMESTAMP_HEADER]: String(timestamp), [RECEIPTS_SIGNATURE_HEADER]: signature.toString('hex') },
                signal: AbortSignal.timeout(this.o.connectTimeoutMs ?? 30_000),
            });
            if (res.status !== 200) throw new Error(`the worker refused the receipts query (${res.status}): ${await res.text().catch(() => '')}`);
            const answer = (await res.json()) as ReceiptsAnswer;
            if (!Array.isArray(answer?.receipts)) throw new Error('the worker answered the receipts query with no receipt list');
            if (answer.receipts.length === 0) return recovered;
            let verified = after;
            const attempts = this.o.store.pendingAttempts(channel).filter((a) => a.id !== exclude);
            for (const wire of answer.receipts) {
                if (upTo !== undefined && /^[0-9]+$/.test(String(wire?.cumulativeCost)) && BigInt(wire.cumulativeCost) > upTo) return recovered;
                const { fields, attempt } = await this.verifyRecovered(w, channel, verified, attempts, wire);
                attempts.splice(attempts.indexOf(attempt), 1);
                const v = signVoucher(Address.parse(channel), fields.cumulativeCost, this.o.channelKey.secretKey);
                this.o.store.recordPayment(
                    { channel, requestId: fields.requestId.toString(), boc: wire.boc, cost: fields.cost, cumulative: fields.cumulativeCost, model: w.model, receivedAt: Math.floor(Date.now() / 1000) },
                    { total: v.total, signature: v.signature },
                    attempt.id,
                );
                verified = fields.cumulativeCost;
                recovered++;
                this.log('lost receipt recovered and paid', { channel, requestId: fields.requestId.toString(), cumulative: verified.toString() });
            }
            if (!answer.more) return recovered;
        }
        return recovered;
    }

    /**
     * A recovered receipt: matched to one of this client's own requests still
     * waiting for a receipt (each used once), then judged by the same rules
     * as a live receipt (see judge). Throws ReceiptRejected.
     */
    private async verifyRecovered(w: WorkerInfo, channel: string, verified: bigint, attempts: AttemptRow[], wire: ReceiptWire): Promise<{ fields: ReceiptFields; attempt: AttemptRow }> {
        const boc = typeof wire?.boc === 'string' ? wire.boc : '';
        let r: OpenedReceipt;
        try {
            r = openReceipt(wire);
        } catch (e) {
            throw new ReceiptRejected(`recovered receipt: malformed: ${(e as Error).message} [${MALFORMED}]`, [MALFORMED], boc);
        }
        const hash = r.fields.requestHash.toString(16).padStart(64, '0');
        const attempt = attempts.find((a) => a.requestHash === hash);
        if (!attempt)
            throw new ReceiptRejected('recovered receipt: its request hash matches no request of ours still waiting for a receipt (unknown, or already paid) [request]', ['request'], boc);
        const sent: SentRequest = { requestHash: attempt.requestHash, promptBound: attempt.promptBound, maxTokens: attempt.maxTokens, startedAt: attempt.at };
        return { fields: await this.judge('recovered', w, channel, verified, sent, wire, undefined, r), attempt };
    }

    /**
     * Closes a channel. Cooperatively first: the final voucher (the total of
     * every verified receipt) goes to the worker, which co-signs a
     * CloseApproval; both go on chain, and the channel pays the worker and
     * refunds the rest at once. If the worker cannot or will not co-sign
     * (unreachable, refuses), the client asks to close instead: the worker
     * may redeem its last voucher during the close delay, then anyone
     * finalises (`finalizeChannel`). Runs with no request to that worker in
     * flight, so the final total cannot miss one.
     */
    async closeChannel(address: string, opts: { cooperative?: boolean } = {}): Promise<CloseResult> {
        const row = this.o.store.channel(Address.parse(address).toString());
        if (!row) throw new CocoonError(404, 'unknown_channel', `${address} is not in this client's ledger`);
        return this.withChannelAt(row.address, row.workerStake, async () => {
            const ch = this.channelContract(row.address);
            const state = await ch.getState();
            if (state.status === ChannelStatus.Closed) {
                this.o.store.setState(row.address, 'closed');
                return { mode: 'already-closed', paid: state.paid, refunded: state.refunded };
            }
            const final = this.o.store.latestVoucher(row.address)?.total ?? 0n;
            let why = 'cooperative close not attempted';
            if (opts.cooperative !== false) {
                try {
                    const voucher = signVoucher(Address.parse(row.address), final, this.o.channelKey.secretKey);
                    const ws = this.o.opener.open(ExtendedWorkerStake.fromAddress(Address.parse(row.workerStake)));
                    const endpoint = (await ws.getListing()).endpoint.replace(/\/+$/, '');
                    const res = await fetch(`${endpoint}/v1/channels/${encodeURIComponent(row.address)}/close`, {
                        method: 'POST',
                        headers: { 'content-type': 'application/json' },
                        body: JSON.stringify({ total: final.toString(), signature: voucher.signature.toString('hex') }),
                        signal: AbortSignal.timeout(this.o.connectTimeoutMs ?? 30_000),
                    });
                    const body = (await res.json().catch(() => ({}))) as { signature?: string; total?: string; error?: { message?: string } };
                    if (res.status !== 200) throw new Error(`the worker refused (${res.status}): ${body.error?.message ?? 'no reason given'}`);
                    const workerSignature = Buffer.from(String(body.signature ?? ''), 'hex');
                    if (body.total !== final.toString() || !verifyCloseApproval(Address.parse(row.address), final, workerSignature, keyBuf(state.workerKey)))
                        throw new Error("the worker's approval does not verify for this channel and total");
                    this.log('closing channel cooperatively', { channel: row.address, total: final.toString() });
                    await ch.sendCooperativeClose(this.o.wallet, voucher, workerSignature);
                    const closed = await this.waitFor('the cooperative close', () => ch.getState(), (st) => st.status === ChannelStatus.Closed);
                    this.o.store.setState(row.address, 'closed');
                    return { mode: 'cooperative', paid: closed.paid, refunded: closed.refunded };
                } catch (e) {
                    if (e instanceof CocoonError) throw e;
                    why = (e as Error).message;
                    this.log('cooperative close failed; asking to close instead', { channel: row.address, reason: why });
                }
            }
            if (state.status === ChannelStatus.Open) {
                await ch.sendRequestClose(this.o.wallet);
                await this.waitFor('the close request', async () => Number(await ch.getStatus()), (st) => st === ChannelStatus.Closing);
            }
            this.o.store.setState(row.address, 'closing');
            const deadline = Number(await ch.getCloseDeadline());
            return { mode: 'requested', paid: state.paid, refunded: 0n, closeDeadline: deadline, reason: why };
        });
    }

    /**
     * Submits an overcharging receipt as a fraud proof, but only one the
     * WorkerStake would accept: signed by its key and naming it, the worker
     * still slashable, and `receiptOvercharges` true by the schedule read
     * fresh from chain, the chain's time (the opener's, else the client's
     * clock) and the WorkerStake's fraud-proof window. A refused proof would
     * only waste gas, and an honest worker must never be slashable.
     */
    async proveOvercharge(w: WorkerInfo, boc: string): Promise<FraudProofOutcome> {
        const worker = w.workerStake.toString();
        try {
            const { receipt, signature } = openSignedReceipt(Cell.fromBase64(boc));
            const f = parseReceipt(receipt);
            const ws = this.o.opener.open(ExtendedWorkerStake.fromAddress(w.workerStake));
            const [state, schedule, chainNow, window] = await Promise.all([ws.getState(), ws.getPriceSchedule(), this.chainNow(), this.fraudProofWindow(ws)]);
            let why: string | undefined;
            if (!f.workerStake.equals(w.workerStake) || !verifyReceipt(receipt, signature, keyBuf(state.workerKey))) why = 'the receipt is not signed by this WorkerStake\'s key for it';
            else if (state.stake <= 0n || ![WorkerStatus.Pending, WorkerStatus.Active, WorkerStatus.Unbonding].includes(Number(state.status))) why = 'the worker is not slashable now';
            else if (window === undefined) why = "the WorkerStake's fraud-proof window is unknown (its config version differs from Staking's)";
            else if (!receiptOvercharges(f, schedule, chainNow, window)) why = 'the WorkerStake would not judge it an overcharge (within chargeable terms, or too old to judge)';
            if (why) {
                this.log('overcharge fraud proof not filed', { worker, reason: why });
                return { filed: false, reason: why };
            }
            await ws.sendProveOvercharge(this.o.wallet, Cell.fromBase64(boc));
            this.log('overcharge fraud proof submitted', { worker });
            return { filed: true };
        } catch (e) {
            this.log('fraud proof failed', { worker, error: (e as Error).message });
            return { filed: false, reason: (e as Error).message };
        }
    }

    /** Chain time: the opener's when it tells it, else the client's clock. */
    private async chainNow(): Promise<number> {
        if (this.o.opener.now) {
            try {
                return await this.o.opener.now();
            } catch {
                /* fall back to the client's clock */
            }
        }
        return this.now();
    }

    /** The fraud-proof window the WorkerStake judges by: Staking's, when both hold the same config version (the WorkerStake has no getter for its own). */
    private async fraudProofWindow(ws: { getConfigVersion(): Promise<bigint> }): Promise<number | undefined> {
        const staking = this.o.opener.open(ExtendedStaking.fromAddress(this.o.staking));
        const [mine, network] = await Promise.all([ws.getConfigVersion(), staking.getConfigVersion()]);
        if (mine !== network) return undefined;
        return Number((await staking.getParams()).fraudProofWindow);
    }
}

export interface FraudProofOutcome {
    filed: boolean;
    /** Why it was not filed. */
    reason?: string;
}

/** How long a price schedule read from chain is trusted (well under PRICE_CUT_GRACE; see cachedSchedule). */
const SCHEDULE_TTL_MS = 60_000;

/** The channels one call holds (see CocoonClient.withChannel). */
interface ChannelLease {
    worker: string;
    addresses: Set<string>;
    /** The free channel it found; none: it may open one. */
    preferred?: ChannelRow;
    /** It holds one of the worker's opening slots. */
    opening: boolean;
}

export interface CloseResult {
    /** cooperative: closed now; requested: closing, finalise after closeDeadline; already-closed. */
    mode: 'cooperative' | 'requested' | 'already-closed';
    paid: bigint;
    refunded: bigint;
    closeDeadline?: number;
    /** Why the cooperative close did not happen (mode requested). */
    reason?: string;
}

class ReceiptRejected extends Error {
    constructor(
        message: string,
        /** Names of the rules broken (./receiptRules.ts). */
        readonly rules: readonly string[],
        /** The rejected receipt. */
        readonly boc?: string,
    ) {
        super(message);
    }

    /** The price rule is broken: the one breach the chain may also punish. */
    get overcharge(): boolean {
        return this.rules.includes('price');
    }
}

/** The worker's bound on a request's prompt tokens (worker/src/server.ts): no tokenizer makes more tokens than bytes, plus template overhead. */
function promptBoundOf(request: ChatCompletionRequest): number {
    return request.messages.reduce((n, m) => n + Buffer.byteLength(contentText(m.content), 'utf8') + 16, 16);
}
