import { Address, beginCell, Cell, Dictionary, toNano } from '@ton/core';
import { internal } from '@ton/sandbox';
import '@ton/test-utils';
import { Constants } from '../wrappers/constants';
import { ExitCode } from '../wrappers/exitCodes';
import { ExtendedRegistry, ProposalKind, decodeProposal, storeConfigUpdate } from '../wrappers/Registry';
import { deployProbe, deployRegistry, linkContracts, passProposal, RegistryFixture } from './helpers/registry';

// TVM's own exit code for reading past the end of a cell: what a malformed
// (truncated) message body produces.
const CELL_UNDERFLOW = 9;
// nanoTON per gas unit on the basechain (the sandbox's default config).
const BASECHAIN_GAS_PRICE = 400n;

const IMAGE = 0x1111111111111111111111111111111111111111111111111111111111111111n;
const MODEL = 0x2222222222222222222222222222222222222222222222222222222222222222n;

/** A body with the right opcode and nothing else. */
function truncated(opcode: number): Cell {
    return beginCell().storeUint(opcode, 32).storeUint(0, 16).endCell();
}

describe('Registry', () => {
    let f: RegistryFixture;

    beforeEach(async () => {
        f = await deployRegistry();
    });

    it('deploys with its owner, parameters and config version 1', async () => {
        expect((await f.registry.getOwner()).equals(f.owner.address)).toBe(true);
        expect(await f.registry.getPaused()).toBe(false);
        expect(await f.registry.getConfigVersion()).toBe(1n);
        expect(await f.registry.getNextProposalId()).toBe(1n);
        const params = await f.registry.getParams();
        expect(params.protocolFeeBps).toBe(f.params.protocolFeeBps);
        expect(params.treasury.equals(f.treasury.address)).toBe(true);
        const links = await f.registry.getLinks();
        expect(links.staking).toBeNull();
    });

    it('refuses genesis parameters that break the limits', async () => {
        const bad = await ExtendedRegistry.fromInit(f.owner.address, { ...f.params, protocolFeeBps: 1001n });
        const opened = f.blockchain.openContract(bad);
        const result = await opened.sendDeploy(f.owner.getSender());
        expect(result.transactions).toHaveTransaction({
            to: opened.address,
            success: false,
            exitCode: ExitCode.ERR_REGISTRY_FEE_TOO_HIGH,
        });
    });

    describe('proposals', () => {
        it('queues an image and executes it only after the timelock', async () => {
            const queued = await f.registry.sendProposeImage(f.owner.getSender(), IMAGE, 7n);
            expect(queued.transactions).toHaveTransaction({ from: f.registry.address, to: f.owner.address, op: ExtendedRegistry.opcodes.ProposalQueued });
            const proposal = (await f.registry.getProposal(1n))!;
            expect(Number(proposal.executeAfter)).toBe(f.blockchain.now! + Number(f.params.timelockDelay));
            expect(decodeProposal(proposal)).toMatchObject({ kind: ProposalKind.AddImage, imageHash: IMAGE });

            f.blockchain.now = Number(proposal.executeAfter) - 1;
            expect(await f.registry.getProposalReady(1n)).toBe(false);
            const early = await f.registry.sendExecute(f.stranger.getSender(), 1n);
            expect(early.transactions).toHaveTransaction({
                to: f.registry.address,
                success: false,
                exitCode: ExitCode.ERR_REGISTRY_TIMELOCK_ACTIVE,
            });
            expect(await f.registry.getImageAllowed(IMAGE)).toBe(false);

            f.blockchain.now = Number(proposal.executeAfter);
            expect(await f.registry.getProposalReady(1n)).toBe(true);
            const executed = await f.registry.sendExecute(f.stranger.getSender(), 1n);
            expect(executed.transactions).toHaveTransaction({ to: f.registry.address, success: true });
            expect(executed.transactions).toHaveTransaction({ from: f.registry.address, to: f.stranger.address, op: ExtendedRegistry.opcodes.ProposalExecuted });
            expect(await f.registry.getImageAllowed(IMAGE)).toBe(true);
            expect(await f.registry.getConfigVersion()).toBe(2n);
            expect(await f.registry.getProposal(1n)).toBeNull();
        });

        it('refuses a replayed execution', async () => {
            await passProposal(f, () => f.registry.sendProposeImage(f.owner.getSender(), IMAGE));
            const replay = await f.registry.sendExecute(f.stranger.getSender(), 1n);
            expect(replay.transactions).toHaveTransaction({
                to: f.registry.address,
                success: false,
                exitCode: ExitCode.ERR_REGISTRY_UNKNOWN_PROPOSAL,
            });
            expect(await f.registry.getConfigVersion()).toBe(2n);
        });

        it('refuses executing a proposal that was never queued', async () => {
            const result = await f.registry.sendExecute(f.stranger.getSender(), 42n);
            expect(result.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_UNKNOWN_PROPOSAL });
        });

        it('queues a model with its name and refuses bad names', async () => {
            await passProposal(f, () => f.registry.sendProposeModel(f.owner.getSender(), MODEL, 'llama-3.1-8b-q4'));
            expect(await f.registry.getModelAllowed(MODEL)).toBe(true);
            expect(await f.registry.getModel(MODEL)).toMatchObject({ name: 'llama-3.1-8b-q4', enabled: true });
            for (const name of ['', 'x'.repeat(65)]) {
                const result = await f.registry.sendProposeModel(f.owner.getSender(), MODEL + 1n, name);
                expect(result.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_BAD_MODEL_NAME });
            }
        });

        it('refuses a zero hash and an image that is already allowed', async () => {
            const zero = await f.registry.sendProposeImage(f.owner.getSender(), 0n);
            expect(zero.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_BAD_HASH });
            await passProposal(f, () => f.registry.sendProposeImage(f.owner.getSender(), IMAGE));
            const again = await f.registry.sendProposeImage(f.owner.getSender(), IMAGE);
            expect(again.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_ALREADY_ALLOWED });
        });

        it('changes parameters through the timelock and checks their limits', async () => {
            const next = { ...f.params, protocolFeeBps: 250n, unbondingPeriod: f.params.unbondingPeriod + 1234n };
            await passProposal(f, () => f.registry.sendProposeParams(f.owner.getSender(), next));
            const params = await f.registry.getParams();
            expect(params.protocolFeeBps).toBe(250n);
            expect(params.unbondingPeriod).toBe(f.params.unbondingPeriod + 1234n);

            const cases: [Partial<typeof f.params>, number][] = [
                [{ protocolFeeBps: 1001n }, ExitCode.ERR_REGISTRY_FEE_TOO_HIGH],
                [{ slashFractionBps: 0n }, ExitCode.ERR_REGISTRY_BAD_SHARE],
                [{ slashFractionBps: 10001n }, ExitCode.ERR_REGISTRY_BAD_SHARE],
                [{ reporterShareBps: 10001n }, ExitCode.ERR_REGISTRY_BAD_SHARE],
                [{ unbondingPeriod: 0n }, ExitCode.ERR_REGISTRY_BAD_PERIOD],
                [{ channelCloseDelay: 0n }, ExitCode.ERR_REGISTRY_BAD_PERIOD],
                [{ maxActiveWorkers: 0n }, ExitCode.ERR_REGISTRY_BAD_CAPACITY],
                [{ maxActiveWorkers: 1001n }, ExitCode.ERR_REGISTRY_BAD_CAPACITY],
                [{ minWorkerStake: 0n }, ExitCode.ERR_REGISTRY_BAD_STAKE],
                [{ timelockDelay: 59n }, ExitCode.ERR_REGISTRY_TIMELOCK_TOO_SHORT],
            ];
            for (const [override, code] of cases) {
                const result = await f.registry.sendProposeParams(f.owner.getSender(), { ...f.params, ...override });
                expect(result.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: code });
            }
        });

        it('a shorter timelock applies only to proposals queued after it', async () => {
            await passProposal(f, () => f.registry.sendProposeParams(f.owner.getSender(), { ...f.params, timelockDelay: 3600n }));
            const start = f.blockchain.now!;
            await f.registry.sendProposeImage(f.owner.getSender(), IMAGE);
            const proposal = (await f.registry.getProposal(2n))!;
            expect(Number(proposal.executeAfter)).toBe(start + 3600);
        });

        it('lets the owner cancel a queued proposal, and nobody else', async () => {
            await f.registry.sendProposeImage(f.owner.getSender(), IMAGE);
            const byStranger = await f.registry.sendCancel(f.stranger.getSender(), 1n);
            expect(byStranger.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_NOT_OWNER });
            const cancelled = await f.registry.sendCancel(f.owner.getSender(), 1n);
            expect(cancelled.transactions).toHaveTransaction({ from: f.registry.address, to: f.owner.address, op: ExtendedRegistry.opcodes.ProposalCancelled });
            f.blockchain.now! += Number(f.params.timelockDelay);
            const executed = await f.registry.sendExecute(f.stranger.getSender(), 1n);
            expect(executed.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_UNKNOWN_PROPOSAL });
            const again = await f.registry.sendCancel(f.owner.getSender(), 1n);
            expect(again.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_UNKNOWN_PROPOSAL });
            expect(await f.registry.getImageAllowed(IMAGE)).toBe(false);
        });

        it('refuses proposals from anyone but the owner', async () => {
            const s = f.stranger.getSender();
            const results = [
                await f.registry.sendProposeImage(s, IMAGE),
                await f.registry.sendProposeModel(s, MODEL, 'm'),
                await f.registry.sendProposeParams(s, f.params),
                await f.registry.sendProposeLinks(s, { staking: f.stranger.address, escrow: null, verifier: null }),
                await f.registry.sendPause(s),
                await f.registry.sendRevokeImage(s, IMAGE),
                await f.registry.sendRevokeModel(s, MODEL),
                await f.registry.sendTransferOwnership(s, f.stranger.address),
            ];
            for (const result of results) {
                expect(result.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_NOT_OWNER });
            }
            expect(await f.registry.getNextProposalId()).toBe(1n);
        });

        it('refuses too little value, and accepts the minimum', async () => {
            const send = (value: bigint) => f.registry.send(f.owner.getSender(), { value }, { $$type: 'ProposeImage', queryId: 0n, imageHash: IMAGE });
            // The receiver requires its compute fee: its gas budget at the basechain price.
            const minimum = Constants.GAS_REGISTRY_PROPOSE * BASECHAIN_GAS_PRICE;
            const tooLittle = await send(minimum - 1n);
            expect(tooLittle.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            const enough = await send(minimum);
            expect(enough.transactions).toHaveTransaction({ to: f.registry.address, success: true });
        });

        it('every receiver refuses one nanoTON less than its gas budget', async () => {
            const probe = await deployProbe(f, 1n);
            await linkContracts(f, { staking: probe.address });
            await f.registry.sendProposeImage(f.owner.getSender(), IMAGE);
            const queued = (await f.registry.getNextProposalId()) - 1n;
            f.blockchain.now! += Number(f.params.timelockDelay);
            await f.registry.sendTransferOwnership(f.owner.getSender(), f.stranger.address);
            const propose = Constants.GAS_REGISTRY_PROPOSE * BASECHAIN_GAS_PRICE;
            // Gas, value and the forward fee of the config's real size for the
            // one linked contract (ExecuteProposal's grows by the image it adds).
            const pushing = await f.registry.getPushValue();
            const ownerAction = Constants.GAS_REGISTRY_OWNER_ACTION * BASECHAIN_GAS_PRICE;
            // [receiver, its minimum value, body, sender]
            const cases: [string, bigint, Parameters<typeof f.registry.send>[2], typeof f.owner][] = [
                ['ProposeModel', propose, { $$type: 'ProposeModel', queryId: 0n, modelId: MODEL, name: 'm' }, f.owner],
                ['ProposeParams', propose, { $$type: 'ProposeParams', queryId: 0n, params: f.params }, f.owner],
                ['ProposeLinks', propose, { $$type: 'ProposeLinks', queryId: 0n, links: { $$type: 'LinkedContracts', staking: null, escrow: null, verifier: null } }, f.owner],
                ['ExecuteProposal', pushing, { $$type: 'ExecuteProposal', queryId: 0n, proposalId: queued }, f.stranger],
                ['CancelProposal', ownerAction, { $$type: 'CancelProposal', queryId: 0n, proposalId: queued }, f.owner],
                ['Pause', pushing, { $$type: 'Pause', queryId: 0n }, f.owner],
                ['PushConfig', pushing, { $$type: 'PushConfig', queryId: 0n }, f.stranger],
                ['TransferOwnership', ownerAction, { $$type: 'TransferOwnership', queryId: 0n, newOwner: f.stranger.address }, f.owner],
                ['AcceptOwnership', ownerAction, { $$type: 'AcceptOwnership', queryId: 0n }, f.stranger],
            ];
            for (const [, minimum, body, from] of cases) {
                const result = await f.registry.send(from.getSender(), { value: minimum - 1n }, body);
                expect(result.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            }
            // Nothing changed.
            expect(await f.registry.getPaused()).toBe(false);
            expect(await f.registry.getProposal(queued)).not.toBeNull();
            expect((await f.registry.getOwner()).equals(f.owner.address)).toBe(true);
        });

        it('refuses malformed bodies without changing state', async () => {
            for (const op of [
                ExtendedRegistry.opcodes.ProposeImage,
                ExtendedRegistry.opcodes.ProposeModel,
                ExtendedRegistry.opcodes.ProposeParams,
                ExtendedRegistry.opcodes.ExecuteProposal,
                ExtendedRegistry.opcodes.RevokeImage,
                ExtendedRegistry.opcodes.TransferOwnership,
            ]) {
                const result = await f.owner.send({ to: f.registry.address, value: toNano('0.1'), body: truncated(op) });
                expect(result.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: CELL_UNDERFLOW });
            }
            const unknown = await f.owner.send({ to: f.registry.address, value: toNano('0.1'), body: beginCell().storeUint(0xdeadbeef, 32).endCell() });
            expect(unknown.transactions).toHaveTransaction({ to: f.registry.address, success: false });
            expect(await f.registry.getNextProposalId()).toBe(1n);
            expect(await f.registry.getConfigVersion()).toBe(1n);
        });

        it('returns unspent value to the sender', async () => {
            const before = await f.owner.getBalance();
            await f.registry.send(f.owner.getSender(), { value: toNano('5') }, { $$type: 'ProposeImage', queryId: 0n, imageHash: IMAGE });
            const spent = before - (await f.owner.getBalance());
            expect(spent).toBeLessThan(toNano('0.05'));
        });
    });

    describe('immediate actions', () => {
        beforeEach(async () => {
            await passProposal(f, () => f.registry.sendProposeImage(f.owner.getSender(), IMAGE));
            await passProposal(f, () => f.registry.sendProposeModel(f.owner.getSender(), MODEL, 'model'));
        });

        it('revokes an image and a model at once, keeping the record', async () => {
            const version = await f.registry.getConfigVersion();
            await f.registry.sendRevokeImage(f.owner.getSender(), IMAGE);
            expect(await f.registry.getImageAllowed(IMAGE)).toBe(false);
            // Gone from the pushed allow-list: missing is not allowed anywhere.
            expect((await f.registry.getImages()).get(IMAGE)).toBeUndefined();
            await f.registry.sendRevokeModel(f.owner.getSender(), MODEL);
            expect(await f.registry.getModelAllowed(MODEL)).toBe(false);
            expect((await f.registry.getModels()).get(MODEL)).toBeUndefined();
            expect(await f.registry.getModel(MODEL)).toMatchObject({ name: 'model', enabled: false });
            expect(await f.registry.getConfigVersion()).toBe(version + 2n);
        });

        it('refuses revoking what is not allowed', async () => {
            await f.registry.sendRevokeImage(f.owner.getSender(), IMAGE);
            const again = await f.registry.sendRevokeImage(f.owner.getSender(), IMAGE);
            expect(again.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_UNKNOWN_IMAGE });
            const unknownModel = await f.registry.sendRevokeModel(f.owner.getSender(), MODEL + 1n);
            expect(unknownModel.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_UNKNOWN_MODEL });
        });

        it('a revoked image can be allowed again only through the timelock', async () => {
            await f.registry.sendRevokeImage(f.owner.getSender(), IMAGE);
            await f.registry.sendProposeImage(f.owner.getSender(), IMAGE);
            expect(await f.registry.getImageAllowed(IMAGE)).toBe(false);
        });

        it('pauses at once and unpauses only through the timelock', async () => {
            const notPaused = await f.registry.sendProposeUnpause(f.owner.getSender());
            expect(notPaused.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_NOT_PAUSED });
            await f.registry.sendPause(f.owner.getSender());
            expect(await f.registry.getPaused()).toBe(true);
            const twice = await f.registry.sendPause(f.owner.getSender());
            expect(twice.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_ALREADY_PAUSED });
            const id = await f.registry.getNextProposalId();
            await f.registry.sendProposeUnpause(f.owner.getSender());
            expect(await f.registry.getPaused()).toBe(true);
            f.blockchain.now! += Number(f.params.timelockDelay);
            await f.registry.sendExecute(f.stranger.getSender(), id);
            expect(await f.registry.getPaused()).toBe(false);
        });
    });

    describe('ownership', () => {
        it('hands over in two steps', async () => {
            const newOwner = await f.blockchain.treasury('new-owner', { balance: toNano('10') });
            await f.registry.sendTransferOwnership(f.owner.getSender(), newOwner.address);
            expect((await f.registry.getPendingOwner())!.equals(newOwner.address)).toBe(true);
            expect((await f.registry.getOwner()).equals(f.owner.address)).toBe(true);

            const byStranger = await f.registry.sendAcceptOwnership(f.stranger.getSender());
            expect(byStranger.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_NOT_PENDING_OWNER });

            await f.registry.sendAcceptOwnership(newOwner.getSender());
            expect((await f.registry.getOwner()).equals(newOwner.address)).toBe(true);
            expect(await f.registry.getPendingOwner()).toBeNull();

            const oldOwner = await f.registry.sendPause(f.owner.getSender());
            expect(oldOwner.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_NOT_OWNER });
            const replay = await f.registry.sendAcceptOwnership(newOwner.getSender());
            expect(replay.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_NOT_PENDING_OWNER });
        });

        it('refuses acceptance when no hand-over is pending', async () => {
            const result = await f.registry.sendAcceptOwnership(f.owner.getSender());
            expect(result.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_NOT_PENDING_OWNER });
        });
    });

    describe('config push', () => {
        it('pushes every accepted change to every linked contract, with a rising version', async () => {
            const a = await deployProbe(f, 1n);
            const b = await deployProbe(f, 2n);
            const c = await deployProbe(f, 3n);
            await linkContracts(f, { staking: a.address, escrow: b.address, verifier: c.address });
            const afterLink = await f.registry.getConfigVersion();
            for (const probe of [a, b, c]) {
                expect(await probe.getConfigVersion()).toBe(afterLink);
                expect(await probe.getIsConfigured()).toBe(true);
            }

            await passProposal(f, () => f.registry.sendProposeImage(f.owner.getSender(), IMAGE));
            expect(await a.getImageAllowed(IMAGE)).toBe(true);
            await f.registry.sendRevokeImage(f.owner.getSender(), IMAGE);
            expect(await c.getImageAllowed(IMAGE)).toBe(false);
            await f.registry.sendPause(f.owner.getSender());
            expect(await b.getPaused()).toBe(true);
            expect(await b.getConfigVersion()).toBe(await f.registry.getConfigVersion());
        });

        it('pushing needs value for every linked contract', async () => {
            const a = await deployProbe(f, 1n);
            const b = await deployProbe(f, 2n);
            await linkContracts(f, { staking: a.address, escrow: b.address });
            const result = await f.registry.send(f.owner.getSender(), { value: toNano('0.05') }, { $$type: 'Pause', queryId: 0n });
            expect(result.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            expect(await f.registry.getPaused()).toBe(false);
        });

        it('a config receiver refuses config from anyone but the Registry, and stale versions', async () => {
            const probe = await deployProbe(f, 1n);
            await linkContracts(f, { staking: probe.address });
            const current = await f.registry.getConfigVersion();
            const config = await f.registry.getNetworkConfig();
            const body = (version: bigint) =>
                beginCell()
                    .store(storeConfigUpdate({ $$type: 'ConfigUpdate', queryId: 0n, version, config }))
                    .endCell();

            const forged = await f.stranger.send({ to: probe.address, value: toNano('0.1'), body: body(current + 10n) });
            expect(forged.transactions).toHaveTransaction({ to: probe.address, success: false, exitCode: ExitCode.ERR_CONFIG_NOT_FROM_REGISTRY });

            // The sandbox can deliver a message "from" the Registry: a replay of an old push.
            for (const version of [current, current - 1n]) {
                const stale = await f.blockchain.sendMessage(internal({ from: f.registry.address, to: probe.address, value: toNano('0.1'), body: body(version) }));
                expect(stale.transactions).toHaveTransaction({ to: probe.address, success: false, exitCode: ExitCode.ERR_CONFIG_STALE_VERSION });
            }
            expect(await probe.getConfigVersion()).toBe(current);
        });

        it('records a bounced push and re-pushes on demand', async () => {
            const probe = await deployProbe(f, 1n);
            // A linked contract that is not deployed yet: the push bounces.
            const { ConfigProbe } = await import('../build/ConfigProbe/ConfigProbe_ConfigProbe');
            const late = f.blockchain.openContract(await ConfigProbe.fromInit(f.registry.address, 99n));
            await linkContracts(f, { staking: probe.address, verifier: late.address });
            const version = await f.registry.getConfigVersion();
            const failed: Dictionary<Address, number> = await f.registry.getFailedPushes();
            expect(failed.get(late.address)).toBe(Number(version));
            expect(failed.get(probe.address)).toBeUndefined();
            // The change itself stands: the Registry is the source of truth.
            expect((await f.registry.getLinks()).verifier!.equals(late.address)).toBe(true);

            await late.send(f.owner.getSender(), { value: toNano('0.1') }, null);
            const pushed = await f.registry.sendPushConfig(f.stranger.getSender());
            expect(pushed.transactions).toHaveTransaction({ from: f.registry.address, to: late.address, success: true });
            expect(await late.getConfigVersion()).toBe(await f.registry.getConfigVersion());
            expect(await probe.getConfigVersion()).toBe(await f.registry.getConfigVersion());
            expect((await f.registry.getFailedPushes()).size).toBe(0);
        });

        it('refuses a re-push when nothing is linked', async () => {
            const result = await f.registry.sendPushConfig(f.stranger.getSender());
            expect(result.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_BAD_PROPOSAL });
        });
    });
});
