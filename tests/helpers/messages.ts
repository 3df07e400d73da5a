import { Address, Transaction } from '@ton/core';
import { Opcode } from '../../wrappers/opcodes';

export const OP = {
    WorkerPaid: Opcode.WorkerPaid,
    ProtocolFee: Opcode.ProtocolFee,
    ChannelRefund: Opcode.ChannelRefund,
    Excesses: Opcode.Excesses,
};

function opOf(tx: Transaction): number | undefined {
    const body = tx.inMessage?.body;
    if (!body) return undefined;
    const s = body.beginParse();
    return s.remainingBits >= 32 ? s.loadUint(32) : undefined;
}

/**
 * Sum of the values of the internal messages from `from` to `to` with opcode
 * `op` that were accepted (not bounced back) in `txs`.
 */
export function delivered(txs: Transaction[], from: Address, to: Address, op: number): bigint {
    let sum = 0n;
    for (const tx of txs) {
        const info = tx.inMessage?.info;
        if (info?.type !== 'internal' || info.bounced) continue;
        if (!info.src.equals(from) || !info.dest.equals(to)) continue;
        if (opOf(tx) !== op) continue;
        // A receiver that failed sent the value back (a bounce).
        if (tx.description.type === 'generic' && tx.description.aborted) continue;
        sum += info.value.coins;
    }
    return sum;
}

/**
 * Sum of the `amount` fields (after opcode and query id) of the messages
 * from `from` to `to` with opcode `op` that were accepted in `txs`: what a
 * payout, refund or fee says it pays, whatever the value adds (a claim's
 * payout and a refund to a closing client also carry the caller's unspent
 * value).
 */
export function amounts(txs: Transaction[], from: Address, to: Address, op: number): bigint {
    let sum = 0n;
    for (const tx of txs) {
        const info = tx.inMessage?.info;
        if (info?.type !== 'internal' || info.bounced) continue;
        if (!info.src.equals(from) || !info.dest.equals(to)) continue;
        if (opOf(tx) !== op) continue;
        if (tx.description.type === 'generic' && tx.description.aborted) continue;
        const body = tx.inMessage!.body.beginParse();
        body.skip(32 + 64);
        sum += body.loadCoins();
    }
    return sum;
}

/** The worker's shares the WorkerPaid payouts from `from` to `to` in `txs` say they pay. */
export function paidOut(txs: Transaction[], from: Address, to: Address): bigint {
    return amounts(txs, from, to, OP.WorkerPaid);
}
