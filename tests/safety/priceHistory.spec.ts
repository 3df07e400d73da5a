import '@ton/test-utils';
import { toNano } from '@ton/core';
import { BlockchainSnapshot, SandboxContract, TreasuryContract } from '@ton/sandbox';
import fc from 'fast-check';
import { ExitCode } from '../../wrappers/exitCodes';
import { ExtendedWorkerStake } from '../../wrappers/WorkerStake';
import { Prices, chargeableTerms, makeSignedReceipt, receiptMaxCost } from '../../wrappers/receipt';
import { keyToInt } from '../../wrappers/voucher';
import { ServingFixture, deployServing } from '../helpers/serving';
import { passProposal } from '../helpers/registry';

/**
 * Property 2 of the money-safety rules (the WorkerStake's part): no
 * governance parameter change makes an old, fair receipt provable. And the
 * TypeScript twin of the rule receipts are judged by agrees with the chain.
 */

const P_HIGH: Prices = { prompt: 4_000_000_000n, cached: 1_000_000_000n, completion: 8_000_000_000n, reasoning: 8_000_000_000n };
const scaled = (p: Prices, pct: bigint): Prices => ({
    prompt: (p.prompt * pct) / 100n,
    cached: (p.cached * pct) / 100n,
    completion: (p.completion * pct) / 100n,
    reasoning: (p.reasoning * pct) / 100n,
});
const USAGE = { prompt: 1000n, cached: 0n, completion: 1000n, reasoning: 0n };

function exitOf(r: { transactions: any[] }, to: SandboxContract<ExtendedWorkerStake>): number {
    const tx = r.transactions.find((t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.dest.equals(to.address));
    const d = tx?.description;
    if (d?.type !== 'generic' || d.computePhase.type !== 'vm') throw new Error('no compute phase');
    return d.computePhase.exitCode;
}

describe('price history and parameter changes', () => {
    let f: ServingFixture;
    let ws: SandboxContract<ExtendedWorkerStake>;
    let reporter: SandboxContract<TreasuryContract>;
    let start: BlockchainSnapshot;

    beforeAll(async () => {
        f = await deployServing({ prices: P_HIGH });
        ws = f.workerStake;
        reporter = await f.blockchain.treasury('reporter', { balance: toNano('1000') });
        start = f.blockchain.snapshot();
    });

    const setPrices = async (prices: Prices) => {
        const l = await ws.getListing();
        return ws.sendUpdateListing(f.operator.getSender(), { modelId: l.modelId, endpoint: l.endpoint, encryptionKey: l.encryptionKey, prices });
    };
    const receiptAt = (time: number, cost: bigint, requestId = 1n) =>
        makeSignedReceipt(
            { workerStake: ws.address, channel: f.escrow.address, requestId, modelId: f.modelId, usage: USAGE, cost, cumulativeCost: cost, time: BigInt(time), requestHash: 1n, responseHash: 2n },
            f.workerKeys.secretKey,
        ).evidence;

    it('the chargeable terms of the TypeScript twin agree with the WorkerStake', async () => {
        await fc.assert(
            fc.asyncProperty(
                fc.array(fc.record({ wait: fc.integer({ min: 0, max: 1500 }), pct: fc.integer({ min: 20, max: 250 }) }), { minLength: 1, maxLength: 6 }),
                fc.array(fc.integer({ min: -2000, max: 2000 }), { minLength: 1, maxLength: 5 }),
                async (changes, offsets) => {
                    await f.blockchain.loadFrom(start);
                    for (const c of changes) {
                        f.blockchain.now = f.blockchain.now! + c.wait;
                        await setPrices(scaled(P_HIGH, BigInt(c.pct)));
                    }
                    const schedule = await ws.getPriceSchedule();
                    for (const o of offsets) {
                        const t = f.blockchain.now! + o;
                        const chain = await ws.getChargeableAt(BigInt(t));
                        expect(chargeableTerms(schedule, t)).toEqual({ prompt: chain.prompt, cached: chain.cached, completion: chain.completion, reasoning: chain.reasoning });
                    }
                },
            ),
            { numRuns: 12 },
        );
    });

    it('a longer fraud-proof window never judges a receipt by terms that replaced pruned ones', async () => {
        await f.blockchain.loadFrom(start);
        const day = Number(f.params.fraudProofWindow);
        const grace = Number(await ws.getPriceCutGrace());
        // The worker charges P_HIGH at first, then cuts twice.
        f.blockchain.now = f.blockchain.now! + 10;
        const honestAt = f.blockchain.now! + 500;
        const honest = receiptAt(honestAt, receiptMaxCost(P_HIGH, USAGE));
        f.blockchain.now = honestAt + grace + 100;
        await setPrices(scaled(P_HIGH, 50n));
        // Long after, past the window and the grace: this change prunes the terms the honest receipt was charged at.
        f.blockchain.now = f.blockchain.now! + day + grace + 100;
        await setPrices(scaled(P_HIGH, 20n));
        const since = Number(await ws.getHistorySince());
        expect(since).toBeGreaterThan(honestAt - grace);
        // Governance doubles the window (the unbonding period follows: the Registry orders them).
        const longer = { ...f.params, fraudProofWindow: f.params.fraudProofWindow * 10n, unbondingPeriod: f.params.fraudProofWindow * 10n + BigInt(grace) + 3600n };
        await passProposal(f, () => f.registry.sendProposeParams(f.owner.getSender(), longer));
        await f.staking.sendSyncWorkerConfig(reporter.getSender(), f.operator.address, keyToInt(f.workerKeys.publicKey));
        // The honest receipt is inside the new window, but its terms are gone: the proof is refused by name...
        const r = await ws.sendProveOvercharge(reporter.getSender(), honest);
        expect(exitOf(r, ws)).toBe(ExitCode.ERR_WS_HISTORY_PRUNED);
        expect((await ws.getState()).slashes).toBe(0n);
        // ...where the history still answers, an overcharge is still slashed.
        const cheat = receiptAt(f.blockchain.now!, receiptMaxCost(P_HIGH, USAGE), 2n);
        const slashed = await ws.sendProveOvercharge(reporter.getSender(), cheat);
        expect(exitOf(slashed, ws)).toBe(0);
        expect((await ws.getState()).slashes).toBe(1n);
    });

    it('a receipt the grace covers stands; one past the grace at the replaced terms is an overcharge', async () => {
        await f.blockchain.loadFrom(start);
        const grace = Number(await ws.getPriceCutGrace());
        f.blockchain.now = f.blockchain.now! + 10;
        await setPrices(scaled(P_HIGH, 50n));
        const cutAt = f.blockchain.now!;
        const inGrace = await ws.sendProveOvercharge(reporter.getSender(), receiptAt(cutAt + grace - 1, receiptMaxCost(P_HIGH, USAGE)));
        expect(exitOf(inGrace, ws)).toBe(ExitCode.ERR_WS_COST_WITHIN_TERMS);
        f.blockchain.now = cutAt + grace + 5;
        const pastGrace = await ws.sendProveOvercharge(reporter.getSender(), receiptAt(cutAt + grace + 1, receiptMaxCost(P_HIGH, USAGE), 3n));
        expect(exitOf(pastGrace, ws)).toBe(0);
        expect((await ws.getState()).slashes).toBe(1n);
    });
});
