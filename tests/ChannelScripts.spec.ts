import { Address, toNano } from '@ton/core';
import '@ton/test-utils';
import { SandboxNetworkProvider, ScriptedUI } from '../scripts/lib/sandboxProvider';
import { run as openChannel } from '../scripts/openChannel';
import { run as topUpChannel } from '../scripts/topUpChannel';
import { run as claimVoucher } from '../scripts/claimVoucher';
import { run as closeChannel } from '../scripts/closeChannel';
import { run as finalizeChannel } from '../scripts/finalizeChannel';
import { ChannelStatus, ExtendedPaymentChannel } from '../wrappers/PaymentChannel';
import { signCloseApproval, signVoucher } from '../wrappers/voucher';
import { ServingFixture, deployServing } from './helpers/serving';

const hex = (b: Buffer) => b.toString('hex');

/** The channel scripts, run as `npx blueprint run` would run them, over the sandbox. */
describe('Channel scripts', () => {
    let f: ServingFixture;
    let client: SandboxNetworkProvider;
    let worker: SandboxNetworkProvider;
    let stranger: SandboxNetworkProvider;

    beforeEach(async () => {
        // A real, staked WorkerStake: the open script reads its owner, whom the channel pays.
        f = await deployServing();
        client = new SandboxNetworkProvider(f.blockchain, f.client);
        worker = new SandboxNetworkProvider(f.blockchain, f.operator);
        stranger = new SandboxNetworkProvider(f.blockchain, f.stranger);
    });

    const openArgs = (nonce = '5', deposit = '10') => [f.escrow.address.toString(), f.workerStake.address.toString(), hex(f.workerKeys.publicKey), hex(f.clientKeys.publicKey), deposit, nonce];

    it('open, top up, claim, close and finalise a channel', async () => {
        const ui = new ScriptedUI();
        const channel = await openChannel(new SandboxNetworkProvider(f.blockchain, f.client, ui), openArgs());
        expect(ui.written.join('\n')).toMatch(/Channel open/);
        const at = channel.address.toString();
        expect(channel.address.equals(await f.escrow.getChannelAddress(f.client.address, f.workerStake.address, 5n))).toBe(true);
        expect(await channel.getDeposit()).toBe(toNano('10'));

        await topUpChannel(stranger, [at, '2.5']);
        // The amount, and what the value beyond it did not spend on gas.
        const deposit = await channel.getDeposit();
        expect(deposit).toBeGreaterThanOrEqual(toNano('12.5'));
        expect(deposit).toBeLessThan(toNano('12.5') + ExtendedPaymentChannel.TOP_UP_OVERHEAD);

        const v = signVoucher(channel.address, toNano('3'), f.clientKeys.secretKey);
        await claimVoucher(worker, [at, v.total.toString(), hex(v.signature)]);
        expect(await channel.getPaid()).toBe(toNano('3'));
        await expect(claimVoucher(worker, [at, v.total.toString(), hex(v.signature)])).rejects.toThrow(/not above what is already paid/);

        await closeChannel(client, [at]);
        expect(Number(await channel.getStatus())).toBe(ChannelStatus.Closing);
        await expect(finalizeChannel(stranger, [at])).rejects.toThrow(/still open until/);
        f.blockchain.now! += Number(f.params.channelCloseDelay);
        await finalizeChannel(stranger, [at]);
        expect(Number(await channel.getStatus())).toBe(ChannelStatus.Closed);
        expect(await channel.getRefunded()).toBe(deposit - toNano('3'));
        await expect(finalizeChannel(stranger, [at])).rejects.toThrow(/Closed/);
        await expect(topUpChannel(client, [at, '1'])).rejects.toThrow(/Closed/);
    });

    it('closes cooperatively with the final voucher and the worker approval', async () => {
        const channel = await openChannel(client, openArgs('6'));
        const at = channel.address.toString();
        const total = toNano('4');
        const v = signVoucher(channel.address, total, f.clientKeys.secretKey);
        const approval = signCloseApproval(channel.address, total, f.workerKeys.secretKey);
        await expect(closeChannel(stranger, [at, total.toString(), hex(v.signature), hex(v.signature)])).rejects.toThrow(/worker signature/);
        await closeChannel(stranger, [at, total.toString(), hex(v.signature), hex(approval)]);
        expect(Number(await channel.getStatus())).toBe(ChannelStatus.Closed);
        expect(await channel.getPaid()).toBe(total);
        expect(await channel.getRefunded()).toBe(toNano('6'));
    });

    it('check on-chain state and input before sending anything', async () => {
        const channel = await openChannel(client, openArgs('7'));
        const at = channel.address.toString();
        const sent = () => client.results.length + worker.results.length + stranger.results.length;
        const before = sent();
        // A nonce already used.
        await expect(openChannel(client, openArgs('7'))).rejects.toThrow(/already exists/);
        // Not an Escrow / not deployed.
        const nowhere = Address.parse('0:' + '11'.repeat(32));
        await expect(openChannel(client, [nowhere.toString(), ...openArgs().slice(1)])).rejects.toThrow(/no Escrow is deployed/);
        await expect(openChannel(client, [f.escrow.address.toString(), nowhere.toString(), ...openArgs().slice(2)])).rejects.toThrow(/no WorkerStake/);
        await expect(openChannel(client, openArgs('8', '-1'))).rejects.toThrow(/amount in TON/);
        await expect(openChannel(client, [...openArgs().slice(0, 2), 'abc', ...openArgs().slice(3)])).rejects.toThrow(/64 hex digits/);
        // A forged voucher and a voucher for another channel.
        const forged = signVoucher(channel.address, toNano('1'), f.workerKeys.secretKey);
        await expect(claimVoucher(worker, [at, forged.total.toString(), hex(forged.signature)])).rejects.toThrow(/not the channel client key/);
        const other = signVoucher(f.escrow.address, toNano('1'), f.clientKeys.secretKey);
        await expect(claimVoucher(worker, [at, other.total.toString(), hex(other.signature)])).rejects.toThrow(/not the channel client key/);
        await expect(claimVoucher(worker, [at, '1', 'zz'])).rejects.toThrow(/128 hex digits/);
        // Only the client asks to close; a channel that is not a channel.
        await expect(closeChannel(stranger, [at])).rejects.toThrow(/only the channel's client/);
        await expect(finalizeChannel(stranger, [at])).rejects.toThrow(/Open/);
        await expect(topUpChannel(client, [f.escrow.address.toString(), '1'])).rejects.toThrow(/not a Cocoon PaymentChannel/);
        expect(sent()).toBe(before);
    });

    it('openChannel refuses while the network is paused', async () => {
        await f.registry.sendPause(f.owner.getSender());
        await expect(openChannel(client, openArgs('9'))).rejects.toThrow(/paused/);
    });
});
