import '@ton/test-utils';
import { Sender, SenderArguments, toNano } from '@ton/core';
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { signVoucher } from '../../wrappers/voucher';
import { ChainView } from '../../worker/src/chain';
import { Claimer } from '../../worker/src/claimer';
import { createLogger } from '../../worker/src/log';
import { WorkerStore } from '../../worker/src/store/store';
import { EscrowFixture, deployEscrow, openChannel } from '../helpers/channel';
import { sandboxOpener } from './helpers';

describe('claimer', () => {
    let f: EscrowFixture;
    let channel: SandboxContract<ExtendedPaymentChannel>;
    let operator: SandboxContract<TreasuryContract>;
    let store: WorkerStore;
    let sends: number;
    let failNext: number;

    beforeEach(async () => {
        f = await deployEscrow();
        ({ channel } = await openChannel(f, { nonce: 1n, deposit: toNano('10') }));
        operator = await f.blockchain.treasury('operator');
        store = WorkerStore.open(':memory:');
        sends = 0;
        failNext = 0;
    });
    afterEach(() => store.close());

    const sender = (): Sender => ({
        address: operator.address,
        send: async (args: SenderArguments) => {
            sends++;
            if (failNext > 0) {
                failNext--;
                throw new Error('the wallet is not reachable');
            }
            await operator.send(args);
        },
    });
    const claimer = (threshold = toNano('1')) =>
        new Claimer({
            store,
            chain: new ChainView(sandboxOpener(f.blockchain), 0),
            sender: sender(),
            logger: createLogger({ level: 'silent' }),
            threshold,
            intervalMs: 60_000,
            retryInitialMs: 60_000,
            retryMaxMs: 600_000,
            confirmTimeoutMs: 5_000,
        });
    const give = (total: bigint) => {
        const v = signVoucher(channel.address, total, f.clientKeys.secretKey);
        store.recordVoucher({ channel: channel.address.toString(), total, signature: v.signature, receivedAt: 1 });
    };
    const key = () => channel.address.toString();

    it('waits for the threshold, then claims the newest voucher', async () => {
        const c = claimer(toNano('1'));
        give(toNano('0.5'));
        expect(await c.tick()).toEqual([]);
        expect(sends).toBe(0);
        give(toNano('1.5'));
        const [r] = await c.tick();
        expect(r).toMatchObject({ claimed: true, paid: toNano('1.5') });
        expect(await channel.getPaid()).toBe(toNano('1.5'));
        expect(store.channel(key())!.claimedTotal).toBe(toNano('1.5'));
        // Nothing more is due: no second claim.
        expect(await c.tick()).toEqual([]);
        expect(sends).toBe(1);
    });

    it('backs off after a failure, and a forced round (shutdown, `claim`) retries at once', async () => {
        const c = claimer(toNano('1'));
        give(toNano('2'));
        failNext = 1;
        const [failed] = await c.tick();
        expect(failed.claimed).toBe(false);
        expect(failed.error).toMatch(/not reachable/);
        expect(await c.tick()).toEqual([]); // backing off
        expect(sends).toBe(1);
        const [ok] = await c.claimAll();
        expect(ok).toMatchObject({ claimed: true, paid: toNano('2') });
        expect(await channel.getPaid()).toBe(toNano('2'));
    });

    it('is idempotent by total: a voucher already redeemed on chain (a crash after sending) is recorded, not resent', async () => {
        give(toNano('3'));
        // The claim landed but the worker died before recording it.
        await channel.sendClaim(f.stranger.getSender(), signVoucher(channel.address, toNano('3'), f.clientKeys.secretKey));
        const c = claimer(toNano('1'));
        expect(await c.claimAll()).toEqual([]);
        expect(sends).toBe(0);
        expect(store.channel(key())!.claimedTotal).toBe(toNano('3'));
        expect(store.unclaimed(key())).toBe(0n);
    });

    it('claims a closing channel below the threshold, and forgets a closed one', async () => {
        const c = claimer(toNano('100'));
        give(toNano('0.2'));
        expect(await c.tick()).toEqual([]);
        await channel.sendRequestClose(f.client.getSender());
        const [r] = await c.tick();
        expect(r).toMatchObject({ claimed: true, paid: toNano('0.2') });
        expect(store.channel(key())).toMatchObject({ state: 'closing' });
        expect(store.channel(key())!.closeDeadline).toBeGreaterThan(0);
        f.blockchain.now = (f.blockchain.now ?? Math.floor(Date.now() / 1000)) + Number(f.params.channelCloseDelay) + 1;
        await channel.sendFinalize(f.stranger.getSender());
        await c.tick();
        expect(store.channel(key())!.state).toBe('closed');
    });
});
