import '@ton/test-utils';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Address, Contract, OpenedContract, Sender, toNano } from '@ton/core';
import { SandboxContract } from '@ton/sandbox';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { ExtendedWorkerStake, WorkerStatus } from '../../wrappers/WorkerStake';
import { Prices, receiptMaxCost } from '../../wrappers/receipt';
import type { ContractOpener } from '../../wrappers/toncenter';
import { CocoonClient } from '../../client/src/client';
import { ClientStore } from '../../client/src/store';
import { testKeys } from '../helpers/channel';
import { MODEL as STAKING_MODEL, StakingFixture, attest, deployStaking, listing, stake } from '../helpers/staking';
import { MODEL, StandIn, USAGE, clientWithChannel } from './standIn';

/**
 * The price rule against a real WorkerStake on a sandbox chain: the client
 * accepts what the WorkerStake's chargeableTerms allow (old, higher terms
 * during the grace after a cut), refuses more, and proves an overcharge on
 * chain only when the WorkerStake would slash for it.
 */

const HIGH: Prices = { prompt: 1_000_000_000n, cached: 500_000_000n, completion: 2_000_000_000n, reasoning: 2_000_000_000n };
const LOW: Prices = { prompt: HIGH.prompt / 2n, cached: HIGH.cached / 2n, completion: HIGH.completion / 2n, reasoning: HIGH.reasoning / 2n };
const STAKE = toNano('20');

describe('client price rule on a sandbox WorkerStake', () => {
    let f: StakingFixture;
    let ws: SandboxContract<ExtendedWorkerStake>;
    let si: StandIn;
    let dir: string;
    const channelKey = testKeys('grace-client');
    const stores: ClientStore[] = [];
    let cutAt: number;

    /** The sandbox chain, except that every channel is open and funded. */
    function opener(): ContractOpener {
        return {
            open: <T extends Contract>(c: T) =>
                c instanceof ExtendedPaymentChannel
                    ? ({ getStatus: async () => 1n, getDeposit: async () => toNano('10') } as unknown as OpenedContract<T>)
                    : (f.blockchain.openContract(c) as unknown as OpenedContract<T>),
            isDeployed: async () => true,
            now: async () => f.blockchain.now!,
        };
    }

    function newClient(): { client: CocoonClient; channel: Address } {
        const channel = new Address(0, randomBytes(32));
        const { client, store } = clientWithChannel({
            dbPath: join(dir, `${channel.hash.toString('hex').slice(0, 8)}.db`),
            channel,
            workerStake: ws.address,
            channelKey,
            opener: opener(),
            staking: f.staking.address,
            wallet: f.reporter.getSender() as Sender & { address: Address },
            submitFraudProofs: true,
            now: () => f.blockchain.now!,
        });
        stores.push(store);
        return { client, channel };
    }

    /** What discovery reports for the worker now: the terms in force. */
    async function info() {
        const p = await ws.getPricesInForce();
        return { ...si.info(), prices: { prompt: p.prompt, cached: p.cached, completion: p.completion, reasoning: p.reasoning } };
    }

    const ask = async (client: CocoonClient) => client.call(await info(), { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });

    beforeAll(async () => {
        f = await deployStaking();
        ({ worker: ws } = await stake(f, STAKE, { listing: listing({ prices: HIGH }) }));
        await attest(f, ws.address);
        expect(Number(await ws.getStatus())).toBe(WorkerStatus.Active);
        dir = await fs.mkdtemp(join(tmpdir(), 'cocoon-client-grace-'));
        // The worker keeps charging its old, higher terms: honest only during the grace after the cut.
        si = await new StandIn({ workerKey: f.keys, channelKey, workerStake: ws.address, modelId: STAKING_MODEL, prices: HIGH, now: () => f.blockchain.now! }).start();
        f.blockchain.now = f.blockchain.now! + 3600;
        cutAt = f.blockchain.now;
        await ws.sendUpdateListing(f.provider.getSender(), listing({ prices: LOW, encryptionKey: (await ws.getListing()).encryptionKey }));
        expect((await ws.getPricesInForce()).prompt).toBe(LOW.prompt);
    });

    afterAll(async () => {
        for (const s of stores) s.close();
        await si.close();
        await fs.rm(dir, { recursive: true, force: true });
    });

    it('pays a receipt at the old, higher terms within the grace after a price cut, and files no proof', async () => {
        const grace = Number(await ws.getPriceCutGrace());
        f.blockchain.now = cutAt + grace - 60;
        const { client, channel } = newClient();
        const r = await ask(client);
        expect(r.cost).toBe(receiptMaxCost(HIGH, USAGE));
        expect(r.cost).toBeGreaterThan(receiptMaxCost(LOW, USAGE));
        expect(client.o.store.latestVoucher(channel.toString())!.total).toBe(r.cost);
        expect(client.excluded.size).toBe(0);
        expect(client.fraudProofs).toHaveLength(0);
        expect((await ws.getState()).slashes).toBe(0n);
    });

    it('refuses a receipt at the old terms once the grace is over, and its fraud proof lands and slashes', async () => {
        const grace = Number(await ws.getPriceCutGrace());
        f.blockchain.now = cutAt + grace + 60;
        const { client, channel } = newClient();
        const err = await ask(client).catch((e) => e);
        expect(err).toMatchObject({ code: 'receipt_rejected', rules: ['price'] });
        expect(client.o.store.latestVoucher(channel.toString())).toBeUndefined();
        expect(client.fraudProofs).toHaveLength(1);
        await expect(client.fraudProofs[0]).resolves.toEqual({ filed: true });
        const st = await ws.getState();
        expect(st.slashes).toBe(1n);
        expect(st.stake).toBeLessThan(STAKE);
        expect(Number(st.status)).toBe(WorkerStatus.Jailed);
    });

    it('refuses an overcharge the WorkerStake can no longer slash (jailed) without filing a proof', async () => {
        const { client } = newClient();
        const err = await ask(client).catch((e) => e);
        expect(err).toMatchObject({ code: 'receipt_rejected', rules: ['price'] });
        await expect(client.fraudProofs[0]).resolves.toMatchObject({ filed: false, reason: expect.stringMatching(/not slashable/) });
        expect((await ws.getState()).slashes).toBe(1n);
    });

    it('refuses a receipt broken by another rule than price without filing a proof', async () => {
        si.usage = { ...USAGE, prompt: 1_000_000n };
        si.prices = LOW;
        const { client } = newClient();
        const err = await ask(client).catch((e) => e);
        si.reset();
        expect(err).toMatchObject({ code: 'receipt_rejected', rules: ['prompt-bound'] });
        expect(client.fraudProofs).toHaveLength(0);
    });
});
