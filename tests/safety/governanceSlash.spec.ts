import { Address, beginCell, toNano } from '@ton/core';
import { internal } from '@ton/sandbox';
import '@ton/test-utils';
import { ExitCode } from '../../wrappers/exitCodes';
import { ExtendedRegistry, ProposalKind, decodeProposal, storeGovernanceSlashFailed } from '../../wrappers/Registry';
import { Staking } from '../../build/Staking/Staking_Staking';
import { WorkerStatus } from '../../wrappers/WorkerStake';
import { Constants } from '../../wrappers/constants';
import { linkContracts } from '../helpers/registry';
import { CELL_UNDERFLOW, balanceOf, feesPaidBy, storageFeesOf, valueOf } from '../helpers/safety';
import { StakingFixture, deployStaking, keyInt, stake, workerKeys } from '../helpers/staking';

const STAKE = toNano('20');
const REASON = 0x5eadn;
const OP = ExtendedRegistry.opcodes;

/**
 * Property: a governance slash that cannot be carried out (the worker is
 * unknown, withdrawn, already jailed or has no stake, or Staking refuses the
 * order) is not recorded as executed. The proposal is queued again with its
 * original timelock end, and everything the executor sent comes back to it
 * but the fees of the message chain. A proposal left unexecuted past
 * PROPOSAL_EXECUTION_GRACE after its timelock expires.
 */
