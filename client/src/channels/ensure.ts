import { Address } from '@ton/core';
import { ChannelStatus } from '../../../wrappers/PaymentChannel';
import type { WorkerInfo } from '../discovery';
import type { ClientContext } from '../options';
import type { ChannelRow } from '../store';
import type { ChannelLease } from './lease';
import { ChannelChecks, channelContract } from './onChain';
import { openChannel } from './open';
import { topUp } from './topUp';

/**
 * An open channel to `w` with at least `minFree` unspent: the lease's
 * channel (or, without a lease, the ledger's newest), or a new one. The
 * chain is read on the request path only when the channel needs money now
 * (its unspent deposit is below `minFree`) or has not been read for
 * channelRecheckSec while running low; otherwise a stale channel is re-read
 * in the background, and one running below `topUpBelow` is topped up in the
 * background. A top-up is shared by every call that finds the same shortage
 * (./topUp.ts).
 */
export async function ensureChannel(ctx: ClientContext, checks: ChannelChecks, w: WorkerInfo, minFree = 0n, lease?: ChannelLease): Promise<ChannelRow> {
    const { o } = ctx;
    const ws = w.workerStake.toString();
    let row = lease ? lease.preferred : o.store.openChannelFor(ws);
    const recheck = (o.channelRecheckSec ?? 30) * 1000;
    if (row) {
        const free = row.deposit - row.verified;
        const stale = Date.now() - (checks.get(row.address) ?? 0) > recheck;
        if (free < minFree) row = await readAndFund(ctx, checks, row, minFree, stale);
        else if (stale || free < o.topUpBelow) {
            // Enough for this call: the re-read and any top-up run beside it.
            const address = row.address;
            readAndFund(ctx, checks, row, minFree, stale).catch((e) => ctx.log('background channel check failed; retried on a later request', { channel: address, error: (e as Error).message }));
        }
    }
    return row ?? (await openChannel(ctx, checks, w, lease));
}

/**
 * Reads the channel from chain (when `stale` or short) and tops it up when
 * it is below `topUpBelow` or `minFree`. Undefined: the channel is not open
 * any more (its ledger state is updated).
 */
async function readAndFund(ctx: ClientContext, checks: ChannelChecks, row: ChannelRow, minFree: bigint, stale: boolean): Promise<ChannelRow | undefined> {
    const { o } = ctx;
    const ch = channelContract(ctx, row.address);
    const free = row.deposit - row.verified;
    let status: ChannelStatus;
    try {
        const deployed = await o.opener.isDeployed(Address.parse(row.address));
        status = deployed ? (Number(await ch.getStatus()) as ChannelStatus) : ChannelStatus.New;
    } catch (e) {
        // Chain unreachable: a channel seen open with enough unspent deposit serves on (the worker re-checks it too);
        // one that needs a top-up must wait for the chain.
        if (!stale || free < o.topUpBelow || free < minFree) throw e;
        ctx.log('chain unreachable; continuing the channel from its last known state', { channel: row.address, error: (e as Error).message });
        return row;
    }
    if (status !== ChannelStatus.Open) {
        // New: the open never landed (the Escrow returns a refused deposit).
        o.store.setState(row.address, status === ChannelStatus.Closing ? 'closing' : 'closed');
        return undefined;
    }
    const deposit = await ch.getDeposit();
    if (deposit !== row.deposit) o.store.setDeposit(row.address, deposit);
    const current = { ...row, ...(o.store.channel(row.address) ?? {}), deposit };
    checks.set(row.address, Date.now());
    const left = current.deposit - current.verified;
    if (left < o.topUpBelow || left < minFree) return topUp(ctx, current, o.topUpAmount ?? o.deposit);
    return current;
}
