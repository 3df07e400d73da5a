import { Address, Transaction, beginCell, toNano } from '@ton/core';
import * as fc from 'fast-check';
import { SandboxContract } from '@ton/sandbox';
import '@ton/test-utils';
import { ExitCode } from '../wrappers/exitCodes';
import { ChannelStatus, ExtendedPaymentChannel } from '../wrappers/PaymentChannel';
import { keyToInt, signCloseApproval, signVoucher, verifyCloseApproval, verifyVoucher } from '../wrappers/voucher';
import { EscrowFixture, deployEscrow, openChannel, testKeys } from './helpers/channel';
import { OP, amounts, delivered, paidOut } from './helpers/messages';
import { BASECHAIN_GAS_PRICE } from './helpers/safety';
import { findTransactionRequired } from '@ton/test-utils';
import { Opcode } from '../wrappers/opcodes';
import { Constants } from '../wrappers/constants';

const DEPOSIT = toNano('10');
const FLUSH = Constants.PROTOCOL_FEE_FLUSH;
const RESERVE = ExtendedPaymentChannel.STORAGE_RESERVE;

describe('PaymentChannel', () => {
    let f: EscrowFixture;
    let channel: SandboxContract<ExtendedPaymentChannel>;
    let feeBps: bigint;

    beforeEach(async () => {
        f = await deployEscrow();
        ({ channel } = await openChannel(f, { nonce: 1n, deposit: DEPOSIT }));
        feeBps = f.params.protocolFeeBps;
    });

    const voucher = (total: bigint, ch: Address = channel.address) => signVoucher(ch, total, f.clientKeys.secretKey);
    const balance = async (a: Address) => (await f.blockchain.getContract(a)).balance;
    // The payee: the WorkerStake's owner.
    const worker = () => f.workerOwner.address;

    describe('vouchers off chain', () => {
        it('verify with the client key only, and only for their channel and total', () => {
            const v = voucher(123n);
            expect(verifyVoucher(channel.address, 123n, v.signature, f.clientKeys.publicKey)).toBe(true);
            expect(verifyVoucher(channel.address, 124n, v.signature, f.clientKeys.publicKey)).toBe(false);
            expect(verifyVoucher(f.escrow.address, 123n, v.signature, f.clientKeys.publicKey)).toBe(false);
            expect(verifyVoucher(channel.address, 123n, v.signature, f.workerKeys.publicKey)).toBe(false);
            const a = signCloseApproval(channel.address, 123n, f.workerKeys.secretKey);
            expect(verifyCloseApproval(channel.address, 123n, a, f.workerKeys.publicKey)).toBe(true);
            // A close approval is never a voucher.
            expect(verifyVoucher(channel.address, 123n, a, f.workerKeys.publicKey)).toBe(false);
        });
    });

    describe('claim', () => {
        it("pays total - paid: the fee accrues, the rest goes to the WorkerStake owner with the caller's unspent value", async () => {
            const total = toNano('2');
            const before = await balance(worker());
            const result = await channel.sendClaim(f.stranger.getSender(), voucher(total), 5n);
            const fee = (total * feeBps) / 10000n;
            expect(fee).toBeGreaterThan(0n);
            expect(fee).toBeLessThan(FLUSH);
            // Below the flush threshold the fee stays in the channel, owed to the treasury.
            expect(result.transactions).not.toHaveTransaction({ from: channel.address, to: f.treasury.address });
            expect(paidOut(result.transactions, channel.address, worker())).toBe(total - fee);
            // One message: the share and what the claimer's value left (no separate excess).
            expect(result.transactions).not.toHaveTransaction({ from: channel.address, to: f.stranger.address });
            const payout = delivered(result.transactions, channel.address, worker(), OP.WorkerPaid);
            expect(payout).toBeGreaterThan(total - fee);
            expect(payout).toBeLessThan(total - fee + ExtendedPaymentChannel.ACTION_VALUE);
            expect((await balance(worker())) - before).toBeGreaterThan(total - fee);
            const s = await channel.getState();
            expect(s.paid).toBe(total);
            expect(s.feeDue).toBe(fee);
            expect(await balance(channel.address)).toBe(DEPOSIT - total + fee + RESERVE);

            // The payout tells the query id and the share.
            const payoutTx = result.transactions.find((t) => t.inMessage?.info.dest?.toString() === worker().toString())!;
            const body = payoutTx.inMessage!.body.beginParse();
            expect(body.loadUint(32)).toBe(OP.WorkerPaid);
            expect(body.loadUintBig(64)).toBe(5n);
            expect(body.loadCoins()).toBe(total - fee);

            // A larger voucher pays only the difference.
            const next = await channel.sendClaim(f.stranger.getSender(), voucher(toNano('3')));
            const delta = toNano('1');
            const fee2 = (delta * feeBps) / 10000n;
            expect(paidOut(next.transactions, channel.address, worker())).toBe(delta - fee2);
            expect(await channel.getPaid()).toBe(toNano('3'));
            expect(await channel.getFeeDue()).toBe(fee + fee2);
        });

        it('accrues every fee, however small, and sends the fees due to the treasury once they reach the flush threshold', async () => {
            await channel.sendTopUp(f.client.getSender(), toNano('20'));
            const deposit = await channel.getDeposit();
            // A claim too small to be worth a message of its own still owes its fee (no waiver to split claims for).
            let result = await channel.sendClaim(f.stranger.getSender(), voucher(toNano('0.05')));
            const small = (toNano('0.05') * feeBps) / 10000n;
            expect(small).toBeGreaterThan(0n);
            expect(paidOut(result.transactions, channel.address, worker())).toBe(toNano('0.05') - small);
            expect(await channel.getFeeDue()).toBe(small);
            // Enough claims to cross the threshold: everything accrued goes in one message.
            const total = (FLUSH * 10000n) / feeBps + toNano('1');
            result = await channel.sendClaim(f.stranger.getSender(), voucher(total));
            const owedFee = (total * feeBps) / 10000n - ((toNano('0.05') * feeBps) / 10000n - small);
            const sent = delivered(result.transactions, channel.address, f.treasury.address, OP.ProtocolFee);
            expect(sent).toBe(small + ((total - toNano('0.05')) * feeBps) / 10000n);
            expect(sent).toBeGreaterThanOrEqual(FLUSH);
            expect(sent).toBe(owedFee);
            expect(await channel.getFeeDue()).toBe(0n);
            expect(await channel.getPaid()).toBe(total);
            expect(await balance(channel.address)).toBe(deposit - total + RESERVE);
        });

        it('refuses a replayed voucher and a smaller total', async () => {
            await channel.sendClaim(f.stranger.getSender(), voucher(toNano('2')));
            let result = await channel.sendClaim(f.stranger.getSender(), voucher(toNano('2')));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NOTHING_TO_CLAIM });
            result = await channel.sendClaim(f.stranger.getSender(), voucher(toNano('1')));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NOTHING_TO_CLAIM });
            expect(await channel.getPaid()).toBe(toNano('2'));
        });

        it('refuses a forged signature', async () => {
            const forged = signVoucher(channel.address, toNano('1'), testKeys('mallory').secretKey);
            let result = await channel.sendClaim(f.stranger.getSender(), forged);
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_BAD_SIGNATURE });
            // A genuine signature over another total.
            const genuine = voucher(toNano('1'));
            result = await channel.sendClaim(f.stranger.getSender(), { ...genuine, total: toNano('5') });
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_BAD_SIGNATURE });
            // Signed by the worker key.
            result = await channel.sendClaim(f.stranger.getSender(), signVoucher(channel.address, toNano('1'), f.workerKeys.secretKey));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_BAD_SIGNATURE });
            expect(await channel.getPaid()).toBe(0n);
        });

        it('refuses a voucher for another channel', async () => {
            const { channel: other } = await openChannel(f, { nonce: 1n, workerOwner: f.stranger.address });
            const v = voucher(toNano('1'), other.address);
            // The channel checks the signature over a voucher rebuilt with its own address: another channel's fails.
            let result = await channel.sendClaim(f.stranger.getSender(), v);
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_BAD_SIGNATURE });
            // Renaming the channel in the voucher breaks the signature.
            result = await channel.sendClaim(f.stranger.getSender(), { ...v, channel: channel.address });
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_BAD_SIGNATURE });
            expect(await channel.getPaid()).toBe(0n);
        });

        it('never replays a voucher from an earlier channel between the same client and worker', async () => {
            const old = voucher(toNano('4'));
            await channel.sendClaim(f.workerOwner.getSender(), voucher(toNano('1')));
            await channel.sendRequestClose(f.client.getSender());
            f.blockchain.now! += f.params.channelCloseDelay.valueOf() === 0n ? 1 : Number(f.params.channelCloseDelay);
            await channel.sendFinalize(f.stranger.getSender());
            expect(await channel.getStatus()).toBe(BigInt(ChannelStatus.Closed));

            // Same client, same worker, same keys: only the nonce differs.
            const { channel: next } = await openChannel(f, { nonce: 2n, deposit: DEPOSIT });
            expect(next.address.equals(channel.address)).toBe(false);
            let result = await next.sendClaim(f.stranger.getSender(), old);
            expect(result.transactions).toHaveTransaction({ to: next.address, success: false, exitCode: ExitCode.ERR_CHANNEL_BAD_SIGNATURE });
            result = await next.sendClaim(f.stranger.getSender(), { ...old, channel: next.address });
            expect(result.transactions).toHaveTransaction({ to: next.address, success: false, exitCode: ExitCode.ERR_CHANNEL_BAD_SIGNATURE });
            expect(await next.getPaid()).toBe(0n);
            // Nor into the closed channel itself.
            result = await channel.sendClaim(f.stranger.getSender(), old);
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NOT_OPEN });
            // And a second open of the old nonce does not revive it.
            await openChannel(f, { nonce: 1n, deposit: DEPOSIT });
            expect(await channel.getStatus()).toBe(BigInt(ChannelStatus.Closed));
            result = await channel.sendClaim(f.stranger.getSender(), old);
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NOT_OPEN });
            expect(await channel.getPaid()).toBe(toNano('1'));
        });

        it('pays at most the unspent deposit, and the rest after a top-up', async () => {
            const big = voucher(toNano('15'));
            let result = await channel.sendClaim(f.stranger.getSender(), big);
            const fee = (DEPOSIT * feeBps) / 10000n;
            expect(paidOut(result.transactions, channel.address, worker())).toBe(DEPOSIT - fee);
            expect(await channel.getPaid()).toBe(DEPOSIT);
            // What stays is the reserve and the fee still due (sent at once if it reached the threshold).
            const due = fee >= FLUSH ? 0n : fee;
            expect(await channel.getFeeDue()).toBe(due);
            expect(await balance(channel.address)).toBe(RESERVE + due);
            result = await channel.sendClaim(f.stranger.getSender(), big);
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NO_FUNDS });
            await channel.sendTopUp(f.client.getSender(), toNano('20'));
            result = await channel.sendClaim(f.stranger.getSender(), big);
            expect(await channel.getPaid()).toBe(toNano('15'));
        });

        it('never pays storage rent out of what is owed: the caller tops the reserve up', async () => {
            // Years of storage rent eat into the reserve; the next caller
            // must make it good before anything moves.
            f.blockchain.now! += 20 * 365 * 24 * 3600;
            let result = await channel.sendClaim(f.stranger.getSender(), voucher(toNano('1')));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            result = await channel.sendClaim(f.stranger.getSender(), voucher(toNano('1')), 0n, toNano('1'));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: true });
            expect(await channel.getPaid()).toBe(toNano('1'));
            expect(await balance(channel.address)).toBe(RESERVE + DEPOSIT - toNano('1') + (toNano('1') * feeBps) / 10000n);
        });

        it('refuses too little value and a malformed body', async () => {
            let result = await channel.sendClaim(f.stranger.getSender(), voucher(toNano('1')), 0n, toNano('0.004'));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            const body = beginCell().storeUint(Opcode.Claim, 32).storeUint(0, 64).storeAddress(channel.address).endCell();
            result = await f.stranger.send({ to: channel.address, value: toNano('0.05'), body });
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: 9 });
            result = await f.stranger.send({ to: channel.address, value: toNano('0.05'), body: beginCell().storeUint(0xdeadbeef, 32).endCell() });
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: 130 });
            expect(await channel.getPaid()).toBe(0n);
        });
    });

    describe('top-up', () => {
        it('credits everything the value brings beyond the gas, from anyone, while open, and sends nothing back', async () => {
            const before = await balance(channel.address);
            expect(before).toBe(RESERVE + DEPOSIT);
            const value = toNano('3') + ExtendedPaymentChannel.TOP_UP_OVERHEAD;
            const result = await channel.sendTopUp(f.stranger.getSender(), toNano('3'), 7n, value);
            const tx = findTransactionRequired(result.transactions, { to: channel.address, success: true });
            // One transaction: no excess, no reply.
            expect(result.transactions).not.toHaveTransaction({ from: channel.address });
            if (tx.description.type !== 'generic' || tx.description.computePhase.type !== 'vm') throw new Error('no compute phase');
            const rent = tx.description.storagePhase?.storageFeesCollected ?? 0n;
            const charged = Constants.GAS_CHANNEL_TOP_UP * BASECHAIN_GAS_PRICE;
            // The value less the gas estimate and the rent the reserve lacked.
            const deposit = await channel.getDeposit();
            expect(deposit).toBe(DEPOSIT + value - charged - rent);
            expect(deposit).toBeGreaterThan(DEPOSIT + toNano('3'));
            // The balance backs the reserve and the deposit; above them sits only the part of the estimate not used.
            const unused = charged - tx.description.computePhase.gasFees;
            expect(unused).toBeGreaterThanOrEqual(0n);
            expect(unused).toBeLessThan(charged / 10n);
            expect(await balance(channel.address)).toBe(RESERVE + deposit + unused);
            // It leaves with the next outgoing message: afterwards the balance is exact again.
            await channel.sendClaim(f.stranger.getSender(), voucher(toNano('1')));
            expect(await balance(channel.address)).toBe(RESERVE + deposit - toNano('1') + (toNano('1') * feeBps) / 10000n);
        });

        it('makes good the rent the reserve lacks before crediting, and refuses a value that cannot credit the amount', async () => {
            // Years of rent: the top-up pays it out of its value first.
            f.blockchain.now! += 20 * 365 * 24 * 3600;
            let result = await channel.sendTopUp(f.client.getSender(), toNano('1'), 0n, toNano('1') + Constants.GAS_CHANNEL_TOP_UP * BASECHAIN_GAS_PRICE);
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            expect(await channel.getDeposit()).toBe(DEPOSIT);
            result = await channel.sendTopUp(f.client.getSender(), toNano('1'), 0n, toNano('1.1'));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: true });
            const deposit = await channel.getDeposit();
            expect(deposit).toBeGreaterThanOrEqual(DEPOSIT + toNano('1'));
            expect(await balance(channel.address)).toBeGreaterThanOrEqual(RESERVE + deposit);
        });

        it('refuses a zero amount, too little value, and a channel that is closing', async () => {
            let result = await channel.sendTopUp(f.stranger.getSender(), 0n);
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_BAD_AMOUNT });
            result = await channel.sendTopUp(f.stranger.getSender(), toNano('3'), 0n, toNano('3'));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            await channel.sendRequestClose(f.client.getSender());
            result = await channel.sendTopUp(f.client.getSender(), toNano('3'));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NOT_OPEN });
            expect(await channel.getDeposit()).toBe(DEPOSIT);
        });
    });

    describe('close', () => {
        it('lets only the client start the window, once', async () => {
            let result = await channel.sendRequestClose(f.stranger.getSender());
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NOT_CLIENT });
            result = await channel.sendRequestClose(f.workerOwner.getSender());
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NOT_CLIENT });
            result = await channel.sendRequestClose(f.client.getSender(), 0n, toNano('0.004'));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            result = await channel.sendRequestClose(f.client.getSender());
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: true });
            expect(await channel.getStatus()).toBe(BigInt(ChannelStatus.Closing));
            expect(await channel.getCloseDeadline()).toBe(BigInt(f.blockchain.now!) + f.params.channelCloseDelay);
            result = await channel.sendRequestClose(f.client.getSender());
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NOT_OPEN });
        });

        it('accepts claims inside the window, not after it; finalises only after it', async () => {
            await channel.sendClaim(f.stranger.getSender(), voucher(toNano('1')));
            await channel.sendRequestClose(f.client.getSender());
            const deadline = Number(await channel.getCloseDeadline());
            let result = await channel.sendFinalize(f.stranger.getSender());
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_DEADLINE_NOT_REACHED });
            f.blockchain.now = deadline - 1;
            result = await channel.sendClaim(f.stranger.getSender(), voucher(toNano('2')));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: true });
            f.blockchain.now = deadline;
            result = await channel.sendClaim(f.stranger.getSender(), voucher(toNano('3')));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_CLOSE_EXPIRED });
            result = await channel.sendFinalize(f.stranger.getSender(), 0n, toNano('0.004'));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });

            // Anyone finalises; the client gets exactly deposit - paid, the treasury the fees due.
            result = await channel.sendFinalize(f.stranger.getSender());
            expect(amounts(result.transactions, channel.address, f.client.address, OP.ChannelRefund)).toBe(DEPOSIT - toNano('2'));
            expect(delivered(result.transactions, channel.address, f.treasury.address, OP.ProtocolFee)).toBe((toNano('2') * feeBps) / 10000n);
            expect(result.transactions).toHaveTransaction({ from: channel.address, to: f.stranger.address, op: OP.Excesses });
            const s = await channel.getState();
            expect(s.status).toBe(ChannelStatus.Closed);
            expect(s.refunded).toBe(DEPOSIT - toNano('2'));
            expect(await balance(channel.address)).toBe(RESERVE);

            result = await channel.sendFinalize(f.stranger.getSender());
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NOT_CLOSING });
            result = await channel.sendClaim(f.stranger.getSender(), voucher(toNano('3')));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NOT_OPEN });
        });

        it('refuses to finalise an open channel', async () => {
            const result = await channel.sendFinalize(f.client.getSender());
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NOT_CLOSING });
        });
    });

    describe('snapshot getter', () => {
        it('tells the state through open, claim, key change, close window and close', async () => {
            let s = await channel.getState();
            expect(s).toMatchObject({
                status: ChannelStatus.Open,
                deposit: DEPOSIT,
                paid: 0n,
                feeDue: 0n,
                claimable: DEPOSIT,
                refunded: 0n,
                pendingClientKey: 0n,
                pendingKeyAt: 0,
                finalizable: false,
            });
            expect(s.workerStake.equals(f.workerStake.address)).toBe(true);
            expect(s.payee.equals(worker())).toBe(true);
            expect(s.escrow.equals(f.escrow.address)).toBe(true);
            expect(s.chainTime).toBe(f.blockchain.now);
            await channel.sendClaim(f.stranger.getSender(), voucher(toNano('1')));
            s = await channel.getState();
            expect(s.paid).toBe(toNano('1'));
            expect(s.claimable).toBe(DEPOSIT - toNano('1'));
            const next = testKeys('snapshot-next-key');
            await channel.sendChangeClientKey(f.client.getSender(), keyToInt(next.publicKey));
            s = await channel.getState();
            expect(s.pendingClientKey).toBe(keyToInt(next.publicKey));
            expect(s.pendingKeyAt).toBe(f.blockchain.now! + Number(f.params.channelCloseDelay));
            expect(s.clientKey).toBe(keyToInt(f.clientKeys.publicKey));
            await channel.sendRequestClose(f.client.getSender());
            s = await channel.getState();
            expect(s.status).toBe(ChannelStatus.Closing);
            expect(s.finalizable).toBe(false);
            f.blockchain.now = s.closeDeadline;
            // Past the key's notice period too: the new key is current and nothing is pending.
            s = await channel.getState();
            expect(s.clientKey).toBe(keyToInt(next.publicKey));
            expect(s.pendingClientKey).toBe(0n);
            expect(s.pendingKeyAt).toBe(0);
            expect(s.finalizable).toBe(true);
            await channel.sendFinalize(f.stranger.getSender());
            s = await channel.getState();
            expect(s).toMatchObject({ status: ChannelStatus.Closed, refunded: DEPOSIT - toNano('1'), claimable: 0n, feeDue: 0n, finalizable: false });
        });
    });

    describe('cooperative close', () => {
        it('pays the final voucher and refunds the rest at once', async () => {
            await channel.sendClaim(f.stranger.getSender(), voucher(toNano('1')));
            const final = voucher(toNano('4'));
            const approval = signCloseApproval(channel.address, toNano('4'), f.workerKeys.secretKey);
            const result = await channel.sendCooperativeClose(f.client.getSender(), final, approval);
            const delta = toNano('3');
            const fee = (delta * feeBps) / 10000n;
            expect(paidOut(result.transactions, channel.address, worker())).toBe(delta - fee);
            expect(delivered(result.transactions, channel.address, worker(), OP.WorkerPaid)).toBe(delta - fee);
            // Every fee of the channel's life, the earlier claim's included, goes at close.
            expect(delivered(result.transactions, channel.address, f.treasury.address, OP.ProtocolFee)).toBe((toNano('4') * feeBps) / 10000n);
            expect(amounts(result.transactions, channel.address, f.client.address, OP.ChannelRefund)).toBe(DEPOSIT - toNano('4'));
            const s = await channel.getState();
            expect(s.status).toBe(ChannelStatus.Closed);
            expect(s.paid).toBe(toNano('4'));
            expect(await balance(channel.address)).toBe(RESERVE);
            // Closed for good.
            const again = await channel.sendCooperativeClose(f.client.getSender(), final, approval);
            expect(again.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NOT_OPEN });
        });

        it('closes at the amount already paid, and inside a close window', async () => {
            await channel.sendClaim(f.stranger.getSender(), voucher(toNano('1')));
            await channel.sendRequestClose(f.client.getSender());
            const approval = signCloseApproval(channel.address, toNano('1'), f.workerKeys.secretKey);
            const result = await channel.sendCooperativeClose(f.workerOwner.getSender(), voucher(toNano('1')), approval);
            expect(result.transactions).not.toHaveTransaction({ from: channel.address, to: worker(), op: OP.WorkerPaid });
            expect(amounts(result.transactions, channel.address, f.client.address, OP.ChannelRefund)).toBe(DEPOSIT - toNano('1'));
            expect(await channel.getStatus()).toBe(BigInt(ChannelStatus.Closed));
        });

        it('refuses without the worker signature, a smaller total, or too little value', async () => {
            await channel.sendClaim(f.stranger.getSender(), voucher(toNano('2')));
            const final = voucher(toNano('4'));
            let result = await channel.sendCooperativeClose(f.client.getSender(), final, signCloseApproval(channel.address, toNano('4'), f.clientKeys.secretKey));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_BAD_WORKER_SIGNATURE });
            // The worker approved another total.
            result = await channel.sendCooperativeClose(f.client.getSender(), final, signCloseApproval(channel.address, toNano('3'), f.workerKeys.secretKey));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_BAD_WORKER_SIGNATURE });
            // A worker voucher-style signature is not an approval.
            result = await channel.sendCooperativeClose(f.client.getSender(), final, signVoucher(channel.address, toNano('4'), f.workerKeys.secretKey).signature);
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_BAD_WORKER_SIGNATURE });
            const small = voucher(toNano('1'));
            result = await channel.sendCooperativeClose(f.client.getSender(), small, signCloseApproval(channel.address, toNano('1'), f.workerKeys.secretKey));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NOTHING_TO_CLAIM });
            result = await channel.sendCooperativeClose(f.client.getSender(), final, signCloseApproval(channel.address, toNano('4'), f.workerKeys.secretKey), 0n, toNano('0.003'));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            expect(await channel.getStatus()).toBe(BigInt(ChannelStatus.Open));
            expect(await channel.getPaid()).toBe(toNano('2'));
        });
    });

    describe('client key change', () => {
        it('takes effect after the close delay; only the client may ask', async () => {
            const next = testKeys('client-2');
            let result = await channel.sendChangeClientKey(f.stranger.getSender(), keyToInt(next.publicKey));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NOT_CLIENT });
            result = await channel.sendChangeClientKey(f.client.getSender(), 0n);
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_BAD_KEY });
            result = await channel.sendChangeClientKey(f.client.getSender(), keyToInt(next.publicKey), 0n, toNano('0.004'));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
            result = await channel.sendChangeClientKey(f.client.getSender(), keyToInt(next.publicKey));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: true });
            expect(await channel.getPendingClientKey()).toBe(keyToInt(next.publicKey));
            expect(await channel.getClientKey()).toBe(keyToInt(f.clientKeys.publicKey));

            // Inside the delay the old key still pays; the new one not yet.
            result = await channel.sendClaim(f.stranger.getSender(), signVoucher(channel.address, toNano('2'), next.secretKey));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_BAD_SIGNATURE });
            result = await channel.sendClaim(f.stranger.getSender(), voucher(toNano('1')));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: true });

            f.blockchain.now! += Number(f.params.channelCloseDelay);
            expect(await channel.getClientKey()).toBe(keyToInt(next.publicKey));
            expect(await channel.getPendingClientKey()).toBe(0n);
            result = await channel.sendClaim(f.stranger.getSender(), voucher(toNano('2')));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_BAD_SIGNATURE });
            result = await channel.sendClaim(f.stranger.getSender(), signVoucher(channel.address, toNano('2'), next.secretKey));
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: true });
            expect(await channel.getPaid()).toBe(toNano('2'));
        });
    });

    describe('payments that cannot be delivered', () => {
        // An address with no contract: a non-bounceable message's value stays there.
        const nowhere = Address.parse('0:' + 'ab'.repeat(32));

        it('never sends a bounceable payment, so nothing it pays can come back and make the books lie', async () => {
            const { channel: ch } = await openChannel(f, { nonce: 9n, workerOwner: nowhere });
            const result = await ch.sendClaim(f.stranger.getSender(), signVoucher(ch.address, toNano('2'), f.clientKeys.secretKey));
            const fee = (toNano('2') * feeBps) / 10000n;
            // No contract runs there (the transaction is aborted), but the value is credited all the same.
            const arrival = result.transactions.find((t) => t.inMessage?.info.dest?.toString() === nowhere.toString())!;
            const body = arrival.inMessage!.body.beginParse();
            expect(body.loadUint(32)).toBe(OP.WorkerPaid);
            body.skip(64);
            expect(body.loadCoins()).toBe(toNano('2') - fee);
            expect(result.transactions).not.toHaveTransaction({ to: ch.address, inMessageBounced: true });
            // The share sits at the payee's address, whose money it is.
            expect(await balance(nowhere)).toBeGreaterThan(toNano('2') - fee);
            expect(await ch.getPaid()).toBe(toNano('2'));
            for (const tx of result.transactions) {
                const info = tx.inMessage?.info;
                if (info?.type === 'internal' && info.src.equals(ch.address)) expect(info.bounce).toBe(false);
            }
        });

        it('sends the fees due to a treasury with no contract, and they stay there', async () => {
            const g = await deployEscrow({ treasury: nowhere });
            const { channel: ch } = await openChannel(g, { nonce: 1n });
            const v = signVoucher(ch.address, toNano('2'), g.clientKeys.secretKey);
            const approval = signCloseApproval(ch.address, toNano('2'), g.workerKeys.secretKey);
            const result = await ch.sendCooperativeClose(g.client.getSender(), v, approval);
            const fee = (toNano('2') * g.params.protocolFeeBps) / 10000n;
            expect(result.transactions).toHaveTransaction({ from: ch.address, to: nowhere, op: OP.ProtocolFee, value: fee });
            expect(result.transactions).not.toHaveTransaction({ to: ch.address, inMessageBounced: true });
            expect((await g.blockchain.getContract(nowhere)).balance).toBe(fee);
            expect(await ch.getStatus()).toBe(BigInt(ChannelStatus.Closed));
        });
    });

    describe('property: random interleavings', () => {
        type Op =
            | { kind: 'topUp'; amount: bigint }
            | { kind: 'claim'; step: bigint }
            | { kind: 'replay'; index: number }
            | { kind: 'forged'; total: bigint }
            | { kind: 'otherChannel'; total: bigint }
            | { kind: 'requestClose' }
            | { kind: 'wait'; seconds: number }
            | { kind: 'finalize' };

        const ton = (max: number) => fc.integer({ min: 1, max: max * 1000 }).map((m) => BigInt(m) * 1_000_000n);
        const op: fc.Arbitrary<Op> = fc.oneof(
            { weight: 2, arbitrary: ton(5).map((amount) => ({ kind: 'topUp' as const, amount })) },
            { weight: 5, arbitrary: ton(4).map((step) => ({ kind: 'claim' as const, step })) },
            { weight: 2, arbitrary: fc.nat(20).map((index) => ({ kind: 'replay' as const, index })) },
            { weight: 1, arbitrary: ton(20).map((total) => ({ kind: 'forged' as const, total })) },
            { weight: 1, arbitrary: ton(20).map((total) => ({ kind: 'otherChannel' as const, total })) },
            { weight: 1, arbitrary: fc.constant({ kind: 'requestClose' as const }) },
            { weight: 2, arbitrary: fc.integer({ min: 1, max: 400 }).map((seconds) => ({ kind: 'wait' as const, seconds })) },
            { weight: 1, arbitrary: fc.constant({ kind: 'finalize' as const }) },
        );

        it('never pays twice, never more than the largest voucher, and refunds exactly deposit - paid', async () => {
            const mallory = testKeys('mallory');
            const snapshot = f.blockchain.snapshot();
            const delay = Number(f.params.channelCloseDelay);

            await fc.assert(
                fc.asyncProperty(fc.array(op, { minLength: 4, maxLength: 18 }), async (ops) => {
                    await f.blockchain.loadFrom(snapshot);
                    // The model.
                    let deposit = DEPOSIT;
                    let paid = 0n;
                    let status = ChannelStatus.Open;
                    let deadline = 0;
                    const signed: bigint[] = []; // totals the client signed, increasing
                    let toWorker = 0n;
                    let toTreasury = 0n;
                    let toClient = 0n;

                    // What the last top-up's gas estimate left unused on the balance, until a message takes it out.
                    let slack = 0n;
                    const unusedGas = (txs: Transaction[]) => {
                        const tx = findTransactionRequired(txs, { to: channel.address, success: true });
                        if (tx.description.type !== 'generic' || tx.description.computePhase.type !== 'vm') throw new Error('no compute phase');
                        return Constants.GAS_CHANNEL_TOP_UP * BASECHAIN_GAS_PRICE - tx.description.computePhase.gasFees;
                    };
                    const account = (txs: Transaction[]) => {
                        // A successful transaction that sends (not a bounce of a refused message) takes the slack along.
                        const sent = txs.some((t) => t.inMessage?.info.src?.toString() === channel.address.toString() && t.inMessage.info.type === 'internal' && !t.inMessage.info.bounced);
                        if (sent) slack = 0n;
                        toWorker += paidOut(txs, channel.address, worker());
                        toTreasury += delivered(txs, channel.address, f.treasury.address, OP.ProtocolFee);
                        toClient += amounts(txs, channel.address, f.client.address, OP.ChannelRefund);
                    };
                    const expectFailure = (txs: Transaction[], exitCode: number) => expect(txs).toHaveTransaction({ to: channel.address, success: false, exitCode });
                    const claimable = () => status === ChannelStatus.Open || (status === ChannelStatus.Closing && f.blockchain.now! < deadline);
                    const sendClaim = async (total: bigint) => {
                        const r = await channel.sendClaim(f.stranger.getSender(), voucher(total));
                        account(r.transactions);
                        if (!claimable()) {
                            expectFailure(r.transactions, status === ChannelStatus.Closing ? ExitCode.ERR_CHANNEL_CLOSE_EXPIRED : ExitCode.ERR_CHANNEL_NOT_OPEN);
                        } else if (total <= paid) {
                            expectFailure(r.transactions, ExitCode.ERR_CHANNEL_NOTHING_TO_CLAIM);
                        } else if (paid === deposit) {
                            expectFailure(r.transactions, ExitCode.ERR_CHANNEL_NO_FUNDS);
                        } else {
                            expect(r.transactions).toHaveTransaction({ to: channel.address, success: true });
                            paid = total < deposit ? total : deposit;
                        }
                    };

                    for (const o of ops) {
                        switch (o.kind) {
                            case 'topUp': {
                                const r = await channel.sendTopUp(f.client.getSender(), o.amount);
                                if (status === ChannelStatus.Open) {
                                    // At least the amount, and at most what the value brought beyond it.
                                    const credited = (await channel.getDeposit()) - deposit;
                                    expect(credited).toBeGreaterThanOrEqual(o.amount);
                                    expect(credited).toBeLessThanOrEqual(o.amount + ExtendedPaymentChannel.TOP_UP_OVERHEAD);
                                    deposit += credited;
                                    slack = unusedGas(r.transactions);
                                } else expectFailure(r.transactions, ExitCode.ERR_CHANNEL_NOT_OPEN);
                                break;
                            }
                            case 'claim': {
                                const total = (signed.length ? signed[signed.length - 1] : 0n) + o.step;
                                signed.push(total);
                                await sendClaim(total);
                                break;
                            }
                            case 'replay':
                                if (signed.length) await sendClaim(signed[o.index % signed.length]);
                                break;
                            case 'forged': {
                                const r = await channel.sendClaim(f.stranger.getSender(), signVoucher(channel.address, o.total, mallory.secretKey));
                                account(r.transactions);
                                expect(r.transactions).toHaveTransaction({ to: channel.address, success: false });
                                break;
                            }
                            case 'otherChannel': {
                                const r = await channel.sendClaim(f.stranger.getSender(), voucher(o.total, f.escrow.address));
                                account(r.transactions);
                                expect(r.transactions).toHaveTransaction({ to: channel.address, success: false });
                                break;
                            }
                            case 'requestClose': {
                                const r = await channel.sendRequestClose(f.client.getSender());
                                account(r.transactions);
                                if (status === ChannelStatus.Open) {
                                    status = ChannelStatus.Closing;
                                    deadline = f.blockchain.now! + delay;
                                } else expectFailure(r.transactions, ExitCode.ERR_CHANNEL_NOT_OPEN);
                                break;
                            }
                            case 'wait':
                                f.blockchain.now! += o.seconds;
                                break;
                            case 'finalize': {
                                const r = await channel.sendFinalize(f.stranger.getSender());
                                account(r.transactions);
                                if (status === ChannelStatus.Closing && f.blockchain.now! >= deadline) status = ChannelStatus.Closed;
                                else expect(r.transactions).toHaveTransaction({ to: channel.address, success: false });
                                break;
                            }
                        }

                        // Invariants after every step.
                        const s = await channel.getState();
                        expect(s.status).toBe(status);
                        expect(s.deposit).toBe(deposit);
                        expect(s.paid).toBe(paid);
                        // Nothing paid twice: what left, with the fees still due, equals what is recorded as paid.
                        expect(toWorker + toTreasury + s.feeDue).toBe(paid);
                        if (status === ChannelStatus.Closed) expect(s.feeDue).toBe(0n);
                        // The worker never gets more than the largest valid voucher.
                        const largest = signed.length ? signed[signed.length - 1] : 0n;
                        expect(paid).toBeLessThanOrEqual(largest);
                        expect(toWorker).toBeLessThanOrEqual(largest);
                        // The client gets back exactly deposit - paid, once closed.
                        expect(toClient).toBe(status === ChannelStatus.Closed ? deposit - paid : 0n);
                        // The balance backs what is owed above the storage reserve
                        // (less at most the rent of the last few minutes).
                        const owed = status === ChannelStatus.Closed ? 0n : deposit - paid + s.feeDue;
                        const bal = await balance(channel.address);
                        expect(bal).toBeLessThanOrEqual(RESERVE + owed + slack);
                        expect(bal).toBeGreaterThanOrEqual(RESERVE + owed + slack - 100_000n);
                    }
                }),
                { numRuns: 25 },
            );
        }, 600_000);
    });
});
