import * as generated from '../build/PaymentChannel/PaymentChannel_PaymentChannel';

/**
 * Every global constant of the contracts (limits, gas budgets, statuses,
 * tags, opcodes and exit codes), as the Tact build exports it. The Tact
 * sources are the one place they are written; TypeScript reads them from the
 * build, never from a copy. PaymentChannel's build is used because it
 * compiles `constants.tact` and `exit-codes.tact` in full.
 */
type Generated = typeof generated;
type ConstantName = {
    [K in keyof Generated]: K extends `${Uppercase<K & string>}` ? (Generated[K] extends bigint ? K : never) : never;
}[keyof Generated];

export type Constants = { readonly [K in ConstantName]: bigint };

export const Constants: Constants = Object.freeze(Object.fromEntries(Object.entries(generated).filter(([name, value]) => /^[A-Z][A-Z0-9_]*$/.test(name) && typeof value === 'bigint')) as Constants);
