import { NetworkProvider } from '@ton/blueprint';
import { Address, OpenedContract } from '@ton/core';
import { ExtendedStaking } from '../../wrappers/Staking';
import { ExtendedWorkerStake, STATUS_NAMES, WorkerStatus } from '../../wrappers/WorkerStake';
import { argOrAsk, parseUint } from './cli';

/** Opens the Staking contract named by args[index] or COCOON_STAKING and checks it is deployed. */
export async function openStaking(provider: NetworkProvider, args: string[], index: number): Promise<OpenedContract<ExtendedStaking>> {
    const address = Address.parse(await argOrAsk(provider, args, index, 'Staking address', 'COCOON_STAKING'));
    if (!(await provider.isContractDeployed(address))) throw new Error(`no contract is deployed at ${address.toString()}`);
    return provider.open(ExtendedStaking.fromAddress(address));
}

/** Opens the WorkerStake named by args[index] or COCOON_WORKER_STAKE and checks it is deployed. */
export async function openWorkerStake(provider: NetworkProvider, args: string[], index: number): Promise<OpenedContract<ExtendedWorkerStake>> {
    const address = Address.parse(await argOrAsk(provider, args, index, 'WorkerStake address', 'COCOON_WORKER_STAKE'));
    if (!(await provider.isContractDeployed(address))) throw new Error(`no WorkerStake is deployed at ${address.toString()}`);
    return provider.open(ExtendedWorkerStake.fromAddress(address));
}

/** Fails before sending anything when the script's wallet does not own the WorkerStake. */
export async function requireWorkerOwner(provider: NetworkProvider, worker: OpenedContract<ExtendedWorkerStake>): Promise<void> {
    const owner = (await worker.getState()).owner;
    const me = provider.sender().address;
    if (!me || !owner.equals(me)) {
        throw new Error(`this wallet (${me?.toString() ?? 'unknown'}) does not own the WorkerStake (owner ${owner.toString()})`);
    }
}

export function statusName(status: bigint | number): string {
    return STATUS_NAMES[Number(status)] ?? `unknown (${status})`;
}

export function isBonded(status: bigint | number): boolean {
    const s = Number(status);
    return s === WorkerStatus.Pending || s === WorkerStatus.Active;
}

/** "prompt,cached,completion,reasoning" in nanoTON per million tokens. */
export function parsePrices(text: string): { prompt: bigint; cached: bigint; completion: bigint; reasoning: bigint } {
    const parts = text.split(',').map((p) => p.trim());
    if (parts.length !== 4) throw new Error(`prices must be "prompt,cached,completion,reasoning" (nanoTON per million tokens), got "${text}"`);
    const [prompt, cached, completion, reasoning] = parts.map((p, i) => parseUint(p, 64, ['prompt', 'cached', 'completion', 'reasoning'][i] + ' price'));
    return { prompt, cached, completion, reasoning };
}

export function checkEndpoint(endpoint: string): void {
    const bytes = Buffer.byteLength(endpoint, 'utf8');
    if (bytes === 0 || bytes > 127) throw new Error('endpoint must be 1 to 127 bytes of UTF-8');
}

/**
 * Chain time: the sandbox's clock where the provider runs over one (tests,
 * the embedded devnet), else the wall clock, which a real chain follows
 * within seconds.
 */
export function chainTime(provider: NetworkProvider): number {
    const chain = (provider as unknown as { blockchain?: { now?: number } }).blockchain;
    return chain?.now ?? Math.floor(Date.now() / 1000);
}
