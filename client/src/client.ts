import { randomInt } from 'node:crypto';
import { Address, Cell, Sender } from '@ton/core';
import type { KeyPair } from '@ton/crypto';
import { ENVELOPE_MEDIA_TYPE, ResponseOpener, frameFromText } from '../../lib/hpke';
import { ChatCompletionRequest, PaidRequest, ReceiptWire, encodeVoucher, requestDigest, responseDigest, sealPaidRequest } from '../../lib/protocol';
import { ChannelStatus, ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { ExtendedEscrow } from '../../wrappers/Escrow';
import { ExtendedStaking } from '../../wrappers/Staking';
import { ExtendedWorkerStake } from '../../wrappers/WorkerStake';
import { ReceiptFields, openSignedReceipt, parseReceipt, receiptMaxCost, verifyReceipt } from '../../wrappers/receipt';
import { keyToInt, signVoucher } from '../../wrappers/voucher';
import type { ContractOpener } from '../../worker/src/chain';
import { Discovery, WorkerInfo } from './discovery';
import { ChannelRow, ClientStore } from './store';

/**
 * The Cocoon client SDK: pays for private inference one verified receipt at
 * a time. For each request it (1) makes sure an open, funded channel to the
 * worker exists, (2) seals the request to the worker's attested X25519 key
 * with the voucher that covers every receipt verified so far (the worker's
 * `maxUnpaidReceipts` rule), (3) opens the sealed answer, and (4) verifies
 * the receipt (attested key, stake, channel, model, usage and response hash
 * against what was delivered, cost within the price terms, cumulative cost)
 * before it signs the voucher that pays for it. A receipt that fails any
 * check is kept as evidence, the worker is excluded, and nothing is signed.
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
    /** Submit overcharge fraud proofs on chain (default true). */
    submitFraudProofs?: boolean;
    log?: (msg: string, extra?: Record<string, unknown>) => void;
}

