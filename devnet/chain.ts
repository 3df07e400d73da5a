/**
 * The devnet chain: one @ton/sandbox Blockchain plus what a toncenter-like
 * node needs on top of it: a wall-clock chain time, an in-order background
 * queue for sent messages (a "block" per processed message chain), a
 * per-account transaction index for getTransactions, pre-funded development
 * wallets, a faucet and crash-safe persistence.
 */
import { Address, Cell, Message, Transaction, TupleItem, beginCell, external, loadMessage, loadTransaction } from '@ton/core';
import { Blockchain, GetMethodError, BlockchainTransaction, SendMessageIterParams, createShardAccount, internal, snapshotFromSerializable, snapshotToSerializable } from '@ton/sandbox';
import { normalizedExtMessageHash } from '../wrappers/toncenter';
import type { Logger } from 'pino';
import { DevWallet, deriveDevWallets, knownWalletCodes } from './wallets';
import { ToncenterError, badRequest } from './toncenter';
import { loadStateFile, saveStateFile } from './state';
import { uint256ToBytes } from '../helpers/bytes';

export interface ChainOptions {
    mnemonic: string;
    /** Development accounts per wallet version. */
    accounts: number;
    /** Initial balance of each development wallet, in nanoTON. */
    walletBalance: bigint;
    /** Chain seconds per wall-clock second. */
    timeScale: number;
    /** Delay before each queued message chain runs, like a block interval. */
    blockDelayMs: number;
    /** Persist the chain here (see state.ts); in memory only when absent. */
    statePath?: string;
    /** Coalesces saves after bursts of activity. */
    saveDebounceMs?: number;
    logger: Logger;
}

export type TxRecord = { account: Address; lt: bigint; hash: Buffer; tx: Transaction; block: number };
export type Block = { seqno: number; utime: number; txs: { account: string; lt: string; hash: string }[] };

export type AccountInfo = {
    state: 'active' | 'uninitialized' | 'frozen';
    balance: bigint;
    code?: Cell;
    data?: Cell;
    frozenHash?: Buffer;
    lastTx?: { lt: bigint; hash: Buffer };
};

/** The config contract; Blueprint's getConfig() reads its data. */
const CONFIG_ADDRESS = Address.parse('-1:5555555555555555555555555555555555555555555555555555555555555555');
/**
 * Source address of faucet transfers. The faucet mints: its messages are
 * injected as if this account had sent them.
 */
export const FAUCET_ADDRESS = new Address(0, Buffer.from('cocoon-devnet-faucet'.padEnd(32, '.')));
const QUIET = { print: false, blockchainLogs: false, vmLogs: 'none', debugLogs: false } as const;

/**
 * Persisted state: the sandbox snapshot (accounts, lt, config) without its
 * transaction list, plus the devnet's own transaction log as the original
 * transaction BoCs (the sandbox re-serializes transactions, which does not
 * always reproduce their hashes), the blocks and the chain time.
 */
type PersistedChain = {
    chainTime: number;
    blocks: Block[];
    transactions: string[];
    snapshot: ReturnType<typeof snapshotToSerializable>;
};

/**
 * Chain time: follows the wall clock (scaled), never goes backwards, and
 * can be moved forward on demand to show timelocks and close windows.
 */
export class ChainClock {
    private anchorWallMs = Date.now();
    private anchorChain: number;
    private last = 0;

    constructor(
        start: number,
        private readonly scale: number,
    ) {
        this.anchorChain = start;
    }

    now(): number {
        const t = Math.floor(this.anchorChain + ((Date.now() - this.anchorWallMs) / 1000) * this.scale);
        this.last = Math.max(this.last, t);
        return this.last;
    }

    advance(seconds: number): number {
        this.anchorChain += seconds;
        return this.now();
    }
}

export class DevnetChain {
    readonly wallets: DevWallet[];
    readonly clock: ChainClock;
    private readonly txs = new Map<string, TxRecord[]>();
    /** Every transaction, in execution order (what the state file keeps). */
    private readonly log: Transaction[] = [];
    private readonly blocks: Block[];
    private tail: Promise<unknown> = Promise.resolve();
    private pending = 0;
    private saveTimer?: NodeJS.Timeout;
    private saving: Promise<void> = Promise.resolve();
    private dirty = false;
    private closed = false;
    private readonly walletCodes = new Set(knownWalletCodes().keys());

    private constructor(
        readonly blockchain: Blockchain,
        private readonly opts: ChainOptions,
        wallets: DevWallet[],
        blocks: Block[],
        chainTime: number,
    ) {
        this.wallets = wallets;
        this.blocks = blocks;
        this.clock = new ChainClock(chainTime, opts.timeScale);
    }

