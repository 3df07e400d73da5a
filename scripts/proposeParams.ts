import { NetworkProvider } from '@ton/blueprint';
import { Address } from '@ton/core';
import { NetworkParams } from '../wrappers/Registry';
import { openRegistry, requireOwner } from './lib/cli';
import { submitProposal } from './lib/governance';

const NUMERIC_PARAMS = [
    'minWorkerStake',
    'unbondingPeriod',
    'channelCloseDelay',
    'attestationLifetime',
    'minTeeTcbSvn',
    'protocolFeeBps',
    'slashFractionBps',
    'reporterShareBps',
    'priceNoticePeriod',
    'maxActiveWorkers',
    'timelockDelay',
    'fraudProofWindow',
] as const;

/** Applies `name=value` overrides to the current parameters. */
export function applyOverrides(current: NetworkParams, overrides: string[]): NetworkParams {
    const next: NetworkParams = { ...current };
    for (const item of overrides) {
        const eq = item.indexOf('=');
        if (eq <= 0) throw new Error(`expected name=value, got "${item}"`);
        const name = item.slice(0, eq);
        const value = item.slice(eq + 1);
        if ((NUMERIC_PARAMS as readonly string[]).includes(name)) {
            if (!/^[0-9]+$/.test(value)) throw new Error(`${name} must be a non-negative integer`);
            (next as Record<string, unknown>)[name] = BigInt(value);
        } else if (name === 'treasury') {
            next.treasury = Address.parse(value);
        } else if (name === 'allowSimulatedAttestation') {
            if (value !== 'true' && value !== 'false') throw new Error(`${name} must be true or false`);
            next.allowSimulatedAttestation = value === 'true';
        } else {
            throw new Error(`unknown parameter "${name}"; known: ${[...NUMERIC_PARAMS, 'treasury', 'allowSimulatedAttestation'].join(', ')}`);
        }
    }
    return next;
}

/**
 * Queues a change of network parameters.
 *   npx blueprint run proposeParams <registry> protocolFeeBps=150 unbondingPeriod=864000 ...
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const registry = await openRegistry(provider, args);
    const overrides = args.slice(1);
    if (overrides.length === 0) throw new Error('give at least one name=value override');
    await requireOwner(provider, registry);
    const current = await registry.getParams();
    const next = applyOverrides(current, overrides);
    if (provider.network() === 'mainnet' && next.allowSimulatedAttestation) {
        throw new Error('simulated attestation must never be allowed on mainnet');
    }
    for (const key of Object.keys(next) as (keyof NetworkParams)[]) {
        if (key === '$$type') continue;
        const a = String(current[key]);
        const b = String(next[key]);
        if (a !== b) provider.ui().write(`  ${key}: ${a} -> ${b}`);
    }
    return submitProposal(provider, registry, () => registry.sendProposeParams(provider.sender(), next));
}
