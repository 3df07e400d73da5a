import { Address, CommonMessageInfo, Message, Transaction } from '@ton/core';
import type { FastifyReply } from 'fastify';
import { AnyFastify, registerWebPage } from '../helpers/webPages';
import { contractKind } from '../wrappers/contractKinds';
import { describeExitCode } from '../wrappers/exitCodes';
import { decodeMessageBody } from '../wrappers/messageDecoder';
import type { DevnetChain, TxRecord } from './chain';
import { ToncenterError, parseAddress } from './toncenter';
import { knownWalletCodes } from './wallets';

/**
 * The devnet explorer (`/explorer/`): the chain's message chains (a devnet
 * block is one chain: an external message and every transaction it caused),
 * each message decoded with the project's wrappers, exit codes by name,
 * balances, and any account by address. Its JSON is under /explorer/api/.
 */

const MAX_BLOCKS = 100;
const MAX_ACCOUNT_TXS = 100;

function messageJson(m: Message | undefined | null) {
    if (!m) return null;
    const info: CommonMessageInfo = m.info;
    const common = { body: decodeMessageBody(m.body) };
    if (info.type === 'internal')
        return { type: 'internal', from: info.src.toString(), to: info.dest.toString(), value: info.value.coins.toString(), bounce: info.bounce, bounced: info.bounced, ...common };
    if (info.type === 'external-in') return { type: 'external-in', from: null, to: info.dest.toString(), value: null, bounce: false, bounced: false, ...common };
    return { type: 'external-out', from: info.src.toString(), to: null, value: null, bounce: false, bounced: false, ...common };
}

/** Every account a decoded transaction names: its own, its message's sender, its messages' receivers. */
function addressesOf(t: { account: string; in: { from: string | null } | null; out: Array<{ to: string | null } | null> }): string[] {
    return [t.account, t.in?.from, ...t.out.map((m) => m?.to)].filter((a): a is string => typeof a === 'string');
}

function phases(tx: Transaction) {
    const d = tx.description;
    if (d.type !== 'generic') return { compute: null, action: null, aborted: false };
    const c = d.computePhase;
    const compute =
        c.type === 'vm'
            ? { skipped: false, success: c.success, exitCode: c.exitCode, exitName: describeExitCode(c.exitCode) ?? null, gasUsed: c.gasUsed.toString() }
            : { skipped: true, reason: c.reason, success: false, exitCode: null, exitName: null, gasUsed: '0' };
    const a = d.actionPhase;
    const action = a ? { success: a.success, resultCode: a.resultCode, resultName: describeExitCode(a.resultCode) ?? null, messages: a.messagesCreated } : null;
    return { compute, action, aborted: d.aborted };
}

export function registerExplorer(app: AnyFastify, chain: DevnetChain): void {
    const walletCodes = knownWalletCodes();
    const devWallets = new Map(chain.wallets.map((w) => [w.address.toRawString(), `devnet wallet ${w.index} (${w.version})`]));

    /** What an account is: a Cocoon contract, a wallet (and which devnet wallet), or nothing known. */
    async function describe(address: Address) {
        const a = await chain.account(address);
        const kind = (await contractKind(a.code)) ?? (a.code ? walletCodes.get(a.code.hash().toString('hex'))?.type : undefined) ?? null;
        return { address: address.toString(), state: a.state, balance: a.balance.toString(), kind, label: devWallets.get(address.toRawString()) ?? null };
    }

    function txJson(r: TxRecord, utime: number | null) {
        const tx = r.tx;
        return {
            account: r.account.toString(),
            lt: r.lt.toString(),
            hash: r.hash.toString('hex'),
            block: r.block,
            time: utime ?? tx.now,
            fees: tx.totalFees.coins.toString(),
            in: messageJson(tx.inMessage),
            out: [...tx.outMessages.values()].map(messageJson),
            ...phases(tx),
        };
    }

    async function accounts(addresses: Iterable<string>) {
        const out: Record<string, unknown> = {};
        for (const a of new Set(addresses)) out[a] = await describe(Address.parse(a));
        return out;
    }

    const failed = (reply: FastifyReply, e: unknown) => {
        const status = e instanceof ToncenterError ? e.code : 500;
        return reply.status(status).send({ error: { message: e instanceof Error ? e.message : String(e) } });
    };

    app.get('/explorer/api/blocks', async (req, reply) => {
        try {
            const q = req.query as { limit?: string; before?: string };
            const limit = q.limit === undefined ? 20 : Number(q.limit);
            if (!Number.isInteger(limit) || limit < 1 || limit > MAX_BLOCKS) throw new ToncenterError(400, `limit: must be a whole number from 1 to ${MAX_BLOCKS}`);
            const before = q.before === undefined ? chain.seqno + 1 : Number(q.before);
            if (!Number.isInteger(before) || before < 1) throw new ToncenterError(400, 'before: must be a block number');
            const blocks = [];
            for (let s = Math.min(before - 1, chain.seqno); s >= 1 && blocks.length < limit; s--) {
                const b = chain.block(s)!;
                const txs = b.txs.map((t) => chain.transactions(Address.parse(t.account), { limit: 1, lt: BigInt(t.lt) })[0]).filter((r): r is TxRecord => r !== undefined);
                blocks.push({ seqno: b.seqno, time: b.utime, transactions: txs.map((r) => txJson(r, b.utime)) });
            }
            const seen = blocks.flatMap((b) => b.transactions.flatMap(addressesOf));
            return { seqno: chain.seqno, now: chain.now(), blocks, accounts: await accounts(seen) };
        } catch (e) {
            return failed(reply, e);
        }
    });

    app.get('/explorer/api/accounts/:address', async (req, reply) => {
        try {
            const address = parseAddress((req.params as { address: string }).address);
            const txs = chain.transactions(address, { limit: MAX_ACCOUNT_TXS }).map((r) => txJson(r, chain.block(r.block)?.utime ?? null));
            return { account: await describe(address), transactions: txs, accounts: await accounts(txs.flatMap(addressesOf)) };
        } catch (e) {
            return failed(reply, e);
        }
    });

    registerWebPage(app, 'explorer', '/explorer/');
}
