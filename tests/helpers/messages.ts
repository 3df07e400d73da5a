import { Address, Transaction } from '@ton/core';
import { Constants } from '../../wrappers/constants';
import { Opcode } from '../../wrappers/opcodes';

export const OP = {
    ChannelPayout: Opcode.ChannelPayout,
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
 * What a ChannelPayout carries on top of the amount it pays:
 * payoutGasBudget() in contracts/constants.tact, GAS_WS_PAYOUT gas at the
 * sandbox's basechain gas price (400 nanoTON) plus MSG_FWD_BUDGET.
 */
export const PAYOUT_GAS_BUDGET = Constants.GAS_WS_PAYOUT * 400n + Constants.MSG_FWD_BUDGET;

/**
 * Sum of the amounts (the body's `amount`, not the value, which adds
 * PAYOUT_GAS_BUDGET) of the ChannelPayouts from `from` to `to` that were
 * accepted in `txs`.
 */
export function paidOut(txs: Transaction[], from: Address, to: Address): bigint {
    let sum = 0n;
    for (const tx of txs) {
        const info = tx.inMessage?.info;
        if (info?.type !== 'internal' || info.bounced) continue;
        if (!info.src.equals(from) || !info.dest.equals(to)) continue;
        if (opOf(tx) !== OP.ChannelPayout) continue;
        if (tx.description.type === 'generic' && tx.description.aborted) continue;
        const body = tx.inMessage!.body.beginParse();
        body.skip(32 + 64);
        sum += body.loadCoins();
    }
    return sum;
}
