import { NetworkProvider } from '@ton/blueprint';
import { Address, Cell, Contract, OpenedContract, openContract } from '@ton/core';
import { fixContractProvider } from '../../wrappers/toncenter';

/** The same provider, with get-method results normalized (see normalizeTupleItem). */
export function withTupleFix(inner: NetworkProvider): NetworkProvider {
    const provider = (address: Address, init?: { code?: Cell | null; data?: Cell | null } | null) =>
        fixContractProvider(inner.provider(address, init ? { code: init.code ?? undefined, data: init.data ?? undefined } : undefined));
    return new Proxy(inner, {
        get(target, prop) {
            if (prop === 'provider') return provider;
            if (prop === 'open') {
                return <T extends Contract>(contract: T): OpenedContract<T> => openContract(contract, (params) => provider(params.address, params.init));
            }
            const value = Reflect.get(target, prop, target);
            return typeof value === 'function' ? value.bind(target) : value;
        },
    });
}
