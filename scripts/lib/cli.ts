import { NetworkProvider } from '@ton/blueprint';
import { Address, OpenedContract } from '@ton/core';
import { ExtendedRegistry } from '../../wrappers/Registry';
import { pollUntil } from '../../helpers/poll';
import { withTupleFix } from './v2compat';

/** Positional argument `index`, else the environment variable, else a prompt. */
export async function argOrAsk(provider: NetworkProvider, args: string[], index: number, question: string, env?: string): Promise<string> {
    const given = args[index] ?? (env ? process.env[env] : undefined);
    if (given !== undefined && given !== '') return given;
    return provider.ui().input(question);
}

/** A non-negative integer from decimal or 0x-prefixed hex. */
export function parseUint(text: string, bits: number, what: string): bigint {
    const trimmed = text.trim();
    if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(trimmed)) throw new Error(`${what} must be a decimal or 0x-hex integer, got "${text}"`);
    const value = BigInt(trimmed);
    if (value >= 1n << BigInt(bits)) throw new Error(`${what} does not fit in ${bits} bits`);
    return value;
}

/** A 256-bit hash given as 64 hex digits, with or without 0x. */
export function parseHash256(text: string, what: string): bigint {
    const hex = text.trim().replace(/^0x/i, '');
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`${what} must be 64 hex digits, got "${text}"`);
    return BigInt('0x' + hex);
}

/** Opens the Registry named by args[0] or COCOON_REGISTRY and checks it is deployed. */
export async function openRegistry(provider: NetworkProvider, args: string[]): Promise<OpenedContract<ExtendedRegistry>> {
    const text = await argOrAsk(provider, args, 0, 'Registry address', 'COCOON_REGISTRY');
    const address = Address.parse(text);
    if (!(await provider.isContractDeployed(address))) {
        throw new Error(`no contract is deployed at ${address.toString()}`);
    }
    // withTupleFix: toncenter v2 returns tuple items in a shape the generated
    // getters of optional structs cannot read (see v2compat.ts).
    const registry = withTupleFix(provider).open(ExtendedRegistry.fromAddress(address));
    try {
        await registry.getConfigVersion();
    } catch {
        throw new Error(`${address.toString()} is not a Cocoon Registry (its getters do not answer)`);
    }
    return registry;
}

/** Fails before sending anything when the script's wallet is not the Registry owner. */
export async function requireOwner(provider: NetworkProvider, registry: OpenedContract<ExtendedRegistry>): Promise<void> {
    const owner = await registry.getOwner();
    const me = provider.sender().address;
    if (!me || !owner.equals(me)) {
        throw new Error(`this wallet (${me?.toString() ?? 'unknown'}) is not the Registry owner (${owner.toString()})`);
    }
}

/**
 * Polls `check` until it holds: immediate on the sandbox, a few seconds per
 * block on a real network. Shows progress on the UI.
 */
export async function waitUntil(provider: NetworkProvider, what: string, check: () => Promise<boolean>, attempts = 30, delayMs = 2000): Promise<void> {
    try {
        await pollUntil(what, check, (done) => done, {
            timeoutMs: attempts * delayMs,
            intervalMs: delayMs,
            onWait: (reads) => provider.ui().setActionPrompt(`Waiting for ${what} (${reads}/${attempts})...`),
        });
    } finally {
        provider.ui().clearActionPrompt();
    }
}

/**
 * Waits for a contract to be deployed. On mainnet and testnet Blueprint's own
 * wait prints an explorer link; on a custom network (a devnet, a private
 * network) an explorer would show a mainnet address that is not this one, so
 * none is printed.
 */
export async function waitForDeployment(provider: NetworkProvider, address: Address): Promise<void> {
    if (provider.network() !== 'custom') return provider.waitForDeploy(address);
    await waitUntil(provider, `${address.toString()} to be deployed`, () => provider.isContractDeployed(address));
    provider.ui().write(`Contract deployed at address ${address.toString()}`);
}

/**
 * The flags that point `npx blueprint run` at the network this script runs
 * on, for commands printed for the user to copy: without them Blueprint asks
 * interactively, preselecting mainnet. An API key is never echoed.
 */
export function networkFlags(provider: NetworkProvider, argv: string[] = process.argv): string {
    const flag = (name: string) => {
        const i = argv.indexOf(name);
        return i >= 0 && i + 1 < argv.length ? argv[i + 1] : undefined;
    };
    const wallet = argv.includes('--mnemonic') || process.env.WALLET_MNEMONIC ? ' --mnemonic' : argv.includes('--tonconnect') ? ' --tonconnect' : '';
    const network = provider.network();
    if (network !== 'custom') return `--${network}${wallet}`;
    let endpoint = flag('--custom');
    try {
        endpoint ??= (provider.api() as { parameters?: { endpoint?: string } }).parameters?.endpoint;
    } catch {
        // A provider without a TON client (the tests' sandbox) has no endpoint to print.
    }
    endpoint ??= '<endpoint>';
    const key = flag('--custom-key') !== undefined ? ' --custom-key <your API key>' : '';
    return `--custom ${endpoint} --custom-version ${flag('--custom-version') ?? 'v2'} --custom-type ${flag('--custom-type') ?? 'custom'}${key}${wallet}`;
}

/** `npx blueprint run <script> <args>` on this script's network, ready to copy. */
export function blueprintCommand(provider: NetworkProvider, script: string, args: Array<string | bigint | number>): string {
    return `npx blueprint run ${script} ${args.join(' ')} ${networkFlags(provider)}`;
}
