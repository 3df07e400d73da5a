import { beginCell, toNano } from '@ton/core';
import { internal } from '@ton/sandbox';
import '@ton/test-utils';
import { ExitCode } from '../wrappers/exitCodes';
import { ExtendedEscrow, loadChannelOpenBounced, storeConfigUpdate } from '../wrappers/Escrow';
import { ChannelStatus, ExtendedPaymentChannel } from '../wrappers/PaymentChannel';
import { devnetParams } from '../wrappers/params';
import { keyToInt } from '../wrappers/voucher';
import { EscrowFixture, deployEscrow, openChannel } from './helpers/channel';
import { Constants } from '../wrappers/constants';
import { deployRegistry, linkContracts, passProposal } from './helpers/registry';
import { Opcode } from '../wrappers/opcodes';

describe('Escrow', () => {
    let f: EscrowFixture;

    beforeEach(async () => {
        f = await deployEscrow();
    });

    function openArgs(overrides: Partial<Parameters<typeof f.escrow.sendOpenChannel>[1]> = {}) {
        return {
            workerOwner: f.workerOwner.address,
            workerKey: keyToInt(f.workerKeys.publicKey),
            nonce: 1n,
            deposit: toNano('10'),
            clientKey: keyToInt(f.clientKeys.publicKey),
            ...overrides,
        };
    }

    it('takes its config from the Registry it was linked by', async () => {
        expect(await f.escrow.getPaused()).toBe(false);
        const terms = await f.escrow.getCurrentTerms();
        expect(terms).not.toBeNull();
        expect(terms!.closeDelay).toBe(f.params.channelCloseDelay);
        expect(terms!.feeBps).toBe(f.params.protocolFeeBps);
        expect(terms!.treasury.equals(f.treasury.address)).toBe(true);
    });

    it('refuses config from anyone but the Registry', async () => {
        const config = await f.registry.getNetworkConfig();
        const result = await f.escrow.send(
            f.stranger.getSender(),
            { value: toNano('0.05') },
            {
                $$type: 'ConfigUpdate',
                queryId: 0n,
                version: 1000n,
                config,
            },
        );
        expect(result.transactions).toHaveTransaction({
            from: f.stranger.address,
            to: f.escrow.address,
            success: false,
            exitCode: ExitCode.ERR_CONFIG_NOT_FROM_REGISTRY,
        });
    });

    it('refuses a replayed (stale) config push even from the Registry address', async () => {
        const version = await f.escrow.getConfigVersion();
        const config = await f.registry.getNetworkConfig();
        // The current version again, now saying "paused": a replay must not roll anything.
        const replay = beginCell()
            .store(storeConfigUpdate({ $$type: 'ConfigUpdate', queryId: 0n, version, config: { ...config, paused: true } }))
            .endCell();
        const result = await f.blockchain.sendMessage(internal({ from: f.registry.address, to: f.escrow.address, value: toNano('0.05'), body: replay }));
        expect(result.transactions).toHaveTransaction({ to: f.escrow.address, success: false, exitCode: ExitCode.ERR_CONFIG_STALE_VERSION });
        expect(await f.escrow.getPaused()).toBe(false);
    });

    it('keeps the value of a bounced ChannelOpen on record instead of losing it', async () => {
        // A genuine channel never throws on ChannelOpen, so the bounce is
        // delivered by hand: what the network would return if it ran out of gas.
        const channel = await f.escrow.getChannelAddress(f.client.address, f.workerStake.address, 1n);
        const body = beginCell().storeUint(0xffffffff, 32).storeUint(Opcode.ChannelOpen, 32).storeUint(77, 64).storeCoins(toNano('5')).endCell();
        const result = await f.blockchain.sendMessage(internal({ from: channel, to: f.escrow.address, value: toNano('5'), body, bounced: true, bounce: false }));
        expect(result.transactions).toHaveTransaction({ from: channel, to: f.escrow.address, success: true });
        // Less what handling the bounce cost (its gas and the event), which
        // the Escrow's own balance must not pay.
        const handling = Constants.GAS_ESCROW_BOUNCE * 400n + Constants.MSG_FWD_BUDGET;
        expect(await f.escrow.getStrandedValue()).toBe(toNano('5') - handling);
        expect(await f.escrow.getStrandedFor(channel)).toBe(toNano('5') - handling);
        const event = result.externals.find((e) => e.body.beginParse().preloadUint(32) === Opcode.ChannelOpenBounced);
        expect(event).toBeDefined();
        const parsed = loadChannelOpenBounced(event!.body.beginParse());
        expect(parsed.queryId).toBe(77n);
        expect(parsed.channel.equals(channel)).toBe(true);
    });

    it('opens a channel at its deterministic address with the terms in force', async () => {
        const deposit = toNano('10');
        const { channel, result } = await openChannel(f, { nonce: 7n, deposit });
        const expected = await f.escrow.getChannelAddress(f.client.address, f.workerStake.address, 7n);
        expect(channel.address.equals(expected)).toBe(true);
        expect(result.transactions).toHaveTransaction({ from: f.escrow.address, to: channel.address, deploy: true, success: true });
        // The unspent value comes back to the client.
        expect(result.transactions).toHaveTransaction({ from: channel.address, to: f.client.address, op: Opcode.Excesses });
        const s = await channel.getState();
        expect(s.status).toBe(ChannelStatus.Open);
        expect(s.client.equals(f.client.address)).toBe(true);
        expect(s.workerStake.equals(f.workerStake.address)).toBe(true);
        // The payee is the owner the WorkerStake's address derives from.
        expect(s.payee.equals(f.workerOwner.address)).toBe(true);
        expect(s.nonce).toBe(7n);
        expect(s.deposit).toBe(deposit);
        expect(s.paid).toBe(0n);
        expect(s.clientKey).toBe(keyToInt(f.clientKeys.publicKey));
        expect(s.workerKey).toBe(keyToInt(f.workerKeys.publicKey));
        expect(BigInt(s.closeDelay)).toBe(f.params.channelCloseDelay);
        expect(s.feeBps).toBe(f.params.protocolFeeBps);
        expect(s.treasury.equals(f.treasury.address)).toBe(true);
        // Exactly the deposit and the storage reserve stay in the channel.
        expect((await f.blockchain.getContract(channel.address)).balance).toBe(deposit + ExtendedPaymentChannel.STORAGE_RESERVE);
        // The Escrow's own balance did not pay for any of it.
        const escrowBalance = (await f.blockchain.getContract(f.escrow.address)).balance;
        await openChannel(f, { nonce: 8n });
        expect((await f.blockchain.getContract(f.escrow.address)).balance).toBeGreaterThanOrEqual(escrowBalance);
    });

    it('gives every nonce its own channel address', async () => {
        const a = await f.escrow.getChannelAddress(f.client.address, f.workerStake.address, 1n);
        const b = await f.escrow.getChannelAddress(f.client.address, f.workerStake.address, 2n);
        const c = await f.escrow.getChannelAddress(f.stranger.address, f.workerStake.address, 1n);
        expect(a.equals(b)).toBe(false);
        expect(a.equals(c)).toBe(false);
    });

    it('refuses to open before it is configured', async () => {
        const r = await deployRegistry();
        const escrow = r.blockchain.openContract(await ExtendedEscrow.fromInit(r.registry.address));
        await escrow.sendDeploy(r.owner.getSender());
        const result = await escrow.sendOpenChannel(r.stranger.getSender(), {
            workerOwner: r.treasury.address,
            workerKey: 2n,
            nonce: 1n,
            deposit: toNano('1'),
            clientKey: 1n,
        });
        expect(result.transactions).toHaveTransaction({ to: escrow.address, success: false, exitCode: ExitCode.ERR_ESCROW_NOT_CONFIGURED });
        expect(result.transactions).not.toHaveTransaction({ from: escrow.address, deploy: true });
    });

    it('binds the channel to the WorkerStake of the owner and key it names: another owner or key is another worker', async () => {
        const workerKey = keyToInt(f.workerKeys.publicKey);
        const { channel } = await openChannel(f, { nonce: 5n });
        const s = await channel.getState();
        // The channel's worker is the WorkerStake Staking would deploy for (owner, key), and it pays that owner.
        expect(s.workerStake.equals(await f.escrow.getWorkerStakeOf(f.workerOwner.address, workerKey))).toBe(true);
        expect(s.payee.equals(f.workerOwner.address)).toBe(true);
        // Naming someone else as the owner of this worker's key opens a channel to a different WorkerStake (one that
        // does not exist), never one that pays a stranger for this worker's work.
        const { channel: other } = await openChannel(f, { nonce: 5n, workerOwner: f.stranger.address });
        const o = await other.getState();
        expect(o.payee.equals(f.stranger.address)).toBe(true);
        expect(o.workerStake.equals(f.workerStake.address)).toBe(false);
        expect(other.address.equals(channel.address)).toBe(false);
    });

    it('refuses to open while no Staking is linked (it could not tell which worker a channel pays)', async () => {
        const r = await deployRegistry();
        const escrow = r.blockchain.openContract(await ExtendedEscrow.fromInit(r.registry.address));
        await escrow.sendDeploy(r.owner.getSender());
        await linkContracts(r, { escrow: escrow.address });
        expect(await escrow.getIsConfigured()).toBe(true);
        const result = await escrow.sendOpenChannel(r.stranger.getSender(), { workerOwner: r.treasury.address, workerKey: 2n, nonce: 1n, deposit: toNano('1'), clientKey: 1n });
        expect(result.transactions).toHaveTransaction({ to: escrow.address, success: false, exitCode: ExitCode.ERR_ESCROW_NOT_CONFIGURED });
        expect(result.transactions).not.toHaveTransaction({ from: escrow.address, deploy: true });
    });

    it('refuses new channels while the network is paused, and opens again after unpausing', async () => {
        await f.registry.sendPause(f.owner.getSender());
        expect(await f.escrow.getPaused()).toBe(true);
        const result = await f.escrow.sendOpenChannel(f.client.getSender(), openArgs());
        expect(result.transactions).toHaveTransaction({ to: f.escrow.address, success: false, exitCode: ExitCode.ERR_ESCROW_PAUSED });
        // The bounce returns the deposit to the client.
        expect(result.transactions).toHaveTransaction({ from: f.escrow.address, to: f.client.address, inMessageBounced: true });
        await passProposal(f, () => f.registry.sendProposeUnpause(f.owner.getSender()));
        const again = await f.escrow.sendOpenChannel(f.client.getSender(), openArgs());
        expect(again.transactions).toHaveTransaction({ from: f.escrow.address, deploy: true, success: true });
    });

    it('refuses too little value for the deposit and the fees', async () => {
        const deposit = toNano('10');
        const result = await f.escrow.sendOpenChannel(f.client.getSender(), openArgs({ deposit }), 0n, deposit + toNano('0.01'));
        expect(result.transactions).toHaveTransaction({ to: f.escrow.address, success: false, exitCode: ExitCode.ERR_INSUFFICIENT_VALUE });
        expect(result.transactions).not.toHaveTransaction({ from: f.escrow.address, deploy: true });
    });

    it('refuses a zero deposit and zero keys', async () => {
        let result = await f.escrow.sendOpenChannel(f.client.getSender(), openArgs({ deposit: 0n }));
        expect(result.transactions).toHaveTransaction({ to: f.escrow.address, success: false, exitCode: ExitCode.ERR_ESCROW_BAD_DEPOSIT });
        result = await f.escrow.sendOpenChannel(f.client.getSender(), openArgs({ clientKey: 0n }));
        expect(result.transactions).toHaveTransaction({ to: f.escrow.address, success: false, exitCode: ExitCode.ERR_ESCROW_BAD_KEY });
        result = await f.escrow.sendOpenChannel(f.client.getSender(), openArgs({ workerKey: 0n }));
        expect(result.transactions).toHaveTransaction({ to: f.escrow.address, success: false, exitCode: ExitCode.ERR_ESCROW_BAD_KEY });
    });

    it('refuses a malformed OpenChannel body', async () => {
        const body = beginCell().storeUint(Opcode.OpenChannel, 32).storeUint(0, 64).endCell(); // truncated
        const result = await f.client.send({ to: f.escrow.address, value: toNano('1'), body });
        expect(result.transactions).toHaveTransaction({ to: f.escrow.address, success: false, exitCode: 9 });
    });

    it('never reopens a channel: a second open of the same nonce is refunded whole', async () => {
        const { channel } = await openChannel(f, { nonce: 3n, deposit: toNano('10') });
        const before = await f.client.getBalance();
        const result = await f.escrow.sendOpenChannel(f.client.getSender(), openArgs({ nonce: 3n, deposit: toNano('5'), clientKey: 12345n }));
        expect(result.transactions).toHaveTransaction({ from: channel.address, to: f.client.address, op: Opcode.ChannelRefund, success: true });
        const s = await channel.getState();
        expect(s.deposit).toBe(toNano('10'));
        expect(s.clientKey).toBe(keyToInt(f.clientKeys.publicKey));
        // Only fees are lost, never the second deposit.
        expect(before - (await f.client.getBalance())).toBeLessThan(toNano('0.05'));
    });

    it('refuses a ChannelOpen that does not come from the Escrow', async () => {
        const { channel } = await openChannel(f, { nonce: 4n });
        const result = await channel.send(
            f.stranger.getSender(),
            { value: toNano('1') },
            {
                $$type: 'ChannelOpen',
                queryId: 0n,
                deposit: toNano('100'),
                clientKey: 1n,
                workerKey: 1n,
                closeDelay: 0n,
                feeBps: 0n,
                treasury: f.stranger.address,
                payee: f.stranger.address,
            },
        );
        expect(result.transactions).toHaveTransaction({ to: channel.address, success: false, exitCode: ExitCode.ERR_CHANNEL_NOT_ESCROW });
        expect((await channel.getState()).deposit).toBe(toNano('10'));
    });

    it('fixes the terms at open: a later fee change applies only to new channels', async () => {
        const { channel: old } = await openChannel(f, { nonce: 1n });
        await passProposal(f, () =>
            f.registry.sendProposeParams(f.owner.getSender(), {
                ...devnetParams(f.stranger.address),
                protocolFeeBps: 500n,
                channelCloseDelay: 3999n,
            }),
        );
        const { channel: fresh } = await openChannel(f, { nonce: 2n });
        const o = await old.getState();
        const n = await fresh.getState();
        expect(o.feeBps).toBe(f.params.protocolFeeBps);
        expect(o.treasury.equals(f.treasury.address)).toBe(true);
        expect(n.feeBps).toBe(500n);
        expect(n.closeDelay).toBe(3999);
        expect(n.treasury.equals(f.stranger.address)).toBe(true);
    });
});
