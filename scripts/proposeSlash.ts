import { NetworkProvider } from '@ton/blueprint';
import { Address } from '@ton/core';
import { createHash } from 'crypto';
import { ExtendedStaking } from '../wrappers/Staking';
import { argOrAsk, openRegistry, parseHash256, parseUint, requireOwner } from './lib/cli';
import { submitProposal } from './lib/governance';
import { withTupleFix } from './lib/v2compat';

/**
 * Queues a governance slash of a worker (for misbehaviour no on-chain
 * evidence can prove), behind the timelock, with the SHA-256 of the published
 * reasoning kept on record.
 *   npx blueprint run proposeSlash <registry> <worker owner> <worker key hex> <fraction bps> <reason text>
 */
export async function run(provider: NetworkProvider, args: string[] = []) {
    const registry = await openRegistry(provider, args);
    const owner = Address.parse(await argOrAsk(provider, args, 1, 'Worker owner address'));
    const workerKey = parseHash256(await argOrAsk(provider, args, 2, 'Worker Ed25519 key (64 hex digits)'), 'worker key');
    const fractionBps = parseUint(await argOrAsk(provider, args, 3, 'Fraction of the stake (basis points, 1-10000)'), 16, 'fraction');
    if (fractionBps < 1n || fractionBps > 10000n) throw new Error('the fraction must be 1 to 10000 basis points');
    const reason = await argOrAsk(provider, args, 4, 'Reason (its SHA-256 goes on chain; publish the text)');
    if (reason.trim() === '') throw new Error('a slash needs a reason');
    await requireOwner(provider, registry);

    const links = await registry.getLinks();
    if (!links.staking) throw new Error('no Staking is linked to this Registry');
    const staking = withTupleFix(provider).open(ExtendedStaking.fromAddress(links.staking));
    const worker = await staking.getWorkerAddress(owner, workerKey);
    if (!(await provider.isContractDeployed(worker))) throw new Error(`no WorkerStake is deployed for that owner and key (${worker.toString()})`);

    const reasonHash = BigInt('0x' + createHash('sha256').update(reason, 'utf8').digest('hex'));
    provider.ui().write(`Slashing ${Number(fractionBps) / 100}% of ${worker.toString()}; reason hash ${reasonHash.toString(16)}`);
    return submitProposal(provider, registry, () => registry.sendProposeSlash(provider.sender(), { owner, workerKey, fractionBps, reasonHash }));
}
