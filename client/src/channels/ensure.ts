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
 * An open channel to `w` with at least `topUpBelow` (and `minFree`)
 * unspent: the ledger's channel, re-read from chain when its last check is
 * older than channelRecheckSec or its deposit runs low, topped up as
 * needed, or a new one opened. With a lease: the lease's channel, or a new
 * one held by the lease.
 */
export async function ensureChannel(ctx: ClientContext, checks: ChannelChecks, w: WorkerInfo, minFree = 0n, lease?: ChannelLease): Promise<ChannelRow> {
    const { o } = ctx;
    const ws = w.workerStake.toString();
    let row = lease ? lease.preferred : o.store.openChannelFor(ws);
    const recheck = (o.channelRecheckSec ?? 30) * 1000;
    if (row) {
        const free = row.deposit - row.verified;
        const stale = Date.now() - (checks.get(row.address) ?? 0) > recheck;
        if (stale || free < o.topUpBelow || free < minFree) {
            const ch = channelContract(ctx, row.address);
            let deployed: boolean;
            let status: ChannelStatus;
            try {
                deployed = await o.opener.isDeployed(Address.parse(row.address));
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
                row = undefined;
            } else {
                const deposit = await ch.getDeposit();
                if (deposit !== row.deposit) o.store.setDeposit(row.address, deposit);
                row = { ...row, deposit };
                checks.set(row.address, Date.now());
                if (deposit - row.verified < o.topUpBelow || deposit - row.verified < minFree) row = await topUp(ctx, row, o.topUpAmount ?? o.deposit);
            }
        }
    }
    return row ?? (await openChannel(ctx, checks, w, lease));
}
