import { Address, Transaction } from '@ton/core';

export const OP = {
    ChannelPayout: 0xc0c05010,
    ProtocolFee: 0xc0c05011,
    ChannelRefund: 0xc0c05012,
    Excesses: 0xd53276db,
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
