import { Address } from '@ton/core';
import { ChannelStatus } from '../../../wrappers/PaymentChannel';
import { ExtendedWorkerStake } from '../../../wrappers/WorkerStake';
import { signVoucher, verifyCloseApproval } from '../../../wrappers/voucher';
import { CocoonError } from '../cocoonError';
import { keyBuf } from '../discovery';
import type { ClientContext } from '../options';
import { channelContract, waitForChain } from './onChain';
import type { ChannelPool } from './pool';

export interface CloseResult {
    /** cooperative: closed now; requested: closing, finalise after closeDeadline; already-closed. */
    mode: 'cooperative' | 'requested' | 'already-closed';
    paid: bigint;
    refunded: bigint;
    closeDeadline?: number;
    /** Why the cooperative close did not happen (mode requested). */
    reason?: string;
}

/**
 * Closes a channel. Cooperatively first: the final voucher (the total of
 * every verified receipt) goes to the worker, which co-signs a
 * CloseApproval; both go on chain, and the channel pays the worker and
 * refunds the rest at once. If the worker cannot or will not co-sign
 * (unreachable, refuses), the client asks to close instead: the worker
 * may redeem its last voucher during the close delay, then anyone
 * finalises (`finalizeChannel`). Runs with the channel held in the pool, so
 * no request is in flight on it and the final total cannot miss one.
 */
export async function closeChannel(ctx: ClientContext, pool: ChannelPool, address: string, opts: { cooperative?: boolean } = {}): Promise<CloseResult> {
    const { o } = ctx;
    const row = o.store.channel(Address.parse(address).toString());
    if (!row) throw new CocoonError(404, 'unknown_channel', `${address} is not in this client's ledger`);
    return pool.withChannelAt(row.address, row.workerStake, async () => {
        const ch = channelContract(ctx, row.address);
        const state = await ch.getState();
        if (state.status === ChannelStatus.Closed) {
            o.store.setState(row.address, 'closed');
            return { mode: 'already-closed', paid: state.paid, refunded: state.refunded };
        }
        const final = o.store.latestVoucher(row.address)?.total ?? 0n;
        let why = 'cooperative close not attempted';
        if (opts.cooperative !== false) {
            try {
                const voucher = signVoucher(Address.parse(row.address), final, o.channelKey.secretKey);
                const ws = o.opener.open(ExtendedWorkerStake.fromAddress(Address.parse(row.workerStake)));
                const endpoint = (await ws.getListing()).endpoint.replace(/\/+$/, '');
                const res = await fetch(`${endpoint}/v1/channels/${encodeURIComponent(row.address)}/close`, {
                    method: 'POST',
                    headers: { 'content-type': 'application/json' },
                    body: JSON.stringify({ total: final.toString(), signature: voucher.signature.toString('hex') }),
                    signal: AbortSignal.timeout(o.connectTimeoutMs ?? 30_000),
                });
                const body = (await res.json().catch(() => ({}))) as { signature?: string; total?: string; error?: { message?: string } };
                if (res.status !== 200) throw new Error(`the worker refused (${res.status}): ${body.error?.message ?? 'no reason given'}`);
                const workerSignature = Buffer.from(String(body.signature ?? ''), 'hex');
                if (body.total !== final.toString() || !verifyCloseApproval(Address.parse(row.address), final, workerSignature, keyBuf(state.workerKey)))
                    throw new Error("the worker's approval does not verify for this channel and total");
                ctx.log('closing channel cooperatively', { channel: row.address, total: final.toString() });
                await ch.sendCooperativeClose(o.wallet, voucher, workerSignature);
                const closed = await waitForChain(
                    'the cooperative close',
                    () => ch.getState(),
                    (st) => st.status === ChannelStatus.Closed,
                );
                o.store.setState(row.address, 'closed');
                return { mode: 'cooperative', paid: closed.paid, refunded: closed.refunded };
            } catch (e) {
                if (e instanceof CocoonError) throw e;
                why = (e as Error).message;
                ctx.log('cooperative close failed; asking to close instead', { channel: row.address, reason: why });
            }
        }
        if (state.status === ChannelStatus.Open) {
            await ch.sendRequestClose(o.wallet);
            await waitForChain(
                'the close request',
                async () => Number(await ch.getStatus()),
                (st) => st === ChannelStatus.Closing,
            );
        }
        o.store.setState(row.address, 'closing');
        const deadline = Number(await ch.getCloseDeadline());
        return { mode: 'requested', paid: state.paid, refunded: 0n, closeDeadline: deadline, reason: why };
    });
}