    /** Loads the chain from `statePath` (or its `.prev`), else creates a fresh, funded one. */
    static async create(opts: ChainOptions): Promise<DevnetChain> {
        const log = opts.logger;
        const { wallets } = await deriveDevWallets(opts.mnemonic, opts.accounts);
        // Libraries that masterchain accounts publish become global, as on a real network (the channel code's, by
        // deployNetwork): every channel names its code by hash.
        const blockchain = await Blockchain.create({ autoDeployLibs: true });
        blockchain.verbosity = QUIET;

        const loaded = opts.statePath ? await loadStateFile(opts.statePath) : undefined;
        if (loaded) {
            if (loaded.source === 'prev') log.warn({ problem: loaded.problem }, 'state file unusable; recovered the previous snapshot');
            const persisted = JSON.parse(loaded.payload) as PersistedChain;
            await blockchain.loadFrom(snapshotFromSerializable(persisted.snapshot));
            blockchain.verbosity = QUIET;
            // Chain time never goes back, even if the wall clock is behind an advanced chain.
            const start = Math.max(persisted.chainTime, Math.floor(Date.now() / 1000));
            const chain = new DevnetChain(blockchain, opts, wallets, persisted.blocks, start);
            chain.reindex(persisted.transactions.map((b) => loadTransaction(Cell.fromBase64(b).beginParse())));
            log.info({ state: opts.statePath, source: loaded.source, blocks: chain.blocks.length }, 'devnet state loaded');
            return chain;
        }

        const chain = new DevnetChain(blockchain, opts, wallets, [], Math.floor(Date.now() / 1000));
        blockchain.now = chain.clock.now();
        for (const w of wallets) {
            // Deployed and funded from the start, so getWalletInformation shows seqno 0.
            await blockchain.setShardAccount(w.address, createShardAccount({ address: w.address, code: w.code, data: w.data, balance: opts.walletBalance }));
        }
        chain.addBlock([]); // genesis: the funded wallets
        log.info({ wallets: wallets.length }, 'fresh devnet created');
        return chain;
    }

    // ------------------------------------------------------------------
    // Time

    now(): number {
        const t = this.clock.now();
        this.blockchain.now = t;
        return t;
    }

    advanceTime(seconds: number): number {
        const t = this.clock.advance(seconds);
        this.blockchain.now = t;
        this.opts.logger.info({ seconds, now: t }, 'chain time advanced');
        this.markDirty();
        return t;
    }

    // ------------------------------------------------------------------
    // The message queue

    /** Messages waiting in the queue or being processed. */
    get queued(): number {
        return this.pending;
    }

    /** Runs `job` after every earlier job, as a block of its own. */
    private enqueue<T>(what: string, job: () => Promise<T>, record?: (result: T) => Transaction[]): Promise<T> {
        this.pending++;
        const run = async () => {
            try {
                if (this.opts.blockDelayMs > 0) await new Promise((r) => setTimeout(r, this.opts.blockDelayMs));
                this.now();
                const result = await job();
                const txs = record ? record(result) : [];
                this.opts.logger.debug({ job: what, transactions: txs.length }, 'block processed');
                if (txs.length > 0) this.addBlock(txs);
                return result;
            } finally {
                this.pending--;
            }
        };
        const p = this.tail.then(run, run);
        this.tail = p.catch(() => undefined);
        return p;
    }

    /** Waits until every message queued so far has been processed. */
    async idle(): Promise<void> {
        while (this.pending > 0) await this.tail;
    }

