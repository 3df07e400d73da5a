import { Address, toNano } from '@ton/core';
import { SendMessageResult } from '@ton/sandbox';
import '@ton/test-utils';
import { findTransactionRequired } from '@ton/test-utils';
import { ExtendedRegistry } from '../../wrappers/Registry';
import { checkGas } from '../../bench/lib/gas';
import { deployStaking, stake } from '../helpers/staking';
import { initialAttestationPolicy } from '../../scripts/deployNetwork';
import { deployProbe, deployRegistry, linkContracts, passProposal, RegistryFixture } from '../helpers/registry';

const IMAGE = 0xabcdefn << 200n;
const MODEL = 0x123456n << 200n;

/**
 * Measures every Registry operation for bench/gas.json. Operations that push
 * config are measured with all three linked contracts (the worst case).
 */
describe('Registry gas', () => {
    let f: RegistryFixture;

    function measure(name: string, result: SendMessageResult, at: Address = f.registry.address) {
        const tx = findTransactionRequired(result.transactions, { to: at, success: true });
        return checkGas(`Registry.${name}`, tx, result.transactions);
    }

    beforeEach(async () => {
        f = await deployRegistry();
    });

    it('deploy', async () => {
        const fresh = f.blockchain.openContract(await ExtendedRegistry.fromInit(f.stranger.address, f.params));
        measure('deploy', await fresh.sendDeploy(f.stranger.getSender()), fresh.address);
    });

    it('proposals and ownership (no linked contracts)', async () => {
        measure('proposeImage', await f.registry.sendProposeImage(f.owner.getSender(), IMAGE));
        measure('proposeModel', await f.registry.sendProposeModel(f.owner.getSender(), MODEL, 'a-model-name-of-typical-length'));
        measure('proposeParams', await f.registry.sendProposeParams(f.owner.getSender(), { ...f.params, protocolFeeBps: 200n }));
        measure('proposeLinks', await f.registry.sendProposeLinks(f.owner.getSender(), { staking: f.stranger.address, escrow: f.stranger.address, verifier: f.stranger.address }));
        measure('proposeAttestationPolicy', await f.registry.sendProposeAttestationPolicy(f.owner.getSender(), initialAttestationPolicy(true)));
        measure('cancelProposal', await f.registry.sendCancel(f.owner.getSender(), 4n));
        measure('transferOwnership', await f.registry.sendTransferOwnership(f.owner.getSender(), f.stranger.address));
        measure('acceptOwnership', await f.registry.sendAcceptOwnership(f.stranger.getSender()));
    });

    it('pushing operations (three linked contracts)', async () => {
        const probes = [await deployProbe(f, 1n), await deployProbe(f, 2n), await deployProbe(f, 3n)];
        await linkContracts(f, { staking: probes[0].address, escrow: probes[1].address, verifier: probes[2].address });
        await passProposal(f, () => f.registry.sendProposeModel(f.owner.getSender(), MODEL, 'model'));

        await f.registry.sendProposeImage(f.owner.getSender(), IMAGE);
        const id = (await f.registry.getNextProposalId()) - 1n;
        f.blockchain.now! += Number(f.params.timelockDelay);
        measure('executeProposal', await f.registry.sendExecute(f.stranger.getSender(), id));
        measure('revokeImage', await f.registry.sendRevokeImage(f.owner.getSender(), IMAGE));
        measure('revokeModel', await f.registry.sendRevokeModel(f.owner.getSender(), MODEL));
        measure('revokeAttestationKey', await f.registry.sendRevokeAttestationKey(f.owner.getSender(), 0x1234n));
        measure('revokePlatform', await f.registry.sendRevokePlatform(f.owner.getSender(), 0x90c06f000000n));
        measure('pause', await f.registry.sendPause(f.owner.getSender()));
        measure('proposeUnpause', await f.registry.sendProposeUnpause(f.owner.getSender()));
        measure('pushConfig', await f.registry.sendPushConfig(f.stranger.getSender(), 0n));
        expect(await probes[0].getConfigVersion()).toBe(await f.registry.getConfigVersion());
    });

    it('governance slash (real Staking and WorkerStake)', async () => {
        const sf = await deployStaking();
        await stake(sf, toNano('20'));
        const at = (name: string, result: SendMessageResult) =>
            checkGas(`Registry.${name}`, findTransactionRequired(result.transactions, { to: sf.registry.address, success: true }), result.transactions);
        const id = await sf.registry.getNextProposalId();
        at('proposeSlash', await sf.registry.sendProposeSlash(sf.owner.getSender(), { owner: sf.provider.address, workerKey: sf.workerKey, fractionBps: 1000n, reasonHash: 1n }));
        sf.blockchain.now! += Number(sf.params.timelockDelay);
        at('executeSlash', await sf.registry.sendExecute(sf.stranger.getSender(), id, 0n, ExtendedRegistry.SLASH_EXECUTE_VALUE));
    });
});
