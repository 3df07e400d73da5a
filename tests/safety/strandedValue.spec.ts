import { Address, beginCell, toNano } from '@ton/core';
import '@ton/test-utils';
import { ExitCode } from '../../wrappers/exitCodes';
import { ExtendedEscrow } from '../../wrappers/Escrow';
import { ExtendedStaking } from '../../wrappers/Staking';
import { keyToInt } from '../../wrappers/voucher';
import { deployEscrow } from '../helpers/channel';
import { Constants } from '../../wrappers/constants';
import { BASECHAIN_GAS_PRICE, CELL_UNDERFLOW, balanceOf, feesPaidBy, installRefuser, storageFeesOf } from '../helpers/safety';
import { deployStaking, keyInt, listing, workerKeys } from '../helpers/staking';
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';

const STAKE = toNano('20');
const STAKING_OP = ExtendedStaking.opcodes;
const ESCROW_OP = ExtendedEscrow.opcodes;

/**
 * Checks a reclaim: `contract` ends with its balance before less exactly the
 * recorded `amount` (and its rent), and `claimant` gains exactly `amount`
 * less the fees of the reclaim's message chain.
 */
async function expectPaidBack(blockchain: Blockchain, claimant: SandboxContract<TreasuryContract>, contract: Address, amount: bigint, reclaim: () => Promise<{ transactions: any[] }>, op: number) {
    const contractBefore = await balanceOf(blockchain, contract);
    const claimantBefore = await balanceOf(blockchain, claimant.address);
    const result = await reclaim();
    expect(result.transactions).toHaveTransaction({ from: contract, to: claimant.address, op, success: true });
    expect(await balanceOf(blockchain, contract)).toBe(contractBefore - amount - storageFeesOf(result.transactions, contract));
    expect((await balanceOf(blockchain, claimant.address)) - claimantBefore).toBe(amount - feesPaidBy(result.transactions, [contract]));
    return result;
}

/**
 * Property: value kept from a bounce whose truncated body cannot name its
 * owner (Staking: a bounced StakeDeposit or SyncWorkerConfig; Escrow: a
 * bounced ChannelOpen) is recorded for the one party who can prove it is
 * theirs, and paid back to it, once, to the nanoTON.
 */
