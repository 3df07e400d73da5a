import '@ton/test-utils';
import { ExitCode } from '../../wrappers/exitCodes';
import { ExtendedRegistry } from '../../wrappers/Registry';
import { defaultNetworkParams, devnetParams } from '../../wrappers/params';
import { Constants } from '../../wrappers/constants';
import { RegistryFixture, deployRegistry, passProposal } from '../helpers/registry';

/**
 * Property: governance parameters that must be ordered are checked together,
 * at genesis, when proposed and again when executed: a worker can never
 * withdraw before the evidence against it expires (unbondingPeriod >=
 * fraudProofWindow + PRICE_CUT_GRACE), and a worker daemon always has
 * MIN_CHANNEL_CLOSE_DELAY to redeem vouchers before a close takes effect.
 */
describe('paramOrdering', () => {
    let f: RegistryFixture;
    const grace = Constants.PRICE_CUT_GRACE;
    const minClose = Constants.MIN_CHANNEL_CLOSE_DELAY;

    beforeEach(async () => {
        f = await deployRegistry();
    });

    it('the shipped parameter sets respect both orderings', () => {
        for (const p of [defaultNetworkParams(f.treasury.address), devnetParams(f.treasury.address)]) {
            expect(p.unbondingPeriod).toBeGreaterThanOrEqual(p.fraudProofWindow + grace);
            expect(p.channelCloseDelay).toBeGreaterThanOrEqual(minClose);
        }
    });

    it('refuses an unbonding period shorter than the fraud-proof window plus the price-cut grace', async () => {
        const window = f.params.fraudProofWindow;
        const cases = [
            { unbondingPeriod: window + grace - 1n },
            // Lengthening the window alone breaks the ordering too.
            { fraudProofWindow: f.params.unbondingPeriod - grace + 1n },
        ];
        for (const change of cases) {
            const r = await f.registry.sendProposeParams(f.owner.getSender(), { ...f.params, ...change });
            expect(r.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_UNBONDING_TOO_SHORT });
        }
        // The boundary itself is allowed, and applies after the timelock.
        await passProposal(f, () => f.registry.sendProposeParams(f.owner.getSender(), { ...f.params, unbondingPeriod: window + grace }));
        expect((await f.registry.getParams()).unbondingPeriod).toBe(window + grace);
    });

    it('refuses a channel close delay under MIN_CHANNEL_CLOSE_DELAY', async () => {
        const r = await f.registry.sendProposeParams(f.owner.getSender(), { ...f.params, channelCloseDelay: minClose - 1n });
        expect(r.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: ExitCode.ERR_REGISTRY_CLOSE_DELAY_TOO_SHORT });
        await passProposal(f, () => f.registry.sendProposeParams(f.owner.getSender(), { ...f.params, channelCloseDelay: minClose }));
        expect((await f.registry.getParams()).channelCloseDelay).toBe(minClose);
    });

    it('refuses genesis parameters that break either ordering', async () => {
        for (const [change, code] of [
            [{ unbondingPeriod: f.params.fraudProofWindow + grace - 1n }, ExitCode.ERR_REGISTRY_UNBONDING_TOO_SHORT],
            [{ channelCloseDelay: minClose - 1n }, ExitCode.ERR_REGISTRY_CLOSE_DELAY_TOO_SHORT],
        ] as const) {
            const bad = f.blockchain.openContract(await ExtendedRegistry.fromInit(f.owner.address, { ...f.params, ...change }));
            const r = await bad.sendDeploy(f.owner.getSender());
            expect(r.transactions).toHaveTransaction({ to: bad.address, success: false, exitCode: code });
        }
    });
});
