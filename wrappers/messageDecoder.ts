import { Address, Cell, Dictionary, Slice } from '@ton/core';
import * as protocol from '../build/PaymentChannel/PaymentChannel_PaymentChannel';
import { Opcode, MessageName } from './opcodes';

/**
 * Turns a message body back into what it says, with the build's own
 * loaders: every protocol message (PaymentChannel's build compiles them
 * all), a text comment, or a bounced message. What the wrappers cannot
 * read is reported as an unknown opcode, never guessed at.
 */

export type DecodedBody =
    | { kind: 'empty' }
    | { kind: 'comment'; text: string }
    | { kind: 'bounced'; op: number | null; name: string | null }
    | { kind: 'message'; op: number; name: MessageName; fields: Record<string, unknown> }
    | { kind: 'unknown'; op: number | null; error?: string };

const BOUNCE_PREFIX = 0xffffffff;

const names = new Map<number, MessageName>(Object.entries(Opcode).map(([name, op]) => [Number(op), name as MessageName]));

/** The protocol message name of an opcode, if it is one. */
export function messageName(op: number): MessageName | undefined {
    return names.get(op);
}

/** A wrapper value as plain JSON: numbers as decimal strings, addresses in user-friendly form, cells by hash. */
export function toJson(v: unknown): unknown {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Address) return v.toString();
    if (v instanceof Cell) return { cell: v.hash().toString('hex'), bits: v.bits.length, refs: v.refs.length };
    if (Buffer.isBuffer(v)) return v.toString('hex');
    if (v instanceof Dictionary) return { dictionary: v.size };
    if (v === null || v === undefined) return null;
    if (Array.isArray(v)) return v.map(toJson);
    if (typeof v === 'object')
        return Object.fromEntries(
            Object.entries(v as Record<string, unknown>)
                .filter(([k]) => k !== '$$type')
                .map(([k, x]) => [k, toJson(x)]),
        );
    return v;
}

export function decodeMessageBody(body: Cell | undefined | null): DecodedBody {
    if (!body) return { kind: 'empty' };
    const s = body.beginParse();
    if (s.remainingBits < 32) return s.remainingBits === 0 && s.remainingRefs === 0 ? { kind: 'empty' } : { kind: 'unknown', op: null };
    const op = s.preloadUint(32);
    if (op === 0) {
        try {
            const c = body.beginParse();
            c.loadUint(32);
            return { kind: 'comment', text: c.loadStringTail() };
        } catch (e) {
            return { kind: 'unknown', op, error: (e as Error).message };
        }
    }
    if (op === BOUNCE_PREFIX) {
        const rest = body.beginParse();
        rest.loadUint(32);
        const inner = rest.remainingBits >= 32 ? rest.loadUint(32) : null;
        return { kind: 'bounced', op: inner, name: inner === null ? null : (messageName(inner) ?? null) };
    }
    const name = messageName(op);
    if (!name) return { kind: 'unknown', op };
    const load = (protocol as unknown as Record<string, (s: Slice) => Record<string, unknown>>)[`load${name}`];
    try {
        return { kind: 'message', op, name, fields: toJson(load(body.beginParse())) as Record<string, unknown> };
    } catch (e) {
        return { kind: 'unknown', op, error: `malformed ${name}: ${(e as Error).message}` };
    }
}