describe('strandedValue', () => {
    describe('Staking', () => {
        it("a bounced deposit is kept for the WorkerStake's owner, who alone can reclaim it, once", async () => {
            const f = await deployStaking();
            const worker = await f.staking.getWorkerAddress(f.provider.address, f.workerKey);
            // Something at the WorkerStake's address that refuses the deposit.
            await installRefuser(f.blockchain, worker, f.registry.address);
            const value = await f.staking.getStakeValue(STAKE);
            const staked = await f.staking.sendStake(f.provider.getSender(), value, f.workerKey, listing());
            expect(staked.transactions).toHaveTransaction({ from: f.staking.address, to: worker, success: false });
            const bounce = staked.transactions.find((tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.bounced)!;
            const bounced = bounce.inMessage!.info.type === 'internal' ? bounce.inMessage!.info.value.coins : 0n;
            const handling = Constants.GAS_STAKING_BOUNCE * BASECHAIN_GAS_PRICE;
            const amount = await f.staking.getStrandedDeposit(worker);
            expect(amount).toBe(bounced - handling);
            expect(amount).toBeGreaterThan(STAKE);
            // Handling the bounce cost less than what was held back for it.
            const gas = bounce.description.type === 'generic' && bounce.description.computePhase.type === 'vm' ? bounce.description.computePhase.gasUsed : 0n;
            expect(gas * BASECHAIN_GAS_PRICE).toBeLessThanOrEqual(handling);

            // Not the owner: the address it recomputes is not the one that bounced.
            const byStranger = await f.staking.sendReclaimStranded(f.stranger.getSender(), f.workerKey);
            expect(byStranger.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_NOTHING_STRANDED });
            const wrongKey = await f.staking.sendReclaimStranded(f.provider.getSender(), f.workerKey + 1n);
            expect(wrongKey.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_NOTHING_STRANDED });
            const minimum = Constants.GAS_STAKING_RECLAIM * BASECHAIN_GAS_PRICE + Constants.MSG_FWD_BUDGET;
            const poor = await f.staking.sendReclaimStranded(f.provider.getSender(), f.workerKey, 0n, minimum - 1n);
            expect(poor.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            const malformed = await f.provider.send({ to: f.staking.address, value: toNano('0.1'), body: beginCell().storeUint(STAKING_OP.ReclaimStranded, 32).storeUint(0, 64).endCell() });
            expect(malformed.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: CELL_UNDERFLOW });
            expect(await f.staking.getStrandedDeposit(worker)).toBe(amount);

            const paid = await expectPaidBack(
                f.blockchain,
                f.provider,
                f.staking.address,
                amount,
                () => f.staking.sendReclaimStranded(f.provider.getSender(), f.workerKey, 3n, minimum),
                STAKING_OP.StrandedReturned,
            );
            const reply = paid.transactions.find((tx: any) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.src.equals(f.staking.address))!;
            expect(reply.inMessage!.info.bounce).toBe(false);
            expect(await f.staking.getStrandedDeposit(worker)).toBe(0n);

            const twice = await f.staking.sendReclaimStranded(f.provider.getSender(), f.workerKey);
            expect(twice.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_NOTHING_STRANDED });
        });

        it('a SyncWorkerConfig that finds no WorkerStake is kept for its sender, who alone can reclaim it', async () => {
            const f = await deployStaking();
            const key = keyInt(workerKeys('nobody').publicKey);
            const ghost = await f.staking.getWorkerAddress(f.provider.address, key);
            const stakingBefore = await balanceOf(f.blockchain, f.staking.address);
            const sync = await f.staking.sendSyncWorkerConfig(f.stranger.getSender(), f.provider.address, key);
            expect(sync.transactions).toHaveTransaction({ from: f.staking.address, to: ghost, aborted: true });
            const handling = Constants.GAS_STAKING_BOUNCE * BASECHAIN_GAS_PRICE;
            const bounce = sync.transactions.find((tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.bounced)!;
            const bounced = bounce.inMessage!.info.type === 'internal' ? bounce.inMessage!.info.value.coins : 0n;
            const amount = await f.staking.getStrandedRefund(f.stranger.address);
            expect(amount).toBe(bounced - handling);
            const gas = bounce.description.type === 'generic' && bounce.description.computePhase.type === 'vm' ? bounce.description.computePhase.gasUsed : 0n;
            expect(gas * BASECHAIN_GAS_PRICE).toBeLessThanOrEqual(handling);
            // Staking's own balance paid nothing for the bounce.
            expect(await balanceOf(f.blockchain, f.staking.address)).toBeGreaterThanOrEqual(stakingBefore + amount - storageFeesOf(sync.transactions, f.staking.address));
            // The worker's owner named in the request is not the one who paid.
            expect(await f.staking.getStrandedRefund(f.provider.address)).toBe(0n);
            const byOwner = await f.staking.sendReclaimStranded(f.provider.getSender(), 0n);
            expect(byOwner.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_NOTHING_STRANDED });

            await expectPaidBack(f.blockchain, f.stranger, f.staking.address, amount, () => f.staking.sendReclaimStranded(f.stranger.getSender(), 0n), STAKING_OP.StrandedReturned);
            const twice = await f.staking.sendReclaimStranded(f.stranger.getSender(), 0n);
            expect(twice.transactions).toHaveTransaction({ to: f.staking.address, success: false, exitCode: ExitCode.ERR_STAKING_NOTHING_STRANDED });
        });
    });

    describe('Escrow', () => {
        it("a bounced ChannelOpen is kept for the channel's client, who alone can reclaim it, once", async () => {
            const f = await deployEscrow();
            const nonce = 5n;
            const channel = await f.escrow.getChannelAddress(f.client.address, f.workerStake.address, nonce);
            await installRefuser(f.blockchain, channel, f.registry.address);
            const deposit = toNano('10');
            const escrowBefore = await balanceOf(f.blockchain, f.escrow.address);
            const opened = await f.escrow.sendOpenChannel(f.client.getSender(), {
                workerOwner: f.workerOwner.address,
                nonce,
                deposit,
                clientKey: keyToInt(f.clientKeys.publicKey),
                workerKey: keyToInt(f.workerKeys.publicKey),
            });
            expect(opened.transactions).toHaveTransaction({ from: f.escrow.address, to: channel, success: false });
            const bounce = opened.transactions.find((tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.bounced)!;
            const bounced = bounce.inMessage!.info.type === 'internal' ? bounce.inMessage!.info.value.coins : 0n;
            const handling = Constants.GAS_ESCROW_BOUNCE * BASECHAIN_GAS_PRICE + Constants.MSG_FWD_BUDGET;
            const amount = await f.escrow.getStrandedFor(channel);
            expect(amount).toBe(bounced - handling);
            const gas = bounce.description.type === 'generic' && bounce.description.computePhase.type === 'vm' ? bounce.description.computePhase.gasUsed : 0n;
            // Its gas and event cost less than what was held back for them.
            expect(bounce.totalFees.coins).toBeLessThanOrEqual(handling);
            expect(gas).toBeGreaterThan(0n);
            expect(amount).toBeGreaterThan(deposit);
            expect(await f.escrow.getStrandedValue()).toBe(amount);
            // The Escrow's own balance paid nothing for the bounce.
            expect(await balanceOf(f.blockchain, f.escrow.address)).toBeGreaterThanOrEqual(escrowBefore + amount - storageFeesOf(opened.transactions, f.escrow.address));

            const byStranger = await f.escrow.sendReclaimStrandedOpen(f.stranger.getSender(), f.workerStake.address, nonce);
            expect(byStranger.transactions).toHaveTransaction({ to: f.escrow.address, success: false, exitCode: ExitCode.ERR_ESCROW_NOTHING_STRANDED });
            const wrongNonce = await f.escrow.sendReclaimStrandedOpen(f.client.getSender(), f.workerStake.address, nonce + 1n);
            expect(wrongNonce.transactions).toHaveTransaction({ to: f.escrow.address, success: false, exitCode: ExitCode.ERR_ESCROW_NOTHING_STRANDED });
            const minimum = Constants.GAS_ESCROW_RECLAIM * BASECHAIN_GAS_PRICE + Constants.MSG_FWD_BUDGET;
            const poor = await f.escrow.sendReclaimStrandedOpen(f.client.getSender(), f.workerStake.address, nonce, 0n, minimum - 1n);
            expect(poor.transactions).toHaveTransaction({ to: f.escrow.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            const malformed = await f.client.send({ to: f.escrow.address, value: toNano('0.1'), body: beginCell().storeUint(ESCROW_OP.ReclaimStrandedOpen, 32).storeUint(0, 64).endCell() });
            expect(malformed.transactions).toHaveTransaction({ to: f.escrow.address, success: false, exitCode: CELL_UNDERFLOW });

            const paid = await expectPaidBack(
                f.blockchain,
                f.client,
                f.escrow.address,
                amount,
                () => f.escrow.sendReclaimStrandedOpen(f.client.getSender(), f.workerStake.address, nonce, 0n, minimum),
                ESCROW_OP.StrandedReturned,
            );
            const reply = paid.transactions.find((tx: any) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.src.equals(f.escrow.address))!;
            expect(reply.inMessage!.info.bounce).toBe(false);
            expect(await f.escrow.getStrandedFor(channel)).toBe(0n);
            expect(await f.escrow.getStrandedValue()).toBe(0n);

            const twice = await f.escrow.sendReclaimStrandedOpen(f.client.getSender(), f.workerStake.address, nonce);
            expect(twice.transactions).toHaveTransaction({ to: f.escrow.address, success: false, exitCode: ExitCode.ERR_ESCROW_NOTHING_STRANDED });
        });
    });
});
