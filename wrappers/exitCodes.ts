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