    /**
     * Accepts an external-in message for processing (as sendBoc does) and
     * returns at once; the message and everything it causes run in the
     * background, in the order received. Returns the message hashes.
     */
    sendExternal(cell: Cell): { hash: Buffer; hashNorm: Buffer; message: Message } {
        let message: Message;
        try {
            message = loadMessage(cell.beginParse());
        } catch (e) {
            throw badRequest(`BoC is not a valid message: ${e instanceof Error ? e.message : String(e)}`);
        }
        if (message.info.type !== 'external-in') {
            throw badRequest(`only external inbound messages can be sent, got ${message.info.type}`);
        }
        const hash = cell.hash();
        const hashNorm = normalizedExtMessageHash(message);
        const to = message.info.dest;
        const log = this.opts.logger;
        log.info({ msgHash: hash.toString('hex'), to: to.toString() }, 'external message accepted for processing');
        this.enqueue(
            'external',
            async () => {
                try {
                    return { transactions: await this.runChain(message) };
                } catch (e) {
                    // A real node drops externals the contract does not accept; so does the devnet.
                    log.warn({ msgHash: hash.toString('hex'), to: to.toString(), error: e instanceof Error ? e.message : String(e) }, 'external message rejected');
                    return undefined;
                }
            },
            (result) => {
                if (!result) return [];
                const txs = result.transactions;
                log.info(
                    {
                        msgHash: hash.toString('hex'),
                        transactions: txs.map((t) => ({
                            account: this.accountOf(t).toString(),
                            lt: t.lt.toString(),
                            aborted: t.description.type === 'generic' ? t.description.aborted : undefined,
                            exitCode: t.description.type === 'generic' && t.description.computePhase.type === 'vm' ? t.description.computePhase.exitCode : undefined,
                        })),
                    },
                    'message chain processed',
                );
                return txs;
            },
        ).catch((e) => log.error({ err: e }, 'message processing failed'));
        return { hash, hashNorm, message };
    }

    /** Mints `amount` nanoTON to `to` (a non-bounceable transfer from FAUCET_ADDRESS) and waits for it to land. */
    async faucet(to: Address, amount: bigint): Promise<{ lt: bigint; hash: Buffer } | undefined> {
        const txs = await this.enqueue(
            'faucet',
            () => this.runChain(internal({ from: FAUCET_ADDRESS, to, value: amount, bounce: false })),
            (r) => r,
        );
        const received = txs.find((t) => t.inMessage?.info.dest instanceof Address && t.inMessage.info.dest.equals(to));
        this.opts.logger.info({ to: to.toString(), amount: amount.toString() }, 'faucet transfer');
        return received ? { lt: received.lt, hash: received.hash() } : undefined;
    }

    /**
     * Fees of an external message, from emulating its first transaction on
     * the current state and rolling the state back. It runs in the queue, so
     * no sent message interleaves with it; a read arriving during the few
     * milliseconds of emulation may see the emulated account state.
     */
    async estimateFee(address: Address, body: Cell, init: { code?: Cell; data?: Cell }, ignoreChksig: boolean) {
        return this.enqueue('estimateFee', async () => {
            const snapshot = this.blockchain.snapshot();
            const message = external({
                to: address,
                body,
                init: init.code && init.data ? { code: init.code, data: init.data } : undefined,
            });
            try {
                const [tx] = await this.runChain(message, { ignoreChksig, limit: 1 });
                if (!tx) throw new ToncenterError(500, 'emulation produced no transaction');
                const d = tx.description;
                if (d.type !== 'generic') throw new ToncenterError(500, 'unexpected transaction type');
                const storage = d.storagePhase?.storageFeesCollected ?? 0n;
                const gas = d.computePhase.type === 'vm' ? d.computePhase.gasFees : 0n;
                const fwd = d.actionPhase?.totalFwdFees ?? 0n;
                const actionFees = d.actionPhase?.totalActionFees ?? 0n;
                const inFwd = tx.totalFees.coins - storage - gas - actionFees;
                return { in_fwd_fee: Number(inFwd > 0n ? inFwd : 0n), storage_fee: Number(storage), gas_fee: Number(gas), fwd_fee: Number(fwd) };
            } catch (e) {
                if (e instanceof ToncenterError) throw e;
                // The account refuses this message (no such account, no accept, a bad
                // signature): a fault of the message asked about, so a 4xx, in toncenter's shape.
                throw new ToncenterError(400, `cannot apply external message to current state: ${e instanceof Error ? e.message : String(e)}`);
            } finally {
                await this.blockchain.loadFrom(snapshot);
                this.blockchain.verbosity = QUIET;
            }
        });
    }

