import '@ton/test-utils';
import { toNano } from '@ton/core';
import { SandboxNetworkProvider, ScriptedUI } from '../scripts/lib/sandboxProvider';
import { hex256 } from '../helpers/bytes';
import { run as stakeWorker } from '../scripts/stakeWorker';
import { run as updateListing } from '../scripts/updateListing';
import { run as unbondWorker } from '../scripts/unbondWorker';
import { run as withdrawStake } from '../scripts/withdrawStake';
import { run as submitFraudProof } from '../scripts/submitFraudProof';
import { makeSignedReceipt, receiptMaxCost } from '../wrappers/receipt';
import { ExtendedWorkerStake, WorkerStatus } from '../wrappers/WorkerStake';
import { MODEL, OTHER_MODEL, PRICES, StakingFixture, attest, deployStaking } from './helpers/staking';

/** The worker scripts, run as `npx blueprint run` would run them, over the sandbox. */
describe('Staking scripts', () => {
    let f: StakingFixture;
    let ownerProvider: SandboxNetworkProvider;
    let ui: ScriptedUI;
    const prices = `${PRICES.prompt},${PRICES.cached},${PRICES.completion},${PRICES.reasoning}`;

    beforeEach(async () => {
        f = await deployStaking();
        ui = new ScriptedUI();
        ownerProvider = new SandboxNetworkProvider(f.blockchain, f.provider, ui);
    });

    const stakeArgs = (amount: string) => [f.staking.address.toString(), hex256(f.workerKey), amount, hex256(MODEL), 'https://w.example', hex256(0xe1n), prices];

    async function staked(amount = '20') {
        const address = await stakeWorker(ownerProvider, stakeArgs(amount));
        return f.blockchain.openContract(ExtendedWorkerStake.fromAddress(address));
    }

    it('stakeWorker deploys, then tops up', async () => {
        const worker = await staked('20');
        expect(await worker.getStake()).toBe(toNano('20'));
        await stakeWorker(ownerProvider, [f.staking.address.toString(), hex256(f.workerKey), '5']);
        expect(await worker.getStake()).toBe(toNano('25'));
        expect(ui.written.join('\n')).toMatch(/Topping up/);
    });

    it('stakeWorker refuses bad input before sending', async () => {
        const sent = ownerProvider.results.length;
        await expect(stakeWorker(ownerProvider, [...stakeArgs('20').slice(0, 4), 'x'.repeat(128), hex256(1n), prices])).rejects.toThrow(/endpoint/);
        await expect(stakeWorker(ownerProvider, [...stakeArgs('20').slice(0, 6), '1,2,3'])).rejects.toThrow(/prices/);
        await expect(stakeWorker(ownerProvider, stakeArgs('0'))).rejects.toThrow(/positive/);
        expect(ownerProvider.results.length).toBe(sent);
    });

    it('stakeWorker refuses a top-up of an unbonding worker', async () => {
        const worker = await staked();
        await unbondWorker(ownerProvider, [worker.address.toString()]);
        await expect(stakeWorker(ownerProvider, [f.staking.address.toString(), hex256(f.workerKey), '5'])).rejects.toThrow(/unbonding/);
    });

    it('updateListing changes the endpoint and reports a delayed raise', async () => {
        const worker = await staked();
        await updateListing(ownerProvider, [worker.address.toString(), 'https://moved.example', '-']);
        expect((await worker.getListing()).endpoint).toBe('https://moved.example');
        await updateListing(ownerProvider, [worker.address.toString(), '-', `${PRICES.prompt * 2n},${PRICES.cached},${PRICES.completion},${PRICES.reasoning}`]);
        expect(ui.written.join('\n')).toMatch(/after the notice period/);
        expect((await worker.getPricesInForce()).prompt).toBe(PRICES.prompt);
    });

    it('updateListing refuses a stranger and a model change after attestation', async () => {
        const worker = await staked();
        const stranger = new SandboxNetworkProvider(f.blockchain, f.stranger);
        await expect(updateListing(stranger, [worker.address.toString(), 'https://x', '-'])).rejects.toThrow(/does not own/);
        await attest(f, worker.address);
        await expect(updateListing(ownerProvider, [worker.address.toString(), '-', '-', hex256(OTHER_MODEL)])).rejects.toThrow(/fixed by the attestation/);
    });

    it('unbondWorker then withdrawStake after the deadline, once', async () => {
        const worker = await staked();
        const deadline = await unbondWorker(ownerProvider, [worker.address.toString()]);
        await expect(unbondWorker(ownerProvider, [worker.address.toString()])).rejects.toThrow(/not bonded/);
        await expect(withdrawStake(ownerProvider, [worker.address.toString()])).rejects.toThrow(/locked until/);
        f.blockchain.now = deadline;
        expect(await withdrawStake(ownerProvider, [worker.address.toString()])).toBe(toNano('20'));
        expect(Number(await worker.getStatus())).toBe(WorkerStatus.Withdrawn);
        await expect(withdrawStake(ownerProvider, [worker.address.toString()])).rejects.toThrow(/withdrawn/);
    });

    it('submitFraudProof checks the evidence, then slashes and pays the reporter', async () => {
        const worker = await staked();
        await attest(f, worker.address);
        const reporter = new SandboxNetworkProvider(f.blockchain, f.reporter);
        const usage = { prompt: 100n, cached: 0n, completion: 100n, reasoning: 0n };
        const base = {
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
        };
        const ev = (over = {}) =>
            makeSignedReceipt({ ...base, ...over }, f.keys.secretKey)
                .evidence.toBoc()
                .toString('base64');
        const at = worker.address.toString();
        const sent = reporter.results.length;
        await expect(submitFraudProof(reporter, [at, 'overcharge', ev()])).rejects.toThrow(/within the terms/);
        await expect(submitFraudProof(reporter, [at, 'model', ev()])).rejects.toThrow(/own model/);
        await expect(submitFraudProof(reporter, [at, 'equivocation', ev(), ev()])).rejects.toThrow(/identical/);
        const forged = makeSignedReceipt({ ...base, modelId: OTHER_MODEL }, Buffer.alloc(64, 1))
            .evidence.toBoc()
            .toString('base64');
        await expect(submitFraudProof(reporter, [at, 'model', forged])).rejects.toThrow(/not signed/);
        await expect(submitFraudProof(reporter, [at, 'bogus', ev()])).rejects.toThrow(/unknown kind/);
        expect(reporter.results.length).toBe(sent);
        const before = await f.reporter.getBalance();
        const slashed = await submitFraudProof(reporter, [at, 'equivocation', ev(), ev({ responseHash: 3n })]);
        expect(slashed).toBe(toNano('10'));
        expect((await f.reporter.getBalance()) - before).toBeGreaterThan(toNano('1.9'));
        await expect(submitFraudProof(reporter, [at, 'model', ev({ modelId: OTHER_MODEL })])).rejects.toThrow(/jailed/);
    });
});
