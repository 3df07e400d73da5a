import { readFileSync } from 'fs';
import { join } from 'path';

/**
 * Exit codes of every Cocoon contract, read from `contracts/exit-codes.tact`,
 * the one place they are defined. Tests assert failures by name
 * (`ExitCode.ERR_REGISTRY_NOT_OWNER`) and tools turn a number back into a name.
 */
export const EXIT_CODES_SOURCE = join(__dirname, '..', 'contracts', 'exit-codes.tact');

function parseExitCodes(source: string): Record<string, number> {
    const codes: Record<string, number> = {};
    const pattern = /^const\s+(ERR_[A-Z0-9_]+)\s*:\s*Int\s*=\s*(\d+)\s*;/gm;
    for (const match of source.matchAll(pattern)) {
        const [, name, value] = match;
        if (name in codes) throw new Error(`exit code ${name} is defined twice`);
        codes[name] = Number(value);
    }
    return codes;
}

export const ExitCode: Readonly<Record<string, number>> = new Proxy(
    Object.freeze(parseExitCodes(readFileSync(EXIT_CODES_SOURCE, 'utf8'))),
    {
        get(target, name) {
            if (typeof name !== 'string' || !(name in target)) {
                throw new Error(`unknown exit code name ${String(name)} (see contracts/exit-codes.tact)`);
            }
            return target[name];
        },
    },
);

/** The name of an exit code, or undefined when it is not one of Cocoon's. */
export function exitCodeName(code: number): string | undefined {
    const codes = parseExitCodes(readFileSync(EXIT_CODES_SOURCE, 'utf8'));
    return Object.keys(codes).find((name) => codes[name] === code);
}

export const CONSTANTS_SOURCE = join(__dirname, '..', 'contracts', 'constants.tact');

/**
 * A numeric constant of `contracts/constants.tact` (integer literals and
 * `ton("...")` amounts), so tests and tools use the contracts' own budgets.
 */
export function contractConstant(name: string): bigint {
    const source = readFileSync(CONSTANTS_SOURCE, 'utf8');
    const match = new RegExp(`^const\\s+${name}\\s*:\\s*Int\\s*=\\s*(.+?)\\s*;`, 'm').exec(source);
    if (!match) throw new Error(`constant ${name} is not defined in contracts/constants.tact`);
    const expr = match[1];
    const ton = /^ton\("([0-9.]+)"\)$/.exec(expr);
    if (ton) {
        const [whole, frac = ''] = ton[1].split('.');
        return BigInt(whole) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
    }
    if (/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(expr)) return BigInt(expr);
    throw new Error(`constant ${name} = ${expr} is not a literal`);
}