describe('governanceSlash', () => {
    let f: StakingFixture;

    beforeEach(async () => {
        f = await deployStaking();
    });

    async function propose(owner: Address, workerKey: bigint, fractionBps = 2500n): Promise<bigint> {
        const id = await f.registry.getNextProposalId();
        const queued = await f.registry.sendProposeSlash(f.owner.getSender(), { owner, workerKey, fractionBps, reasonHash: REASON });
        expect(queued.transactions).toHaveTransaction({ to: f.registry.address, success: true });
        return id;
    }

    /**
     * Executes ripe proposal `id` as the stranger and checks that it was not
     * carried out: no record, queued again as it was, and the Registry,
     * Staking, the worker (if any) and the treasury lost nothing but their
     * storage fees, so the executor lost exactly the fees of the chain.
     */
    async function executeExpectingFailure(id: bigint, worker?: Address) {
        const proposal = (await f.registry.getProposal(id))!;
        const accounts = [f.registry.address, f.staking.address, f.treasury.address, ...(worker ? [worker] : [])];
        const before = new Map<string, bigint>();
        for (const a of accounts) before.set(a.toRawString(), await balanceOf(f.blockchain, a));
        const executorBefore = await balanceOf(f.blockchain, f.stranger.address);

        const result = await f.registry.sendExecute(f.stranger.getSender(), id, 77n, ExtendedRegistry.SLASH_EXECUTE_VALUE);

        expect(result.transactions).toHaveTransaction({ from: f.registry.address, to: f.stranger.address, op: OP.ProposalFailed, success: true });
        // Not executed: no slash on record, the proposal back with its original timelock end.
        expect((await f.registry.getSlashes()).has(Number(id))).toBe(false);
        expect(await f.registry.getSlashExecution(id)).toBeNull();
        const restored = (await f.registry.getProposal(id))!;
        expect(restored.executeAfter).toBe(proposal.executeAfter);
        expect(restored.payload.equals(proposal.payload)).toBe(true);
        expect(await f.registry.getProposalReady(id)).toBe(true);
        expect(result.transactions).not.toHaveTransaction({ to: f.treasury.address });

        // Nobody kept any of the value: to the nanoTON, each account lost its rent only...
        for (const a of accounts) {
            const after = await balanceOf(f.blockchain, a);
            expect(after).toBe(before.get(a.toRawString())! - storageFeesOf(result.transactions, a));
        }
        // ...and the executor lost exactly the fees of the chain.
        const executorAfter = await balanceOf(f.blockchain, f.stranger.address);
        expect(executorBefore - executorAfter).toBe(feesPaidBy(result.transactions, accounts));
        return result;
    }

    it('a slash of a worker that was never deployed is not executed and its value comes back', async () => {
        const key = keyInt(workerKeys('nobody').publicKey);
        const id = await propose(f.stranger.address, key);
        f.blockchain.now! += Number(f.params.timelockDelay);
        const ghost = await f.staking.getWorkerAddress(f.stranger.address, key);
        const result = await executeExpectingFailure(id);
        // Staking's GovernanceSlash bounced from the empty address; Staking reported it.
        expect(result.transactions).toHaveTransaction({ from: f.staking.address, to: ghost, aborted: true });
        expect(result.transactions).toHaveTransaction({ from: f.staking.address, to: f.registry.address, op: OP.GovernanceSlashFailed, success: true });
    });

    it('a slash of a withdrawn worker is not executed and its value comes back', async () => {
        const { worker } = await stake(f, STAKE);
        await worker.sendStartUnbonding(f.provider.getSender());
        f.blockchain.now! += Number(f.params.unbondingPeriod);
        await worker.sendWithdraw(f.provider.getSender());
        expect(Number(await worker.getStatus())).toBe(WorkerStatus.Withdrawn);
        const id = await propose(f.provider.address, f.workerKey);
        f.blockchain.now! += Number(f.params.timelockDelay);
        const result = await executeExpectingFailure(id, worker.address);
        expect(result.transactions).toHaveTransaction({ from: f.staking.address, to: worker.address, success: false, exitCode: ExitCode.ERR_WS_NO_STAKE });
    });

    it('a slash of a worker left with no stake by an earlier slash is not executed', async () => {
        const { worker } = await stake(f, STAKE);
        const all = await propose(f.provider.address, f.workerKey, 10000n);
        const again = await propose(f.provider.address, f.workerKey);
        f.blockchain.now! += Number(f.params.timelockDelay);
        await f.registry.sendExecute(f.stranger.getSender(), all, 0n, ExtendedRegistry.SLASH_EXECUTE_VALUE);
        expect(await worker.getStake()).toBe(0n);
        await executeExpectingFailure(again, worker.address);
    });

    it('a slash of an already jailed worker is carried out on what remains (jailing itself first does not escape it)', async () => {
        const { worker } = await stake(f, STAKE);
        const first = await propose(f.provider.address, f.workerKey);
        const second = await propose(f.provider.address, f.workerKey);
        f.blockchain.now! += Number(f.params.timelockDelay);
        await f.registry.sendExecute(f.stranger.getSender(), first, 0n, ExtendedRegistry.SLASH_EXECUTE_VALUE);
        expect(Number(await worker.getStatus())).toBe(WorkerStatus.Jailed);
        const left = await worker.getStake();
        expect(left).toBeGreaterThan(0n);
        const result = await f.registry.sendExecute(f.stranger.getSender(), second, 0n, ExtendedRegistry.SLASH_EXECUTE_VALUE);
        expect(result.transactions).toHaveTransaction({ from: f.staking.address, to: worker.address, success: true });
        expect(await worker.getStake()).toBe(left - (left * 2500n) / 10000n);
        expect(await f.registry.getProposal(second)).toBeNull();
    });

    it('an order Staking refuses is not executed and its value comes back', async () => {
        // Staking linked to an address with no contract: the order itself bounces.
        const ghost = await Staking.fromInit(f.stranger.address);
        await linkContracts(f, { staking: ghost.address, verifier: f.verifier.address });
        const id = await propose(f.provider.address, f.workerKey);
        f.blockchain.now! += Number(f.params.timelockDelay);
        const result = await executeExpectingFailure(id);
        expect(result.transactions).toHaveTransaction({ from: ghost.address, to: f.registry.address, inMessageBounced: true });
    });

    it('a slash that is carried out stays on record with its executor', async () => {
        const { worker } = await stake(f, STAKE);
        const id = await propose(f.provider.address, f.workerKey);
        f.blockchain.now! += Number(f.params.timelockDelay);
        const result = await f.registry.sendExecute(f.stranger.getSender(), id, 5n, ExtendedRegistry.SLASH_EXECUTE_VALUE);
        expect(result.transactions).not.toHaveTransaction({ op: OP.GovernanceSlashFailed });
        expect(await worker.getStake()).toBe(STAKE - STAKE / 4n);
        expect((await f.registry.getSlashes()).get(Number(id))).toMatchObject({ reasonHash: REASON });
        const exec = (await f.registry.getSlashExecution(id))!;
        expect(exec.executor.equals(f.stranger.address)).toBe(true);
        expect(exec.queryId).toBe(5n);
        expect(await f.registry.getProposal(id)).toBeNull();
    });

    describe('the failure report (GovernanceSlashFailed)', () => {
        const report = (queryId: bigint) =>
            beginCell()
                .store(storeGovernanceSlashFailed({ $$type: 'GovernanceSlashFailed', queryId }))
                .endCell();

        it('is refused from anyone but the Staking the order went to, with too little value, malformed, or replayed', async () => {
            await stake(f, STAKE);
            const id = await propose(f.provider.address, f.workerKey);
            f.blockchain.now! += Number(f.params.timelockDelay);
            await f.registry.sendExecute(f.stranger.getSender(), id, 0n, ExtendedRegistry.SLASH_EXECUTE_VALUE);
            expect((await f.registry.getSlashes()).has(Number(id))).toBe(true);

            // A stranger cannot undo an executed slash and take its record away.
            const forged = await f.stranger.send({ to: f.registry.address, value: toNano('1'), body: report(id) });
            expect(forged.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_NOT_STAKING });

            // From Staking's address: too little value for the Registry's gas.
            const gas = Constants.GAS_REGISTRY_SLASH_FAILED * 400n + Constants.MSG_FWD_BUDGET;
            const poor = await f.blockchain.sendMessage(internal({ from: f.staking.address, to: f.registry.address, value: gas - 1n, body: report(id) }));
            expect(poor.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });

            const malformed = await f.blockchain.sendMessage(
                internal({
                    from: f.staking.address,
                    to: f.registry.address,
                    value: toNano('1'),
                    body: beginCell().storeUint(OP.GovernanceSlashFailed, 32).endCell(),
                }),
            );
            expect(malformed.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: CELL_UNDERFLOW });

            const unknown = await f.blockchain.sendMessage(internal({ from: f.staking.address, to: f.registry.address, value: toNano('1'), body: report(id + 50n) }));
            expect(unknown.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_UNKNOWN_PROPOSAL });
            expect((await f.registry.getSlashes()).has(Number(id))).toBe(true);
        });

        it('restores the proposal once: a replayed report is unknown, and the refund is not bounceable', async () => {
            const key = keyInt(workerKeys('nobody').publicKey);
            const id = await propose(f.stranger.address, key);
            f.blockchain.now! += Number(f.params.timelockDelay);
            const result = await executeExpectingFailure(id);
            const refund = result.transactions.find(
                (tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.src.equals(f.registry.address) && tx.inMessage.info.dest.equals(f.stranger.address),
            );
            expect(refund!.inMessage!.info.type === 'internal' && refund!.inMessage!.info.bounce).toBe(false);
            const value = valueOf(result.transactions, f.staking.address, f.registry.address, OP.GovernanceSlashFailed)!;
            expect(value).toBeGreaterThan(0n);

            const replay = await f.blockchain.sendMessage(internal({ from: f.staking.address, to: f.registry.address, value: toNano('1'), body: report(id) }));
            expect(replay.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_UNKNOWN_PROPOSAL });
            expect(decodeProposal((await f.registry.getProposal(id))!).kind).toBe(ProposalKind.GovernanceSlash);
        });
    });

    describe('expiry', () => {
        it('a proposal can be executed until PROPOSAL_EXECUTION_GRACE after its timelock, and not a second later', async () => {
            const grace = Number(Constants.PROPOSAL_EXECUTION_GRACE);
            await stake(f, STAKE);
            const late = await propose(f.provider.address, f.workerKey);
            const onTime = await f.registry.getNextProposalId();
            await f.registry.sendProposeImage(f.owner.getSender(), 0x77n);
            const executeAfter = Number((await f.registry.getProposal(late))!.executeAfter);
            expect(await f.registry.getProposalDeadline(late)).toBe(BigInt(executeAfter + grace));

            f.blockchain.now = executeAfter + grace;
            expect(await f.registry.getProposalReady(onTime)).toBe(true);
            const last = await f.registry.sendExecute(f.stranger.getSender(), onTime);
            expect(last.transactions).toHaveTransaction({ to: f.registry.address, success: true });
            expect(await f.registry.getImageAllowed(0x77n)).toBe(true);

            f.blockchain.now = executeAfter + grace + 1;
            expect(await f.registry.getProposalReady(late)).toBe(false);
            const expired = await f.registry.sendExecute(f.stranger.getSender(), late, 0n, ExtendedRegistry.SLASH_EXECUTE_VALUE);
            expect(expired.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_PROPOSAL_EXPIRED });
            // It stays visible until the owner cancels it.
            const cancelled = await f.registry.sendCancel(f.owner.getSender(), late);
            expect(cancelled.transactions).toHaveTransaction({ to: f.registry.address, success: true });
        });

        it('a restored slash keeps its original deadline', async () => {
            const grace = Number(Constants.PROPOSAL_EXECUTION_GRACE);
            const key = keyInt(workerKeys('nobody').publicKey);
            const id = await propose(f.stranger.address, key);
            const executeAfter = Number((await f.registry.getProposal(id))!.executeAfter);
            f.blockchain.now = executeAfter + grace - 10;
            await executeExpectingFailure(id);
            f.blockchain.now = executeAfter + grace + 1;
            const expired = await f.registry.sendExecute(f.stranger.getSender(), id, 0n, ExtendedRegistry.SLASH_EXECUTE_VALUE);
            expect(expired.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_PROPOSAL_EXPIRED });
        });
    });
});