export class CocoonError extends Error {
    constructor(
        readonly status: number,
        readonly code: string,
        message: string,
        /** True once any token reached the caller: another worker must not be tried. */
        readonly delivered = false,
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
    private readonly checkedAt = new Map<string, number>();
    /** Workers caught with a bad receipt (by WorkerStake address). */
    readonly excluded = new Map<string, string>();
    readonly stats = new Map<string, WorkerStats>();

    constructor(readonly o: ClientOptions) {
        this.discovery = new Discovery(o.opener, o.staking);
        // A worker once caught with a bad receipt stays excluded across restarts.
        for (const b of o.store.badReceipts()) this.excluded.set(b.workerStake, b.reason);
    }

    private log(msg: string, extra?: Record<string, unknown>) {
        this.o.log?.(msg, extra);
    }

    /** Verified workers of `model`, cached for 30 s; excluded workers left out. */
    async workers(model: string, refresh = false): Promise<WorkerInfo[]> {
        const hit = this.cache.get(model);
        let list: WorkerInfo[];
        if (!refresh && hit && Date.now() - hit.at < 30_000) list = hit.workers;
        else {
            const r = await this.discovery.workers(model);
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

    /** An open channel to `w` with at least `topUpBelow` unspent (opened or topped up as needed). */
    async ensureChannel(w: WorkerInfo, minFree = 0n): Promise<ChannelRow> {
        const ws = w.workerStake.toString();
        let row = this.o.store.openChannelFor(ws);
        const recheck = (this.o.channelRecheckSec ?? 30) * 1000;
        if (row) {
            const free = row.deposit - row.verified;
            const stale = Date.now() - (this.checkedAt.get(row.address) ?? 0) > recheck;
            if (stale || free < this.o.topUpBelow || free < minFree) {
                const ch = this.channelContract(row.address);
                const deployed = await this.o.opener.isDeployed(Address.parse(row.address));
                const status = deployed ? (Number(await ch.getStatus()) as ChannelStatus) : ChannelStatus.New;
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
        return row ?? (await this.openChannel(w));
    }

    async openChannel(w: WorkerInfo): Promise<ChannelRow> {
        const staking = this.o.opener.open(ExtendedStaking.fromAddress(this.o.staking));
        const escrowAddr = (await staking.getLinks()).escrow;
        if (!escrowAddr) throw new CocoonError(503, 'no_escrow', 'the network has no Escrow configured');
        const escrow = this.o.opener.open(ExtendedEscrow.fromAddress(escrowAddr));
        // A fresh nonce gives every channel a new address (no voucher crosses channels).
        const nonce = BigInt(Date.now()) * 1000n + BigInt(randomInt(1000));
        const address = (await ExtendedPaymentChannel.fromInit(escrowAddr, this.o.wallet.address, w.workerStake, nonce)).address;
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
    async call(w: WorkerInfo, request: ChatCompletionRequest, onChunk?: (chunk: any) => void | Promise<void>): Promise<CallResult> {
        // The worker knows the model by its wire name (the app may have used the Registry's display name).
        const req = { ...request, model: w.model };
        return this.serial(w.workerStake.toString(), () => this.callNow(w, req, onChunk, true));
    }

    private async callNow(w: WorkerInfo, request: ChatCompletionRequest, onChunk: ((chunk: any) => void | Promise<void>) | undefined, mayTopUp: boolean): Promise<CallResult> {
        const t0 = performance.now();
        const row = await this.ensureChannel(w);
        const voucher = this.o.store.latestVoucher(row.address);
        const paid: PaidRequest = {
            version: 1,
            channel: row.address,
            ...(voucher && voucher.total > 0n ? { voucher: encodeVoucher({ channel: Address.parse(row.address), total: voucher.total, signature: voucher.signature }) } : {}),
            request,
        };
        const sealed = await sealPaidRequest(w.encryptionKey, paid);
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(), this.o.connectTimeoutMs ?? 30_000);
        let res: Response;
        try {
            res = await fetch(`${w.endpoint}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': ENVELOPE_MEDIA_TYPE }, body: sealed.envelope, signal: ac.signal });
        } catch (e) {
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
            if (res.status === 402 && err.code === 'insufficient_deposit' && mayTopUp) {
                await this.topUp(row, this.o.topUpAmount ?? this.o.deposit);
                return this.callNow(w, request, onChunk, false);
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
            throw new CocoonError(502, 'worker_failed', `the worker's answer broke off: ${(e as Error).message}`, delivered);
        } finally {
            clearTimeout(idle);
        }

        const receipt: ReceiptWire | null = final?.receipt ?? null;
        let fields: ReceiptFields | null = null;
        let cost = 0n;
        try {
            if (receipt) {
                fields = await this.verify(w, row, request, sealed.plaintext, final, content, reasoning, receipt);
                cost = fields.cost;
            } else if (this.usageCost(w, final) !== 0n) {
                throw new ReceiptRejected('usage costs something but no receipt came');
            }
        } catch (e) {
            if (!(e instanceof ReceiptRejected)) throw e;
            this.o.store.recordBadReceipt(row.address, w.workerStake.toString(), receipt?.boc ?? '', e.message);
            this.excluded.set(w.workerStake.toString(), e.message);
            this.log('receipt rejected; worker excluded and not paid', { worker: w.workerStake.toString(), reason: e.message });
            if (e.overcharge && receipt && this.o.submitFraudProofs !== false) void this.proveOvercharge(w, receipt.boc);
            throw new CocoonError(502, 'receipt_rejected', `the worker's receipt was rejected: ${e.message}`, delivered);
        }
        if (fields) {
            // Only now, with the receipt verified, is the voucher that pays for it signed.
            const v = signVoucher(Address.parse(row.address), fields.cumulativeCost, this.o.channelKey.secretKey);
            this.o.store.recordPayment(
                { channel: row.address, requestId: fields.requestId.toString(), boc: receipt!.boc, cost: fields.cost, cumulative: fields.cumulativeCost, model: w.model, receivedAt: Math.floor(Date.now() / 1000) },
                { total: v.total, signature: v.signature },
            );
        }
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

    /** Every check a receipt must pass before it is paid. Throws ReceiptRejected. */
    private async verify(w: WorkerInfo, row: ChannelRow, request: ChatCompletionRequest, plaintext: Buffer, final: any, content: string, reasoning: string, wire: ReceiptWire): Promise<ReceiptFields> {
        let cell: Cell;
        let sig: Buffer;
        let f: ReceiptFields;
        try {
            const opened = openSignedReceipt(Cell.fromBase64(wire.boc));
            cell = opened.receipt;
            sig = opened.signature;
            f = parseReceipt(cell);
        } catch (e) {
            throw new ReceiptRejected(`malformed receipt: ${(e as Error).message}`);
        }
        if (!verifyReceipt(cell, sig, w.workerKey)) throw new ReceiptRejected('signature is not by the attested worker key');
        if (!f.workerStake.equals(w.workerStake)) throw new ReceiptRejected('receipt names another WorkerStake');
        if (!f.channel.equals(Address.parse(row.address))) throw new ReceiptRejected('receipt names another channel');
        if (f.modelId !== w.modelId) throw new ReceiptRejected('receipt names another model');
        const u = final.usage ?? {};
        const reported = {
            prompt: BigInt(u.prompt_tokens ?? -1),
            cached: BigInt(u.prompt_tokens_details?.cached_tokens ?? 0),
            completion: BigInt(u.completion_tokens ?? -1),
            reasoning: BigInt(u.completion_tokens_details?.reasoning_tokens ?? 0),
        };
        for (const k of ['prompt', 'cached', 'completion', 'reasoning'] as const)
            if (reported[k] !== f.usage[k]) throw new ReceiptRejected(`receipt usage.${k} ${f.usage[k]} differs from the usage delivered (${reported[k]})`);
        const maxTokens = request.max_completion_tokens ?? request.max_tokens;
        if (maxTokens != null && f.usage.completion > BigInt(maxTokens)) throw new ReceiptRejected(`receipt charges ${f.usage.completion} completion tokens, more than max_tokens ${maxTokens}`);
        if (content.length + reasoning.length > 0 && f.usage.completion === 0n) throw new ReceiptRejected('text was delivered but no completion token is counted');
        if (f.responseHash !== BigInt('0x' + responseDigest(content, reasoning).toString('hex'))) throw new ReceiptRejected('receipt response hash does not match the text delivered');
        if (f.requestHash !== BigInt('0x' + requestDigest(plaintext).toString('hex'))) throw new ReceiptRejected('receipt request hash does not match the request sent');
        let limit = receiptMaxCost(w.prices, f.usage);
        if (f.cost > limit) {
            // Prices may have changed since discovery: judge by the terms in force at the receipt's time, as the chain does.
            const p = await this.o.opener.open(ExtendedWorkerStake.fromAddress(w.workerStake)).getPricesAt(f.time);
            limit = receiptMaxCost({ prompt: p.prompt, cached: p.cached, completion: p.completion, reasoning: p.reasoning }, f.usage);
            if (f.cost > limit) throw new ReceiptRejected(`receipt cost ${f.cost} exceeds ${limit} nanoTON, the most the price terms allow`, true);
        }
        if (f.cost <= 0n) throw new ReceiptRejected('receipt cost is not positive');
        if (f.cumulativeCost !== row.verified + f.cost)
            throw new ReceiptRejected(`receipt cumulative cost ${f.cumulativeCost} is not the ${row.verified} already verified plus ${f.cost}`);
        if (String(f.cost) !== wire.cost || String(f.cumulativeCost) !== wire.cumulativeCost || String(f.requestId) !== wire.requestId)
            throw new ReceiptRejected('receipt summary differs from the signed receipt');
        return f;
    }

    /** Submits an overcharging receipt as a fraud proof (the WorkerStake checks it and slashes). */
    async proveOvercharge(w: WorkerInfo, boc: string): Promise<void> {
        try {
            const ws = this.o.opener.open(ExtendedWorkerStake.fromAddress(w.workerStake));
            await ws.sendProveOvercharge(this.o.wallet, Cell.fromBase64(boc));
            this.log('overcharge fraud proof submitted', { worker: w.workerStake.toString() });
        } catch (e) {
            this.log('fraud proof failed', { worker: w.workerStake.toString(), error: (e as Error).message });
        }
    }
}

class ReceiptRejected extends Error {
    constructor(
        message: string,
        readonly overcharge = false,
    ) {
        super(message);
    }
}
