import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Transaction } from '@ton/core';

/**
 * The committed gas table (bench/gas.json) maps "Contract.operation" to the
 * compute gas of the receiving transaction and the total fees of the whole
 * message chain. Gas suites (tests/gas/*.gas.spec.ts) measure each operation:
 * normally they fail when gas grows more than 2% over the table; under
 * `npm run bench:gas` (GAS_RECORD=1) they write fresh figures instead.
 */
export const GAS_TABLE = join(__dirname, '..', 'gas.json');
export const GAS_FRAGMENTS = join(__dirname, '..', '.gas');
export const GAS_TOLERANCE = 0.02;

export interface GasEntry {
    gasUsed: number;
    fees: string;
}

export function computeGas(tx: Transaction): bigint {
    if (tx.description.type !== 'generic') throw new Error('not a generic transaction');
    const phase = tx.description.computePhase;
    if (phase.type !== 'vm') throw new Error('compute phase skipped');
    return phase.gasUsed;
}

/**
 * Total fees of a message chain: each transaction's own fees plus the part of
 * each internal message's forwarding fee that travels with the message (the
 * sender's totalFees holds only the share kept by its action phase).
 */
export function chainFees(txs: Transaction[]): bigint {
    let total = 0n;
    for (const tx of txs) {
        total += tx.totalFees.coins;
        const info = tx.inMessage?.info;
        if (info?.type === 'internal') total += info.forwardFee;
    }
    return total;
}

export function isRecording(): boolean {
    return process.env.GAS_RECORD === '1';
}

export function readGasTable(): Record<string, GasEntry> {
    if (!existsSync(GAS_TABLE)) return {};
    return JSON.parse(readFileSync(GAS_TABLE, 'utf8'));
}

/**
 * Records (under bench:gas) or checks (otherwise) one operation. `tx` is the
 * receiving transaction whose compute gas is reported; `chain` is every
 * transaction the operation caused.
 */
export function checkGas(name: string, tx: Transaction, chain: Transaction[]): GasEntry {
    return checkEntry(name, { gasUsed: Number(computeGas(tx)), fees: chainFees(chain).toString() });
}

/** Records `entry` (under bench:gas) or fails when its gas grew more than the tolerance over the committed figure. */
function checkEntry(name: string, entry: GasEntry): GasEntry {
    const committed = recordOrRead(name, entry);
    if (!committed) return entry;
    const limit = Math.floor(committed.gasUsed * (1 + GAS_TOLERANCE));
    if (entry.gasUsed > limit) {
        throw new Error(`${name} used ${entry.gasUsed} gas, over the committed ${committed.gasUsed} (+2%): ` + 'fix the regression or run npm run bench:gas and commit bench/gas.json');
    }
    return entry;
}

/** As checkGas, for a cost that is fees alone (storage rent): it may not grow over the committed figure by more than the tolerance. */
export function checkFees(name: string, fees: bigint): GasEntry {
    const entry: GasEntry = { gasUsed: 0, fees: fees.toString() };
    const committed = recordOrRead(name, entry);
    if (!committed) return entry;
    const limit = (BigInt(committed.fees) * BigInt(Math.round((1 + GAS_TOLERANCE) * 100))) / 100n;
    if (fees > limit) throw new Error(`${name} cost ${fees} nanoTON, over the committed ${committed.fees} (+2%): fix the regression or run npm run bench:gas`);
    return entry;
}

/** Under bench:gas writes `entry` as a fragment and returns nothing; otherwise returns the committed entry, which must exist. */
function recordOrRead(name: string, entry: GasEntry): GasEntry | undefined {
    if (isRecording()) {
        mkdirSync(GAS_FRAGMENTS, { recursive: true });
        writeFileSync(join(GAS_FRAGMENTS, `${name}.json`), JSON.stringify(entry));
        return undefined;
    }
    const committed = readGasTable()[name];
    if (!committed) throw new Error(`${name} is missing from bench/gas.json: run npm run bench:gas and commit it`);
    return committed;
}

/**
 * As checkGas, for one operation split over several transactions (a
 * resumable computation): the compute gas of `txs` summed.
 */
export function checkGasSum(name: string, txs: Transaction[], chain: Transaction[]): GasEntry {
    return checkEntry(name, { gasUsed: txs.reduce((sum, tx) => sum + Number(computeGas(tx)), 0), fees: chainFees(chain).toString() });
}
