import { Address, Cell, Contract, ContractProvider, Message, OpenedContract, TupleItem, TupleReader, beginCell, openContract, storeMessage } from '@ton/core';
import { TonClient } from '@ton/ton';

/**
 * `@ton/ton`'s TonClient (what Blueprint uses for toncenter v2 endpoints)
 * parses the elements of a returned tuple into bare values (bigint, Cell,
 * nested arrays) instead of TupleItems, so a generated wrapper reading an
 * optional struct (`readTupleOpt()` then `readBigNumber()`) fails with "Not
 * a number" against toncenter, testnet or the devnet alike. This restores
 * proper TupleItems; items that are already well-formed pass unchanged.
 */
export function normalizeTupleItem(item: unknown): TupleItem {
    if (typeof item === 'bigint') return { type: 'int', value: item };
    if (item === null || item === undefined) return { type: 'null' };
    // tonlib renders a null inside a tuple as an empty list, which TonClient turns into [].
    if (Array.isArray(item)) return item.length === 0 ? { type: 'null' } : { type: 'tuple', items: item.map(normalizeTupleItem) };
    if (item instanceof Cell || (typeof item === 'object' && typeof (item as Cell).beginParse === 'function' && !('type' in item))) {
        return { type: 'cell', cell: item as Cell };
    }
    const typed = item as TupleItem;
    if (typed.type === 'tuple') return { type: 'tuple', items: typed.items.map(normalizeTupleItem) };
    if (typeof typed.type === 'string') return typed;
    throw new Error(`unexpected get-method stack item ${String(item)}`);
}

export function normalizeStack(reader: TupleReader): TupleReader {
    const items: TupleItem[] = [];
    while (reader.remaining > 0) items.push(normalizeTupleItem(reader.pop()));
    return new TupleReader(items);
}

/** `inner` with get-method results normalized (see normalizeTupleItem). */
export function fixContractProvider(inner: ContractProvider): ContractProvider {
    return new Proxy(inner, {
        get(target, prop) {
            if (prop === 'get') {
                return async (...args: Parameters<ContractProvider['get']>) => {
                    const result = await target.get(...args);
                    return { ...result, stack: normalizeStack(result.stack) };
                };
            }
            const value = Reflect.get(target, prop, target);
            return typeof value === 'function' ? value.bind(target) : value;
        },
    });
}

/**
 * What opens contracts for a chain user: a `TonClient` against toncenter or
 * the devnet, or a sandbox in tests.
 */
export interface ContractOpener {
    open<T extends Contract>(contract: T): OpenedContract<T>;
    isDeployed(address: Address): Promise<boolean>;
    /** Chain time (unix seconds) as far as the opener knows it. */
    now?(): Promise<number>;
}

export function tonClientOpener(client: TonClient): ContractOpener {
    return {
        // TonClient flattens tuples in get-method results; the fix restores
        // TupleItems so struct-returning getters parse.
        open: (c) => openContract(c, (p) => fixContractProvider(client.provider(p.address, p.init ?? undefined))),
        isDeployed: (a) => client.isContractDeployed(a),
    };
}

/**
 * The normalized hash of an inbound external message (TEP-467), by which
 * toncenter and explorers name a sent message before it lands: the message
 * with no source, no import fee and no StateInit, its body always in a
 * reference, so the same signed body gets the same hash however a wallet
 * or an API wrapped it.
 */
export function normalizedExtMessageHash(message: Message): Buffer {
    if (message.info.type !== 'external-in') throw new Error(`expected an external-in message, got ${message.info.type}`);
    const normalized: Message = { ...message, init: null, info: { ...message.info, src: undefined, importFee: 0n } };
    return beginCell()
        .store(storeMessage(normalized, { forceRef: true }))
        .endCell()
        .hash();
}