    /**
     * Runs `message` and every message it causes, in order, one transaction
     * at a time, choosing each transaction's time:
     *  - standard wallets (V3R2, V4R2, V5R1; or an empty account receiving
     *    plain value or a wallet's StateInit) run on the wall clock, capped by
     *    chain time. Ordinary clients sign wallet externals with valid_until =
     *    their wall clock + 60 s, so this keeps them working after the chain
     *    clock was advanced (admin/advance-time, --time-scale);
     *  - every other contract runs on chain time, so timelocks and close
     *    windows see the advanced clock.
     * The sandbox processes a chain breadth-first (FIFO), which the loop
     * mirrors to know the next transaction's account before running it.
     */
    private async runChain(message: Message, opts: { ignoreChksig?: boolean; limit?: number } = {}): Promise<BlockchainTransaction[]> {
        const chainNow = this.now();
        const wallNow = Math.min(chainNow, Math.floor(Date.now() / 1000));
        const params: SendMessageIterParams = { allowParallel: true, ignoreChksig: opts.ignoreChksig };
        const iter = await this.blockchain.sendMessageIter(message, params);
        const next: Message[] = [message];
        const txs: BlockchainTransaction[] = [];
        while (next.length > 0 && txs.length < (opts.limit ?? Infinity)) {
            const m = next.shift()!;
            // Mutating params between steps is how the sandbox takes a per-transaction time.
            params.now = await this.timeFor(m, chainNow, wallNow);
            let r: IteratorResult<BlockchainTransaction>;
            try {
                r = await iter.next();
            } catch (e) {
                // The first transaction failing means the message was not accepted: the caller decides.
                if (txs.length === 0) throw e;
                // Later ones are already part of the state: keep them indexed, report the rest as lost.
                this.opts.logger.error({ err: e, after: txs.length }, 'message chain stopped by an emulation error');
                break;
            }
            if (r.done) break;
            txs.push(r.value);
            for (const out of r.value.outMessages.values()) if (out.info.type === 'internal') next.push(out);
        }
        return txs;
    }

    private async timeFor(m: Message, chainNow: number, wallNow: number): Promise<number> {
        if (m.info.type === 'external-out') return chainNow;
        const contract = await this.blockchain.getContract(m.info.dest);
        const state = contract.accountState;
        const lastPaid = contract.account.account?.storageStats.lastPaid ?? 0;
        const isWalletCode = (code: Cell | null | undefined) => !!code && this.walletCodes.has(code.hash().toString('hex'));
        const wallet = state?.type === 'active' ? isWalletCode(state.state.code) : !m.init || isWalletCode(m.init.code);
        return wallet ? Math.max(wallNow, lastPaid) : chainNow;
    }

    // ------------------------------------------------------------------
    // Reads

    async account(address: Address): Promise<AccountInfo> {
        this.now();
        const contract = await this.blockchain.getContract(address);
        const state = contract.accountState;
        const lastTx = contract.lastTransactionLt > 0n ? { lt: contract.lastTransactionLt, hash: bigintToHash(contract.lastTransactionHash) } : undefined;
        if (!state || state.type === 'uninit') {
            if (address.equals(CONFIG_ADDRESS)) {
                // The sandbox keeps the config outside any account; expose it the way the config contract stores it.
                return { state: 'active', balance: 0n, code: new Cell(), data: beginCell().storeUint(0, 32).storeRef(this.blockchain.config).endCell() };
            }
            return { state: 'uninitialized', balance: contract.balance, lastTx };
        }
        if (state.type === 'frozen') return { state: 'frozen', balance: contract.balance, frozenHash: bigintToHash(state.stateHash), lastTx };
        return { state: 'active', balance: contract.balance, code: state.state.code ?? undefined, data: state.state.data ?? undefined, lastTx };
    }

    async runGetMethod(address: Address, method: string | number, stack: TupleItem[]): Promise<{ exitCode: number; gasUsed: number; stack: TupleItem[] }> {
        this.now();
        const contract = await this.blockchain.getContract(address);
        if (contract.accountState?.type !== 'active') {
            // tonlib's answer for a get method on an account without code.
            return { exitCode: -13, gasUsed: 0, stack: [] };
        }
        try {
            const res = await this.blockchain.runGetMethod(address, method, stack);
            return { exitCode: res.exitCode, gasUsed: Number(res.gasUsed), stack: res.stack };
        } catch (e) {
            if (e instanceof GetMethodError) return { exitCode: e.exitCode, gasUsed: Number(e.gasUsed), stack: [] };
            throw e;
        }
    }

    /**
     * Transactions of an account, newest first, starting at `lt` (inclusive;
     * the newest when absent) and stopping above `toLt`. With `hash`, the
     * starting transaction must have that hash.
     */
    transactions(address: Address, opts: { limit: number; lt?: bigint; hash?: Buffer; toLt?: bigint }): TxRecord[] {
        const list = this.txs.get(address.toRawString()) ?? [];
        let end = list.length; // exclusive index into the ascending list
        if (opts.lt !== undefined) {
            end = upperBound(list, opts.lt);
            if (opts.hash) {
                const start = list[end - 1];
                if (!start || start.lt !== opts.lt || !start.hash.equals(opts.hash)) {
                    throw new ToncenterError(404, `transaction ${opts.lt}:${opts.hash.toString('hex')} of ${address.toString()} not found`);
                }
            }
        }
        const out: TxRecord[] = [];
        for (let i = end - 1; i >= 0 && out.length < opts.limit; i--) {
            if (opts.toLt !== undefined && list[i].lt <= opts.toLt) break;
            out.push(list[i]);
        }
        return out;
    }

