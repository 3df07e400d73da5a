import { toNano } from '@ton/core';
import '@ton/test-utils';
import { ExitCode } from '../wrappers/exitCodes';
import { ExtendedRegistry, ProposalKind, decodeProposal } from '../wrappers/Registry';
import { WorkerStatus } from '../wrappers/WorkerStake';
import { SandboxNetworkProvider } from '../scripts/lib/sandboxProvider';
import { run as proposeSlash } from '../scripts/proposeSlash';
import { run as executeProposal } from '../scripts/executeProposal';
import { hex256 } from '../helpers/bytes';
import { deployStaking, stake, StakingFixture } from './helpers/staking';
import { linkContracts } from './helpers/registry';

const STAKE = toNano('20');
const REASON = 0x5eadn;

/** Governance slashing: decided through the Registry timelock, carried out by Staking. */
describe('Registry governance slash', () => {
    let f: StakingFixture;

    beforeEach(async () => {
        f = await deployStaking();
    });

    const slash = (fractionBps = 2500n) => ({ owner: f.provider.address, workerKey: f.workerKey, fractionBps, reasonHash: REASON });

    it('slashes the ordered fraction only after the timelock, and keeps the record', async () => {
        const { worker } = await stake(f, STAKE);
        const id = await f.registry.getNextProposalId();
        await f.registry.sendProposeSlash(f.owner.getSender(), slash());
        expect(decodeProposal((await f.registry.getProposal(id))!)).toMatchObject({ kind: ProposalKind.GovernanceSlash });

        const early = await f.registry.sendExecute(f.stranger.getSender(), id, 0n, ExtendedRegistry.SLASH_EXECUTE_VALUE);
        expect(early.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_TIMELOCK_ACTIVE });
        expect(await worker.getStake()).toBe(STAKE);

        f.blockchain.now! += Number(f.params.timelockDelay);
        const short = await f.registry.sendExecute(f.stranger.getSender(), id);
        expect(short.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });

        const done = await f.registry.sendExecute(f.stranger.getSender(), id, 0n, ExtendedRegistry.SLASH_EXECUTE_VALUE);
        expect(done.transactions).toHaveTransaction({ from: f.registry.address, to: f.staking.address, success: true });
        expect(done.transactions).toHaveTransaction({ from: worker.address, to: f.treasury.address });
        expect(await worker.getStake()).toBe(STAKE - STAKE / 4n);
        const state = await worker.getState();
        expect(state.lastSlashReason).toBe(REASON);
        expect(Number(state.status)).toBe(WorkerStatus.Jailed);
        expect((await f.registry.getSlashes()).get(Number(id))).toMatchObject({ reasonHash: REASON, fractionBps: 2500n });

        const replay = await f.registry.sendExecute(f.stranger.getSender(), id, 0n, ExtendedRegistry.SLASH_EXECUTE_VALUE);
        expect(replay.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_UNKNOWN_PROPOSAL });
    });

    it('refuses a slash from anyone but the owner, a bad fraction and an empty reason', async () => {
        const byStranger = await f.registry.sendProposeSlash(f.stranger.getSender(), slash());
        expect(byStranger.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_NOT_OWNER });
        for (const fractionBps of [0n, 10001n]) {
            const bad = await f.registry.sendProposeSlash(f.owner.getSender(), slash(fractionBps));
            expect(bad.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_BAD_FRACTION });
        }
        const noReason = await f.registry.sendProposeSlash(f.owner.getSender(), { ...slash(), reasonHash: 0n });
        expect(noReason.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_BAD_HASH });
    });

    it('a bounced order puts the proposal back, ripe, and leaves no record', async () => {
        // Staking linked to an address with no contract: the order bounces.
        const { Staking } = await import('../build/Staking/Staking_Staking');
        const ghost = await Staking.fromInit(f.stranger.address);
        await linkContracts(f, { staking: ghost.address, verifier: f.verifier.address });
        const id = await f.registry.getNextProposalId();
        await f.registry.sendProposeSlash(f.owner.getSender(), slash());
        f.blockchain.now! += Number(f.params.timelockDelay);
        const result = await f.registry.sendExecute(f.stranger.getSender(), id, 0n, ExtendedRegistry.SLASH_EXECUTE_VALUE);
        expect(result.transactions).toHaveTransaction({ from: ghost.address, to: f.registry.address, inMessageBounced: true });
        expect((await f.registry.getSlashes()).size).toBe(0);
        expect(await f.registry.getProposalReady(id)).toBe(true);
        // It can be cancelled now (or retried once Staking is fixed).
        const cancelled = await f.registry.sendCancel(f.owner.getSender(), id);
        expect(cancelled.transactions).toHaveTransaction({ to: f.registry.address, success: true });
    });

    it('the proposeSlash and executeProposal scripts carry it out', async () => {
        const { worker } = await stake(f, STAKE);
        const ownerProvider = new SandboxNetworkProvider(f.blockchain, f.owner);
        const at = f.registry.address.toString();
        await expect(proposeSlash(ownerProvider, [at, f.stranger.address.toString(), hex256(f.workerKey), '1000', 'x'])).rejects.toThrow(/no WorkerStake/);
        const id = await proposeSlash(ownerProvider, [at, f.provider.address.toString(), hex256(f.workerKey), '1000', 'served another model']);
        f.blockchain.now! += Number(f.params.timelockDelay);
        await executeProposal(new SandboxNetworkProvider(f.blockchain, f.stranger), [at, id.toString()]);
        expect(await worker.getStake()).toBe(STAKE - STAKE / 10n);
    });
});
