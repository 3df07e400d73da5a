import '@ton/test-utils';
import { Address, beginCell, toNano } from '@ton/core';
import { Blockchain, internal } from '@ton/sandbox';
import { ExitCode } from '../wrappers/exitCodes';
import { ExtendedStaking, storeWorkerIndexed } from '../wrappers/Staking';
import { SandboxContract } from '@ton/sandbox';
import { ExtendedWorkerStake, WorkerStatus } from '../wrappers/WorkerStake';
import { passProposal } from './helpers/registry';
import { IMAGE, MODEL, OTHER_MODEL, StakingFixture, attest, deployStaking, keyInt, listing, stake, workerKeys } from './helpers/staking';
import { Opcode } from '../wrappers/opcodes';

describe('Staking', () => {
    let f: StakingFixture;

    beforeEach(async () => {
        f = await deployStaking();
    });

    describe('config', () => {
        it('takes the Registry config pushed by a real Registry', async () => {
            expect(await f.staking.getConfigVersion()).toBe(await f.registry.getConfigVersion());
            const params = await f.staking.getParams();
            expect(params.minWorkerStake).toBe(f.params.minWorkerStake);
            expect(params.fraudProofWindow).toBe(f.params.fraudProofWindow);
            const links = await f.staking.getLinks();
            expect(links.verifier!.equals(f.verifier.address)).toBe(true);
        });

        it('refuses config from anyone but the Registry', async () => {
            const cfg = await f.registry.getNetworkConfig();
            const { storeConfigUpdate } = await import('../wrappers/Staking');
            const res = await f.stranger.send({
                to: f.staking.address,
                value: toNano('0.1'),
                body: beginCell()
                    .store(storeConfigUpdate({ $$type: 'ConfigUpdate', queryId: 0n, version: 99n, config: cfg }))
                    .endCell(),
            });
            expect(res.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_CONFIG_NOT_FROM_REGISTRY });
        });

        it('refuses a replayed or older config, and a malformed one, even from the Registry', async () => {
            const cfg = await f.registry.getNetworkConfig();
            const version = await f.staking.getConfigVersion();
            const { storeConfigUpdate } = await import('../wrappers/Staking');
            const push = (v: bigint, paused: boolean) =>
                f.blockchain.sendMessage(
                    internal({
                        from: f.registry.address,
                        to: f.staking.address,
                        value: toNano('0.1'),
                        body: beginCell()
                            .store(storeConfigUpdate({ $$type: 'ConfigUpdate', queryId: 0n, version: v, config: { ...cfg, paused } }))
                            .endCell(),
                    }),
                );
            for (const v of [version, version - 1n]) {
                const res = await push(v, true);
                expect(res.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_CONFIG_STALE_VERSION });
            }
            const malformed = await f.blockchain.sendMessage(
                internal({ from: f.registry.address, to: f.staking.address, value: toNano('0.1'), body: beginCell().storeUint(Opcode.ConfigUpdate, 32).storeUint(0, 64).endCell() }),
            );
            expect(malformed.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: 9 });
            // Still taking stakes: no stale push paused it.
            const { result } = await stake(f, toNano('1'));
            expect(result.transactions).toHaveTransaction({ to: f.staking.address, success: true });
            // A newer one is taken, pause included.
            const newer = await push(version + 1n, true);
            expect(newer.transactions).toHaveTransaction({ to: f.staking.address, success: true });
            expect(await f.staking.getConfigVersion()).toBe(version + 1n);
            const paused = await stake(f, toNano('1'));
            expect(paused.result.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_PAUSED });
        });

        it('refuses stakes before it is configured', async () => {
            const blockchain = await Blockchain.create();
            const w = await blockchain.treasury('w');
            const lone = blockchain.openContract(await ExtendedStaking.fromInit(w.address));
            await lone.sendDeploy(w.getSender());
            const res = await lone.sendStake(w.getSender(), toNano('20'), 1n, listing());
            expect(res.transactions).toHaveTransaction({ to: lone.address, success: false, exitCode: ExitCode.ERR_STAKING_NOT_CONFIGURED });
        });

        it('refuses new stake while the network is paused', async () => {
            await f.registry.sendPause(f.owner.getSender());
            const { result } = await stake(f, toNano('20'));
            expect(result.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_PAUSED });
        });
    });

    describe('stake', () => {
        it('deploys the WorkerStake with the exact stake and returns the excess', async () => {
            const amount = toNano('20');
            const { result, worker } = await stake(f, amount);
            expect(result.transactions).toHaveTransaction({ from: f.staking.address, to: worker.address, deploy: true, success: true });
            expect(result.transactions).toHaveTransaction({ from: worker.address, to: f.provider.address, success: true });
            expect(await worker.getStake()).toBe(amount);
            const state = await worker.getState();
            expect(state.owner.equals(f.provider.address)).toBe(true);
            expect(state.workerKey).toBe(f.workerKey);
            expect(Number(state.status)).toBe(WorkerStatus.Pending);
            const l = await worker.getListing();
            expect(l.endpoint).toBe(listing().endpoint);
            expect(l.prices.completion).toBe(listing().prices.completion);
            // The WorkerStake holds the stake plus its storage reserve, no more than a little gas change.
            const balance = (await f.blockchain.getContract(worker.address)).balance;
            expect(balance).toBeGreaterThanOrEqual(amount + toNano('0.05'));
            expect(balance).toBeLessThan(amount + toNano('0.06'));
            // Staking keeps nothing of the deposit.
            const stakingBalance = (await f.blockchain.getContract(f.staking.address)).balance;
            expect(stakingBalance).toBeLessThan(toNano('0.2'));
        });

        it('tops up through Stake again or through TopUpStake, straight to the WorkerStake', async () => {
            const { worker } = await stake(f, toNano('5'));
            // A later Stake only adds to the stake: its listing is not applied (UpdateListing changes it, with its price notice).
            await stake(f, toNano('3'), { listing: listing({ endpoint: 'https://elsewhere.example', prices: { ...listing().prices, prompt: 1n } }) });
            expect(await worker.getStake()).toBe(toNano('8'));
            expect((await worker.getListing()).endpoint).toBe(listing().endpoint);
            expect((await worker.getPriceHistory()).size).toBe(1);
            const res = await worker.sendTopUpStake(f.provider.getSender(), toNano('2'));
            expect(res.transactions).toHaveTransaction({ from: f.provider.address, to: worker.address, success: true });
            // Staking takes no part in a top-up.
            expect(res.transactions).not.toHaveTransaction({ to: f.staking.address });
            expect(await worker.getStake()).toBe(toNano('10'));
        });

        it('bounces a top-up of a worker that never staked back to the sender and leaves no account', async () => {
            const before = await f.provider.getBalance();
            const worker = f.blockchain.openContract(ExtendedWorkerStake.fromAddress(await f.staking.getWorkerAddress(f.provider.address, 77n)));
            const res = await worker.sendTopUpStake(f.provider.getSender(), toNano('2'));
            expect(res.transactions).toHaveTransaction({ from: worker.address, to: f.provider.address, inMessageBounced: true });
            expect((await f.blockchain.getContract(worker.address)).accountState?.type).not.toBe('active');
            // Only fees are lost.
            expect(before - (await f.provider.getBalance())).toBeLessThan(toNano('0.01'));
        });

        it('refuses a stake that leaves nothing after the overhead', async () => {
            const overhead = await f.staking.getStakeOverhead();
            const res = await f.staking.sendStake(f.provider.getSender(), overhead, f.workerKey, listing());
            expect(res.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_NOTHING_STAKED });
        });

        it('refuses malformed listings', async () => {
            const value = toNano('20');
            for (const bad of [listing({ endpoint: '' }), listing({ endpoint: 'x'.repeat(128) }), listing({ modelId: 0n })]) {
                const res = await f.staking.sendStake(f.provider.getSender(), value, f.workerKey, bad);
                expect(res.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_BAD_LISTING });
            }
            const zeroKey = await f.staking.sendStake(f.provider.getSender(), value, 0n, listing());
            expect(zeroKey.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_BAD_LISTING });
            // The longest allowed endpoint fits.
            const ok = await f.staking.sendStake(f.provider.getSender(), value, f.workerKey, listing({ endpoint: 'x'.repeat(127) }));
            expect(ok.transactions).toHaveTransaction({ to: f.staking.address, success: true });
        });

        it('refuses a malformed body', async () => {
            const res = await f.provider.send({ to: f.staking.address, value: toNano('20'), body: beginCell().storeUint(Opcode.Stake, 32).storeUint(0, 64).endCell() });
            expect(res.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: 9 });
        });

        it('gives every (owner, key) its own WorkerStake', async () => {
            const other = await f.blockchain.treasury('other', { balance: toNano('100') });
            const a = await stake(f, toNano('1'));
            const b = await stake(f, toNano('1'), { owner: other });
            const c = await stake(f, toNano('1'), { workerKey: 5n });
            expect(new Set([a.worker.address, b.worker.address, c.worker.address].map((x) => x.toString())).size).toBe(3);
        });
    });

    describe('index', () => {
        it('lists an attested worker with enough stake and unlists it on unbonding', async () => {
            const { worker } = await stake(f, f.params.minWorkerStake);
            expect(await f.staking.getWorkerCount(MODEL)).toBe(0n);
            const res = await attest(f, worker.address);
            expect(res.transactions).toHaveTransaction({ from: worker.address, to: f.staking.address, success: true });
            expect(await f.staking.getWorkerCount(MODEL)).toBe(1n);
            const page = await f.staking.getAllActiveWorkers(MODEL);
            expect(page.length).toBe(1);
            expect(page[0].worker.equals(worker.address)).toBe(true);
            expect(page[0].imageHash).toBe(IMAGE);
            await worker.sendStartUnbonding(f.provider.getSender());
            expect(await f.staking.getWorkerCount(MODEL)).toBe(0n);
        });

        it('does not list a worker below the minimum stake until a top-up', async () => {
            const { worker } = await stake(f, f.params.minWorkerStake - 1n);
            await attest(f, worker.address);
            expect(await f.staking.getWorkerCount(MODEL)).toBe(0n);
            expect(Number(await worker.getStatus())).toBe(WorkerStatus.Pending);
            const res = await worker.sendTopUpStake(f.provider.getSender(), 1n);
            expect(res.transactions).toHaveTransaction({ from: worker.address, to: f.staking.address, success: true });
            expect(await f.staking.getWorkerCount(MODEL)).toBe(1n);
            expect(Number(await worker.getStatus())).toBe(WorkerStatus.Active);
        });

        it('hides expired and revoked entries from the page getter', async () => {
            const { worker } = await stake(f, f.params.minWorkerStake);
            await attest(f, worker.address, { expiresAt: BigInt(f.blockchain.now! + 100) });
            expect((await f.staking.getAllActiveWorkers(MODEL)).length).toBe(1);
            f.blockchain.now! += 101;
            expect((await f.staking.getAllActiveWorkers(MODEL)).length).toBe(0);
            expect(Number(await worker.getStatus())).toBe(WorkerStatus.Pending);
            // A fresh attestation refreshes the entry in place.
            await attest(f, worker.address);
            expect((await f.staking.getAllActiveWorkers(MODEL)).length).toBe(1);
            expect(await f.staking.getWorkerCount(MODEL)).toBe(1n);
            await f.registry.sendRevokeImage(f.owner.getSender(), IMAGE);
            expect((await f.staking.getAllActiveWorkers(MODEL)).length).toBe(0);
        });

        it('unlists a worker whose image was revoked once its config is synced', async () => {
            const { worker } = await stake(f, f.params.minWorkerStake);
            await attest(f, worker.address);
            await f.registry.sendRevokeImage(f.owner.getSender(), IMAGE);
            expect(Number(await worker.getStatus())).toBe(WorkerStatus.Active); // its copy is stale
            const res = await f.staking.sendSyncWorkerConfig(f.stranger.getSender(), f.provider.address, f.workerKey);
            expect(res.transactions).toHaveTransaction({ from: worker.address, to: f.stranger.address, success: true });
            expect(Number(await worker.getStatus())).toBe(WorkerStatus.Pending);
            expect(await f.staking.getWorkerCount(MODEL)).toBe(0n);
        });

        it('refuses SyncWorkerConfig with too little value', async () => {
            const res = await f.staking.send(f.stranger.getSender(), { value: toNano('0.01') }, { $$type: 'SyncWorkerConfig', queryId: 0n, owner: f.provider.address, workerKey: f.workerKey });
            expect(res.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
        });

        it('is bounded by the Registry capacity; a refused worker knows it is unlisted', async () => {
            f = await deployStaking({ maxActiveWorkers: 2n });
            const workers: SandboxContract<ExtendedWorkerStake>[] = [];
            for (let i = 1n; i <= 3n; i++) {
                const { worker } = await stake(f, f.params.minWorkerStake, { workerKey: i });
                await attest(f, worker.address, { workerKey: i });
                workers.push(worker);
            }
            expect(await f.staking.getWorkerCount(MODEL)).toBe(2n);
            expect((await workers[2].getState()).listed).toBe(false);
            // A slot frees up: the third worker gets in on its next attestation.
            await workers[0].sendStartUnbonding(f.provider.getSender());
            await attest(f, workers[2].address, { workerKey: 3n });
            const listed = (await f.staking.getAllActiveWorkers(MODEL)).map((e) => e.worker.toString()).sort();
            expect(listed).toEqual([workers[1].address.toString(), workers[2].address.toString()].sort());
        });

        it('pages through many workers with dense slots after removals', async () => {
            const workers: SandboxContract<ExtendedWorkerStake>[] = [];
            for (let i = 1n; i <= 5n; i++) {
                const { worker } = await stake(f, f.params.minWorkerStake, { workerKey: i });
                await attest(f, worker.address, { workerKey: i });
                workers.push(worker);
            }
            await workers[1].sendStartUnbonding(f.provider.getSender());
            expect(await f.staking.getWorkerCount(MODEL)).toBe(4n);
            const page1 = await f.staking.getActiveWorkers(MODEL, 0n, 2n);
            const page2 = await f.staking.getActiveWorkers(MODEL, 2n, 2n);
            expect(page1.size + page2.size).toBe(4);
            const all = [...page1.values(), ...page2.values()].map((e) => e.worker.toString()).sort();
            expect(all).toEqual([0, 2, 3, 4].map((i) => workers[i].address.toString()).sort());
            expect((await f.staking.getActiveWorkers(OTHER_MODEL, 0n, 10n)).size).toBe(0);
        });

        it('accepts index notifications only from its own WorkerStakes', async () => {
            const body = beginCell()
                .store(
                    storeWorkerIndexed({
                        $$type: 'WorkerIndexed',
                        queryId: 0n,
                        owner: f.stranger.address,
                        workerKey: 1n,
                        modelId: MODEL,
                        imageHash: IMAGE,
                        expiresAt: 2_000_000_000n,
                    }),
                )
                .endCell();
            const res = await f.stranger.send({ to: f.staking.address, value: toNano('0.1'), body });
            expect(res.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_NOT_WORKER });
            expect(await f.staking.getWorkerCount(MODEL)).toBe(0n);
        });
    });

    it('ignores unindex notifications from strangers', async () => {
        const { worker } = await stake(f, f.params.minWorkerStake);
        await attest(f, worker.address);
        const res = await f.staking.send(
            f.stranger.getSender(),
            { value: toNano('0.1') },
            {
                $$type: 'WorkerUnindexed',
                queryId: 0n,
                owner: f.provider.address,
                workerKey: f.workerKey,
                modelId: MODEL,
            },
        );
        expect(res.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_NOT_WORKER });
        expect(await f.staking.getWorkerCount(MODEL)).toBe(1n);
    });

    it('takes no TopUpStake itself: top-ups go to the WorkerStake', async () => {
        await stake(f, toNano('1'));
        const res = await f.provider.send({ to: f.staking.address, value: toNano('2'), body: beginCell().storeUint(Opcode.TopUpStake, 32).storeUint(0, 64).storeCoins(toNano('1')).endCell() });
        expect(res.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: 130 });
    });

    describe('governance slash order', () => {
        it('is refused from anyone but the Registry', async () => {
            const { worker } = await stake(f, toNano('20'));
            const res = await f.staking.send(
                f.stranger.getSender(),
                { value: toNano('1') },
                {
                    $$type: 'GovernanceSlashOrder',
                    queryId: 0n,
                    owner: f.provider.address,
                    workerKey: f.workerKey,
                    fractionBps: 1000n,
                    reasonHash: 1n,
                },
            );
            expect(res.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_NOT_REGISTRY });
            expect(await worker.getStake()).toBe(toNano('20'));
        });
    });

    it('computes worker addresses like the WorkerStake init', async () => {
        const k = workerKeys('x');
        const expected = (await ExtendedWorkerStake.fromInit(f.staking.address, f.provider.address, keyInt(k.publicKey))).address;
        expect((await f.staking.getWorkerAddress(f.provider.address, keyInt(k.publicKey))).equals(expected)).toBe(true);
        void Address;
        void passProposal;
    });
});
