import { Address, Contract, OpenedContract, SenderArguments, toNano } from '@ton/core';
import { ChannelPool } from '../../client/src/channels/pool';
import { openChannel } from '../../client/src/channels/open';
import type { ChannelChecks } from '../../client/src/channels/onChain';
import type { WorkerInfo } from '../../client/src/discovery';
import { ClientOptions, clientContext } from '../../client/src/options';
import { ClientStore } from '../../client/src/store';
import { ExtendedEscrow } from '../../wrappers/Escrow';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { ContractOpener } from '../../wrappers/toncenter';
import { testKeys } from '../helpers/channel';
import { ExtendedWorkerStake } from '../../wrappers/WorkerStake';
import { keyToInt } from '../../wrappers/voucher';

/**
 * The pool never opens more than channelsPerWorker channels to one worker,
 * however calls arrive while opens are in flight: an open counts against
 * the limit from the moment a call reserves it until the channel is in the
 * ledger. Each channel costs its deposit and the open's fees, so an extra
 * one is the client's money locked for nothing.
 */
describe('channel pool: opens in flight count against channelsPerWorker', () => {
    const escrow = new Address(0, Buffer.alloc(32, 0xe5));
    const staking = new Address(0, Buffer.alloc(32, 0x5a));
    const worker: WorkerInfo = {
        workerStake: new Address(0, Buffer.alloc(32, 0x57)),
        owner: new Address(0, Buffer.alloc(32, 0x0a)),
        workerKey: testKeys('pool-worker').publicKey,
        encryptionKey: Buffer.alloc(32, 1),
        endpoint: 'http://127.0.0.1:1',
        modelId: 1n,
        model: 'm',
        prices: { prompt: 1n, cached: 1n, completion: 1n, reasoning: 1n },
        imageHash: 0n,
        expiresAt: 2_000_000_000,
        tee: 'simulated',
    };
    // The WorkerStake Staking deploys for this owner and key (what the Escrow derives when opening).
    beforeAll(async () => {
        worker.workerStake = (await ExtendedWorkerStake.fromInit(staking, worker.owner, keyToInt(worker.workerKey))).address;
    });

    /** A chain where every open is confirmed only when the test lets it through. */
    function slowChain() {
        const sent: SenderArguments[] = [];
        const confirmations: Array<() => void> = [];
        const opener: ContractOpener = {
            open: <T extends Contract>(c: T) => {
                if (c instanceof ExtendedPaymentChannel) return { getStatus: async () => 1n, getDeposit: async () => toNano('3') } as unknown as OpenedContract<T>;
                if (c instanceof ExtendedEscrow) {
                    return {
                        sendOpenChannel: async (via: { send(a: SenderArguments): Promise<void> }) => via.send({ to: escrow, value: toNano('3') }),
                    } as unknown as OpenedContract<T>;
                }
                return { getLinks: async () => ({ escrow }) } as unknown as OpenedContract<T>;
            },
            isDeployed: async () => true,
        };
        const wallet = {
            address: new Address(0, Buffer.alloc(32, 0xc1)),
            // Like the operator wallet: resolves once the chain has taken the message.
            send: (a: SenderArguments) => {
                sent.push(a);
                return new Promise<void>((resolve) => confirmations.push(resolve));
            },
        };
        return { opener, wallet, sent, confirmAll: () => confirmations.splice(0).forEach((c) => c()) };
    }

    /** A pool on a slow chain with a 3 TON deposit per channel, its ledger in memory. */
    function poolFixture(options: Partial<ClientOptions> = {}) {
        const chain = slowChain();
        const store = ClientStore.open(':memory:');
        const o: ClientOptions = { opener: chain.opener, staking, wallet: chain.wallet, channelKey: testKeys('pool-client'), store, deposit: toNano('3'), topUpBelow: toNano('1'), ...options };
        const ctx = clientContext(o);
        const checks: ChannelChecks = new Map();
        /** Lets every pending promise chain run its course. */
        const settle = async () => {
            for (let i = 0; i < 40; i++) await new Promise((r) => setImmediate(r));
        };
        return { chain, store, ctx, checks, pool: new ChannelPool(o), settle, open: (lease: Parameters<typeof openChannel>[3]) => openChannel(ctx, checks, worker, lease) };
    }

    it('a call arriving while two opens are in flight waits instead of opening a third', async () => {
        const { chain, store, pool, settle, open } = poolFixture({ channelsPerWorker: 2 });
        const used: string[] = [];
        const call = () =>
            pool.withChannel(worker, async (lease) => {
                const row = lease.preferred ?? (await open(lease));
                used.push(row.address);
            });
        try {
            const first = [call(), call()];
            await settle();
            // Both opens are with the wallet, unconfirmed.
            expect(chain.sent).toHaveLength(2);
            const late = call();
            await settle();
            expect(chain.sent).toHaveLength(2);
            chain.confirmAll();
            await Promise.all(first);
            await late;
            expect(chain.sent).toHaveLength(2);
            expect(store.channels()).toHaveLength(2);
            expect(new Set(used).size).toBe(2);
            expect(used).toHaveLength(3);
        } finally {
            store.close();
        }
    });

    it('a burst of 64 calls at a fresh pool opens one channel and shares it while its deposit covers them', async () => {
        const { chain, store, pool, settle, open } = poolFixture();
        let together = 0;
        let most = 0;
        const release: Array<() => void> = [];
        // Each call may cost up to 0.04 TON: 64 of them fit the 3 TON deposit together.
        const call = () =>
            pool.withChannel(
                worker,
                async (lease) => {
                    const row = lease.preferred ?? (await open(lease));
                    together++;
                    most = Math.max(most, together);
                    await new Promise<void>((r) => release.push(r));
                    together--;
                    return row.address;
                },
                toNano('0.04'),
            );
        try {
            const calls = Array.from({ length: 64 }, call);
            await settle();
            expect(chain.sent).toHaveLength(1);
            chain.confirmAll();
            // The opener's call runs alone until its channel is open and in the ledger; then everyone joins it.
            await settle();
            release.splice(0).forEach((r) => r());
            await settle();
            expect(most).toBeGreaterThan(1);
            for (let i = 0; i < 10 && release.length; i++) {
                release.splice(0).forEach((r) => r());
                await settle();
            }
            const used = await Promise.all(calls);
            expect(new Set(used).size).toBe(1);
            expect(chain.sent).toHaveLength(1);
            expect(store.channels()).toHaveLength(1);
            expect(most).toBe(63);
        } finally {
            store.close();
        }
    });

    it('a call that does not fit beside the calls in flight waits for one to end rather than opening another channel', async () => {
        const { chain, store, pool, settle, open } = poolFixture();
        const release: Array<() => void> = [];
        const order: string[] = [];
        const call = (name: string) =>
            pool.withChannel(
                worker,
                async (lease) => {
                    if (!lease.preferred) await open(lease);
                    order.push(name);
                    await new Promise<void>((r) => release.push(r));
                },
                toNano('2'),
            );
        try {
            const first = call('first');
            await settle();
            chain.confirmAll();
            await settle();
            // 3 TON of deposit, 2 TON reserved by the first: the second waits.
            const second = call('second');
            await settle();
            expect(order).toEqual(['first']);
            release.splice(0).forEach((r) => r());
            await first;
            await settle();
            expect(order).toEqual(['first', 'second']);
            release.splice(0).forEach((r) => r());
            await second;
            expect(chain.sent).toHaveLength(1);
        } finally {
            store.close();
        }
    });

    it('a channel whose open was broadcast but not confirmed in time stays in the ledger with its nonce', async () => {
        const chain = slowChain();
        const store = ClientStore.open(':memory:');
        const o: ClientOptions = {
            opener: chain.opener,
            staking,
            // The wallet broadcasts, then gives up waiting for its seqno to move.
            wallet: {
                address: chain.wallet.address,
                send: async (a: SenderArguments) => {
                    chain.sent.push(a);
                    throw new Error('the wallet did not accept the message (seqno still 7)');
                },
            },
            channelKey: testKeys('pool-client'),
            store,
            deposit: toNano('3'),
            topUpBelow: toNano('1'),
        };
        try {
            await expect(new ChannelPool(o).withChannel(worker, (lease) => openChannel(clientContext(o), new Map(), worker, lease))).rejects.toThrow(/did not accept/);
            expect(chain.sent).toHaveLength(1);
            // The deposit may well be on chain: the ledger keeps the channel (found and retired on next use if it never landed).
            const rows = store.channels();
            expect(rows).toHaveLength(1);
            expect(rows[0].workerStake).toBe(worker.workerStake.toString());
            expect(BigInt(rows[0].nonce)).toBeGreaterThan(0n);
        } finally {
            store.close();
        }
    });
});
