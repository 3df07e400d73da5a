import '@ton/test-utils';
import { Address, beginCell, toNano } from '@ton/core';
import { SandboxContract } from '@ton/sandbox';
import { findTransactionRequired } from '@ton/test-utils';
import { makeSignedReceipt, receiptMaxCost } from '../../wrappers/receipt';
import { ExtendedStaking, storeConfigUpdate } from '../../wrappers/Staking';
import { ExtendedWorkerStake, storeAttestationRevoked } from '../../wrappers/WorkerStake';
import { checkGas, computeGas } from '../../bench/lib/gas';
import { Constants } from '../../wrappers/constants';
import { MODEL, OTHER_MODEL, PRICES, StakingFixture, attest, deployStaking, listing, stake } from '../helpers/staking';
import { Opcode } from '../../wrappers/opcodes';

/** GAS_* budgets as declared in contracts/constants.tact, which receivers charge callers for. */
const budget = (name: keyof Constants): number => Number(Constants[name]);

/**
 * Measures every Staking and WorkerStake operation for bench/gas.json and
 * checks each against the budget its receiver charges for.
 */
describe('Staking gas', () => {
    let f: StakingFixture;
    let worker: SandboxContract<ExtendedWorkerStake>;
    const STAKE = toNano('20');

    beforeEach(async () => {
        f = await deployStaking({}, undefined);
    });

    function measure(name: string, txs: Parameters<typeof checkGas>[2], to: Address, op: number, budgetName?: keyof Constants) {
        const tx = findTransactionRequired(txs, { to, op, success: true });
        const entry = checkGas(name, tx, txs);
        if (budgetName) expect(entry.gasUsed).toBeLessThanOrEqual(budget(budgetName));
        return entry;
    }

    const receipt = (over: object = {}) => {
        const usage = { prompt: 1000n, cached: 100n, completion: 1000n, reasoning: 0n };
        return makeSignedReceipt(
            {
                workerStake: worker.address,
                channel: f.stranger.address,
                requestId: 1n,
                modelId: MODEL,
                usage,
                cost: receiptMaxCost(PRICES, usage),
                cumulativeCost: 0n,
                time: BigInt(f.blockchain.now!),
                requestHash: 1n,
                responseHash: 2n,
                ...over,
            },
            f.keys.secretKey,
        ).evidence;
    };

    it('stake, top-up, attest, index, listing, unbond, withdraw', async () => {
        const first = await stake(f, STAKE);
        worker = first.worker;
        measure('Staking.stake', first.result.transactions, f.staking.address, Opcode.Stake, 'GAS_STAKING_STAKE');
        measure('WorkerStake.deposit', first.result.transactions, worker.address, Opcode.StakeDeposit, 'GAS_WS_DEPOSIT');
        // The deploy message (the WorkerStake's code and data, the config and the listing) fits its forwarding budget.
        const staked = findTransactionRequired(first.result.transactions, { to: f.staking.address, op: Opcode.Stake, success: true });
        const actions = staked.description.type === 'generic' ? staked.description.actionPhase : undefined;
        expect(actions?.totalFwdFees).toBeLessThanOrEqual(Constants.DEPOSIT_FWD_BUDGET);
        // A top-up goes straight from the owner to the WorkerStake.
        const top = await worker.sendTopUpStake(f.provider.getSender(), toNano('1'));
        measure('WorkerStake.topUp', top.transactions, worker.address, Opcode.TopUpStake, 'GAS_WS_TOP_UP');
        // An attestation that a key revocation ends, then one from other hardware.
        await attest(f, worker.address, { evidenceKeyId: 5n });
        const revoked = await f.verifier.send({
            to: worker.address,
            value: toNano('0.1'),
            body: beginCell()
                .store(storeAttestationRevoked({ $$type: 'AttestationRevoked', queryId: 0n, evidenceKeyId: 5n }))
                .endCell(),
        });
        measure('WorkerStake.attestationRevoked', revoked.transactions, worker.address, Opcode.AttestationRevoked, 'GAS_WS_ATTEST');
        const att = await attest(f, worker.address);
        measure('WorkerStake.attestationRecorded', att.transactions, worker.address, Opcode.AttestationRecorded, 'GAS_WS_ATTEST');
        measure('Staking.workerIndexed', att.transactions, f.staking.address, Opcode.WorkerIndexed);
        const upd = await worker.sendUpdateListing(f.provider.getSender(), listing({ encryptionKey: 0xe2n, prices: { ...PRICES, prompt: PRICES.prompt * 2n } }));
        measure('WorkerStake.updateListing', upd.transactions, worker.address, Opcode.UpdateListing, 'GAS_WS_UPDATE_LISTING');
        const sync = await f.staking.sendSyncWorkerConfig(f.stranger.getSender(), f.provider.address, f.workerKey);
        measure('Staking.syncWorkerConfig', sync.transactions, f.staking.address, Opcode.SyncWorkerConfig, 'GAS_STAKING_SYNC');
        measure('WorkerStake.configUpdate', sync.transactions, worker.address, Opcode.WorkerConfigUpdate, 'GAS_WS_OWNER_ACTION');
        const unb = await worker.sendStartUnbonding(f.provider.getSender());
        measure('WorkerStake.startUnbonding', unb.transactions, worker.address, Opcode.StartUnbonding, 'GAS_WS_OWNER_ACTION');
        measure('Staking.workerUnindexed', unb.transactions, f.staking.address, Opcode.WorkerUnindexed);
        f.blockchain.now = Number((await worker.getState()).unbondingDeadline);
        const wd = await worker.sendWithdraw(f.provider.getSender());
        measure('WorkerStake.withdraw', wd.transactions, worker.address, Opcode.WithdrawStake, 'GAS_WS_OWNER_ACTION');
    });

    it('fraud proofs', async () => {
        const cases: [string, (w: SandboxContract<ExtendedWorkerStake>) => Promise<{ transactions: Parameters<typeof checkGas>[2] }>, number][] = [
            ['WorkerStake.proveEquivocation', (w) => w.sendProveEquivocation(f.reporter.getSender(), receipt(), receipt({ responseHash: 9n })), Opcode.ProveEquivocation],
            ['WorkerStake.proveWrongModel', (w) => w.sendProveWrongModel(f.reporter.getSender(), receipt({ modelId: OTHER_MODEL })), Opcode.ProveWrongModel],
            ['WorkerStake.proveOvercharge', (w) => w.sendProveOvercharge(f.reporter.getSender(), receipt({ cost: 10n ** 9n })), Opcode.ProveOvercharge],
        ];
        for (const [name, send, op] of cases) {
            const s = await stake(f, STAKE, { workerKey: f.workerKey });
            worker = s.worker;
            await attest(f, worker.address);
            const res = await send(worker);
            measure(name, res.transactions, worker.address, op, 'GAS_WS_PROVE');
            f = await deployStaking();
        }
    });

    it('worst case: a full price history (updateListing and overcharge iterate it)', async () => {
        ({ worker } = await stake(f, STAKE));
        let prompt = PRICES.prompt;
        let last;
        for (let i = 0; i < 15; i++) {
            f.blockchain.now! += 1;
            prompt -= 1n;
            last = await worker.sendUpdateListing(f.provider.getSender(), listing({ prices: { ...PRICES, prompt } }));
        }
        measure('WorkerStake.updateListingFullHistory', last!.transactions, worker.address, Opcode.UpdateListing, 'GAS_WS_UPDATE_LISTING');
        expect((await worker.getPriceHistory()).size).toBe(16);
        const res = await worker.sendProveOvercharge(f.reporter.getSender(), receipt({ cost: 10n ** 9n }));
        measure('WorkerStake.proveOverchargeFullHistory', res.transactions, worker.address, Opcode.ProveOvercharge, 'GAS_WS_PROVE');
    });

    it('governance slash', async () => {
        const gov = await f.blockchain.treasury('gov');
        const staking = f.blockchain.openContract(await ExtendedStaking.fromInit(gov.address));
        await staking.sendDeploy(gov.getSender());
        await gov.send({
            to: staking.address,
            value: toNano('0.1'),
            body: beginCell()
                .store(
                    storeConfigUpdate({
                        $$type: 'ConfigUpdate',
                        queryId: 0n,
                        version: 1n,
                        config: await f.registry.getNetworkConfig(),
                    }),
                )
                .endCell(),
        });
        await staking.sendStake(f.provider.getSender(), await staking.getStakeValue(STAKE), f.workerKey, listing());
        const w = await staking.getWorkerAddress(f.provider.address, f.workerKey);
        const res = await staking.send(
            gov.getSender(),
            { value: toNano('0.5') },
            {
                $$type: 'GovernanceSlashOrder',
                queryId: 0n,
                owner: f.provider.address,
                workerKey: f.workerKey,
                fractionBps: 1000n,
                reasonHash: 1n,
            },
        );
        measure('Staking.governanceSlashOrder', res.transactions, staking.address, Opcode.GovernanceSlashOrder, 'GAS_STAKING_SYNC');
        measure('WorkerStake.governanceSlash', res.transactions, w, Opcode.GovernanceSlash, 'GAS_WS_PROVE');
    });

    it('worst cases: a top-up and a later Stake that list the worker', async () => {
        // Below the minimum and attested: the next stake lists it (an index notification more).
        ({ worker } = await stake(f, f.params.minWorkerStake - 1n));
        await attest(f, worker.address);
        const top = await worker.sendTopUpStake(f.provider.getSender(), 1n);
        expect(top.transactions).toHaveTransaction({ from: worker.address, to: f.staking.address, op: Opcode.WorkerIndexed, success: true });
        expect(Number(computeGas(findTransactionRequired(top.transactions, { to: worker.address, op: Opcode.TopUpStake, success: true })))).toBeLessThanOrEqual(budget('GAS_WS_TOP_UP'));
        f = await deployStaking();
        ({ worker } = await stake(f, f.params.minWorkerStake - 1n));
        await attest(f, worker.address);
        const again = await stake(f, 1n);
        expect(again.result.transactions).toHaveTransaction({ from: worker.address, to: f.staking.address, op: Opcode.WorkerIndexed, success: true });
        expect(Number(computeGas(findTransactionRequired(again.result.transactions, { to: f.staking.address, op: Opcode.Stake, success: true })))).toBeLessThanOrEqual(budget('GAS_STAKING_STAKE'));
        expect(Number(computeGas(findTransactionRequired(again.result.transactions, { to: worker.address, op: Opcode.StakeDeposit, success: true })))).toBeLessThanOrEqual(budget('GAS_WS_DEPOSIT'));
    });
});
