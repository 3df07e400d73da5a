import { PaymentChannel_errors } from '../build/PaymentChannel/PaymentChannel_PaymentChannel';
import { Constants } from './constants';

/**
 * Exit codes of every Cocoon contract (`ERR_*` in contracts/exit-codes.tact,
 * as the Tact build exports them). Tests assert failures by name
 * (`ExitCode.ERR_REGISTRY_NOT_OWNER`) and tools turn a number back into a name.
 */
type ExitCodeName = Extract<keyof Constants, `ERR_${string}`>;

const codes = Object.freeze(
    Object.fromEntries(
        Object.entries(Constants)
            .filter(([name]) => name.startsWith('ERR_'))
            .map(([name, value]) => [name, Number(value)]),
    ) as Record<ExitCodeName, number>,
);

export const ExitCode: Readonly<Record<string, number>> = new Proxy(codes as Readonly<Record<string, number>>, {
    get(target, name) {
        if (typeof name !== 'string' || !(name in target)) {
            throw new Error(`unknown exit code name ${String(name)} (see contracts/exit-codes.tact)`);
        }
        return target[name];
    },
});

/** The name of an exit code, or undefined when it is not one of Cocoon's. */
export function exitCodeName(code: number): string | undefined {
    return (Object.keys(codes) as ExitCodeName[]).find((name) => codes[name] === code);
}

/**
 * What an exit code means, for people: Cocoon's name for it, else the
 * name TVM and Tact give a standard code (as the build lists them, e.g.
 * 130 "Invalid incoming message"); undefined for 0, 1 and codes nobody names.
 */
export function describeExitCode(code: number): string | undefined {
    if (code === 0 || code === 1) return undefined;
    return exitCodeName(code) ?? (PaymentChannel_errors as Record<number, { message: string } | undefined>)[code]?.message;
}