    /** The transaction on `destination` caused by the message `source` created at `createdLt`. */
    locateResultTx(source: Address, destination: Address, createdLt: bigint): TxRecord | undefined {
        return (this.txs.get(destination.toRawString()) ?? []).find((r) => {
            const info = r.tx.inMessage?.info;
            return info?.type === 'internal' && info.src.equals(source) && info.createdLt === createdLt;
        });
    }

    /** The transaction on `source` that created the message to `destination` at `createdLt`. */
    locateSourceTx(source: Address, destination: Address, createdLt: bigint): TxRecord | undefined {
        return (this.txs.get(source.toRawString()) ?? []).find((r) =>
            [...r.tx.outMessages.values()].some((m) => m.info.type === 'internal' && m.info.dest.equals(destination) && m.info.createdLt === createdLt),
        );
    }

    /** Latest block seqno (one block per processed message chain). */
    get seqno(): number {
        return this.blocks.length;
    }

    block(seqno: number): Block | undefined {
        return this.blocks[seqno - 1];
    }

    // ------------------------------------------------------------------
    // Index and persistence

    private accountOf(tx: Transaction): Address {
        const dest = tx.inMessage?.info.dest;
        if (dest instanceof Address) return dest;
        return new Address(0, bigintToHash(tx.address));
    }

    private reindex(txs: Transaction[]) {
        for (const tx of txs) this.index(tx, 0);
        for (const b of this.blocks) {
            for (const t of b.txs) {
                const rec = (this.txs.get(t.account) ?? []).find((r) => r.lt === BigInt(t.lt));
                if (rec) rec.block = b.seqno;
            }
        }
    }

    private index(tx: Transaction, block: number) {
        const account = this.accountOf(tx);
        const key = account.toRawString();
        let list = this.txs.get(key);
        if (!list) this.txs.set(key, (list = []));
        this.log.push(tx);
        list.push({ account, lt: tx.lt, hash: tx.hash(), tx, block });
    }

    private addBlock(txs: Transaction[]): void {
        const seqno = this.blocks.length + 1;
        this.blocks.push({
            seqno,
            utime: this.blockchain.now ?? this.clock.now(),
            txs: txs.map((t) => ({ account: this.accountOf(t).toRawString(), lt: t.lt.toString(), hash: t.hash().toString('base64') })),
        });
        for (const tx of txs) this.index(tx, seqno);
        this.markDirty();
    }

    private markDirty() {
        if (!this.opts.statePath || this.closed) return;
        this.dirty = true;
        if (this.saveTimer) return;
        this.saveTimer = setTimeout(() => {
            this.saveTimer = undefined;
            void this.save().catch((e) => this.opts.logger.error({ err: e }, 'saving devnet state failed'));
        }, this.opts.saveDebounceMs ?? 200);
    }

    /** Writes the state file now (atomically; see state.ts). Saves are serialized. */
    save(): Promise<void> {
        const next = this.saving.then(async () => {
            if (!this.opts.statePath || !this.dirty) return;
            this.dirty = false;
            const snapshot = this.blockchain.snapshot();
            const persisted: PersistedChain = {
                chainTime: this.clock.now(),
                blocks: this.blocks,
                transactions: this.log.map((t) => t.raw.toBoc().toString('base64')),
                snapshot: snapshotToSerializable({ ...snapshot, transactions: [] }),
            };
            await saveStateFile(this.opts.statePath, JSON.stringify(persisted));
            this.opts.logger.debug({ state: this.opts.statePath, blocks: this.blocks.length }, 'devnet state saved');
        });
        this.saving = next.catch(() => undefined);
        return next;
    }

    /** Finishes queued work and writes the final state. */
    async close(): Promise<void> {
        await this.idle();
        if (this.saveTimer) clearTimeout(this.saveTimer);
        this.saveTimer = undefined;
        if (this.opts.statePath) this.dirty = true;
        await this.save();
        this.closed = true;
    }
}

function bigintToHash(v: bigint): Buffer {
    return uint256ToBytes(v);
}

/** Index of the first element with lt > `lt` in an ascending list. */
function upperBound(list: TxRecord[], lt: bigint): number {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid].lt <= lt) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}
