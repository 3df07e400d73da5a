/**
 * JSON shapes of the toncenter v2 API (as produced by ton-http-api over
 * tonlib), written and read here so that `@ton/ton`'s TonClient, Blueprint
 * and other toncenter clients work against the devnet unchanged.
 */
import { Address, Cell, Message, Transaction, TupleItem } from '@ton/core';
import { createHash } from 'crypto';

/** An error answered as toncenter does: `{ok: false, error, code}` with HTTP status `code`. */
export class ToncenterError extends Error {
    constructor(
        readonly code: number,
        message: string,
    ) {
        super(message);
    }
}

export function badRequest(message: string): ToncenterError {
    return new ToncenterError(400, message);
}

/** Accepts user-friendly (any flags) and raw `wc:hex` addresses. */
export function parseAddress(value: unknown, field = 'address'): Address {
    if (typeof value !== 'string' || value.trim() === '') throw badRequest(`${field} is required`);
    try {
        return Address.parse(value.trim());
    } catch {
        throw badRequest(`Incorrect address ${field}: ${value}`);
    }
}

/** Parses a base64 (standard or url-safe) BoC holding exactly one root cell. */
export function parseBoc(value: unknown, field = 'boc'): Cell {
    if (typeof value !== 'string' || value.trim() === '') throw badRequest(`${field} is required`);
    const text = value.trim();
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw badRequest(`${field} is not base64`);
    let cells: Cell[];
    try {
        cells = Cell.fromBoc(Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64'));
    } catch (e) {
        throw badRequest(`failed to parse ${field}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (cells.length !== 1) throw badRequest(`${field} must have exactly one root cell, got ${cells.length}`);
    return cells[0];
}

/** Optional base64 BoC; "" and absent mean none. */
export function parseOptionalBoc(value: unknown, field: string): Cell | undefined {
    if (value === undefined || value === null || value === '') return undefined;
    return parseBoc(value, field);
}

/** Unsigned or signed integer given as a JSON number, decimal string or 0x-hex string. */
export function parseInteger(value: unknown, field: string): bigint {
    if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
    if (typeof value === 'string') {
        const t = value.trim();
        const m = /^(-?)(0x[0-9a-fA-F]+|[0-9]+)$/.exec(t);
        if (m) {
            const v = BigInt(m[2]);
            return m[1] ? -v : v;
        }
    }
    throw badRequest(`${field} must be an integer, got ${JSON.stringify(value)}`);
}

/** A transaction hash given as 64 hex digits or as base64 (toncenter accepts both). */
export function parseHash(value: unknown, field = 'hash'): Buffer {
    if (typeof value !== 'string') throw badRequest(`${field} must be a string`);
    const t = value.trim();
    if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
    const b = Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64');
    if (b.length !== 32) throw badRequest(`${field} must be 32 bytes in hex or base64`);
    return b;
}

// ---------------------------------------------------------------------------
// TVM stacks. Requests carry `[["num", "123"], ["tvm.Cell", "<boc>"], ...]`;
// results use tonlib's shapes: `["num", "0x7b"]`, `["cell", {bytes}]`,
// `["tuple", {"@type": "tvm.tuple", elements: [tvm.stackEntry*]}]`, `["null"]`.

export function decodeStack(value: unknown): TupleItem[] {
    if (value === undefined || value === null || value === '') return [];
    let items = value;
    if (typeof items === 'string') {
        try {
            items = JSON.parse(items);
        } catch {
            throw badRequest('stack must be a JSON array');
        }
    }
    if (!Array.isArray(items)) throw badRequest('stack must be an array of [type, value] pairs');
    return items.map((entry, i) => {
        if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw badRequest(`stack[${i}] must be a [type, value] pair`);
        const [type, v] = entry;
        switch (type) {
            case 'num':
            case 'number':
            case 'int':
                return { type: 'int', value: parseInteger(v, `stack[${i}]`) };
            case 'tvm.Cell':
            case 'cell':
                return { type: 'cell', cell: parseBoc(typeof v === 'object' && v ? (v as { bytes?: unknown }).bytes : v, `stack[${i}]`) };
            case 'tvm.Slice':
            case 'slice':
                return { type: 'slice', cell: parseBoc(typeof v === 'object' && v ? (v as { bytes?: unknown }).bytes : v, `stack[${i}]`) };
            case 'tvm.Builder':
            case 'builder':
                return { type: 'builder', cell: parseBoc(v, `stack[${i}]`) };
            case 'null':
                return { type: 'null' };
            default:
                throw badRequest(`stack[${i}]: unsupported stack entry type "${type}"`);
        }
    });
}

function encodeEntry(item: TupleItem): unknown {
    switch (item.type) {
        case 'int':
            return { '@type': 'tvm.stackEntryNumber', number: { '@type': 'tvm.numberDecimal', number: item.value.toString() } };
        case 'cell':
        case 'builder':
            return { '@type': 'tvm.stackEntryCell', cell: { '@type': 'tvm.cell', bytes: item.cell.toBoc().toString('base64') } };
        case 'slice':
            return { '@type': 'tvm.stackEntrySlice', slice: { '@type': 'tvm.slice', bytes: item.cell.toBoc().toString('base64') } };
        case 'tuple':
            return { '@type': 'tvm.stackEntryTuple', tuple: { '@type': 'tvm.tuple', elements: item.items.map(encodeEntry) } };
        case 'null':
            // tonlib renders a TVM null inside a tuple as an empty list.
            return { '@type': 'tvm.stackEntryList', list: { '@type': 'tvm.list', elements: [] } };
        case 'nan':
            return { '@type': 'tvm.stackEntryUnsupported' };
    }
}

function hexInt(v: bigint): string {
    return v < 0n ? '-0x' + (-v).toString(16) : '0x' + v.toString(16);
}

export function encodeStack(items: TupleItem[]): unknown[] {
    return items.map((item) => {
        switch (item.type) {
            case 'int':
                return ['num', hexInt(item.value)];
            case 'null':
                return ['null'];
            case 'cell':
            case 'builder':
                return ['cell', { bytes: item.cell.toBoc().toString('base64') }];
            case 'slice':
                return ['slice', { bytes: item.cell.toBoc().toString('base64') }];
            case 'tuple':
                return ['tuple', { '@type': 'tvm.tuple', elements: item.items.map(encodeEntry) }];
            case 'nan':
                return ['num', 'NaN'];
        }
    });
}

// ---------------------------------------------------------------------------
// Transactions and messages.

export const SHARD_ALL = '-9223372036854775808';

export function blockIdExt(workchain: number, seqno: number) {
    // Synthetic but stable block ids: the devnet has no real blocks.
    const root = createHash('sha256').update(`cocoon-devnet:${workchain}:${seqno}:root`).digest('base64');
    const file = createHash('sha256').update(`cocoon-devnet:${workchain}:${seqno}:file`).digest('base64');
    return { '@type': 'ton.blockIdExt', workchain, shard: SHARD_ALL, seqno, root_hash: root, file_hash: file };
}

function friendly(a: Address): string {
    return a.toString({ urlSafe: true, bounceable: true });
}

export function encodeMessage(msg: Message) {
    const info = msg.info;
    const body = msg.body;
    let comment: string | undefined;
    const s = body.beginParse();
    if (s.remainingBits >= 32 && s.preloadUint(32) === 0) {
        try {
            s.skip(32);
            comment = s.loadStringTail();
        } catch {
            comment = undefined;
        }
    }
    return {
        '@type': 'raw.message',
        source: info.type === 'external-in' ? '' : friendly(info.src),
        destination: info.type === 'external-out' ? (info.dest ? info.dest.toString() : '') : friendly(info.dest),
        value: info.type === 'internal' ? info.value.coins.toString() : '0',
        fwd_fee: info.type === 'internal' ? info.forwardFee.toString() : '0',
        ihr_fee: info.type === 'internal' ? info.ihrFee.toString() : '0',
        created_lt: info.type === 'external-in' ? '0' : info.createdLt.toString(),
        body_hash: body.hash().toString('base64'),
        msg_data: {
            '@type': 'msg.dataRaw',
            body: body.toBoc().toString('base64'),
            init_state: '',
        },
        message: comment ?? '',
    };
}

export function encodeTransaction(tx: Transaction, account: Address) {
    const fee = tx.totalFees.coins;
    const storageFee = tx.description.type === 'generic' ? (tx.description.storagePhase?.storageFeesCollected ?? 0n) : 0n;
    const result: Record<string, unknown> = {
        '@type': 'raw.transaction',
        address: { '@type': 'accountAddress', account_address: friendly(account) },
        utime: tx.now,
        data: tx.raw.toBoc().toString('base64'),
        transaction_id: { '@type': 'internal.transactionId', lt: tx.lt.toString(), hash: tx.hash().toString('base64') },
        fee: fee.toString(),
        storage_fee: storageFee.toString(),
        other_fee: (fee - storageFee).toString(),
        out_msgs: [...tx.outMessages.values()].map(encodeMessage),
    };
    // HttpApi's schema accepts a missing in_msg but not null.
    if (tx.inMessage) result.in_msg = encodeMessage(tx.inMessage);
    return result;
}
