import { Address, Cell, Transaction, beginCell, toNano } from '@ton/core';
import { Blockchain, createShardAccount } from '@ton/sandbox';
import { ConfigProbe } from '../../build/ConfigProbe/ConfigProbe_ConfigProbe';
import { chainFees } from '../../bench/lib/gas';

/** TVM's exit code for reading past the end of a cell (a truncated body). */
export const CELL_UNDERFLOW = 9;
/** nanoTON per gas unit on the basechain (the sandbox's default config). */
export const BASECHAIN_GAS_PRICE = 400n;

export async function balanceOf(blockchain: Blockchain, address: Address): Promise<bigint> {
    return (await blockchain.getContract(address)).balance;
}

function accountOf(tx: Transaction): bigint {
    return tx.address;
}

function idOf(address: Address): bigint {
    return BigInt('0x' + address.hash.toString('hex'));
}

/** Storage fees `address` paid in `txs` (what it loses to rent, not to the flow under test). */
export function storageFeesOf(txs: Transaction[], address: Address): bigint {
    let sum = 0n;
    for (const tx of txs) {
        if (accountOf(tx) !== idOf(address) || tx.description.type !== 'generic') continue;
        sum += tx.description.storagePhase?.storageFeesCollected ?? 0n;
    }
    return sum;
}

/**
 * Balances of `accounts`, then a function that checks every one of them
 * lost exactly its storage fees in `txs` (it kept nothing and paid nothing
 * else) and returns how much `payer` lost.
 */
export async function snapshot(blockchain: Blockchain, accounts: Address[]) {
    const before = new Map<string, bigint>();
    for (const a of accounts) before.set(a.toRawString(), await balanceOf(blockchain, a));
    return {
        before: (a: Address) => before.get(a.toRawString())!,
        /** after - before for `a`. */
        delta: async (a: Address) => (await balanceOf(blockchain, a)) - before.get(a.toRawString())!,
    };
}

/**
 * The whole value lost by everyone in `txs` is the fees of the chain: what
 * `payer` lost beyond that went to someone among `others`.
 */
export function feesPaidBy(txs: Transaction[], others: Address[]): bigint {
    let fees = chainFees(txs);
    for (const o of others) fees -= storageFeesOf(txs, o);
    return fees;
}

/**
 * Puts a contract that refuses every message but plain transfers (a
 * ConfigProbe: unknown opcodes throw) at `address`, so a message sent there
 * really bounces, as one to a contract that ran out of gas would.
 */
export async function installRefuser(blockchain: Blockchain, address: Address, registry: Address): Promise<void> {
    const probe = await ConfigProbe.fromInit(registry, 4242n);
    await blockchain.setShardAccount(
        address,
        createShardAccount({
            address,
            code: probe.init!.code,
            data: probe.init!.data,
            balance: toNano('0.05'),
        }),
    );
}

/** A body with the right opcode and nothing else. */
export function truncated(opcode: number): Cell {
    return beginCell().storeUint(opcode, 32).storeUint(0, 16).endCell();
}

/** The value of the first accepted internal message from `from` to `to` with opcode `op`. */
export function valueOf(txs: Transaction[], from: Address, to: Address, op: number): bigint | undefined {
    for (const tx of txs) {
        const info = tx.inMessage?.info;
        if (info?.type !== 'internal' || info.bounced) continue;
        if (!info.src.equals(from) || !info.dest.equals(to)) continue;
        const s = tx.inMessage!.body.beginParse();
        if (s.remainingBits < 32 || s.loadUint(32) !== op) continue;
        return info.value.coins;
    }
    return undefined;
}
