import { Address, beginCell, Cell, toNano } from '@ton/core';
import { BlockchainTransaction, internal } from '@ton/sandbox';
import '@ton/test-utils';
import fc from 'fast-check';
import { storeCancelProposal, storeExecuteProposal, storeProposeImage } from '../wrappers/Registry';
import { deployRegistry, RegistryFixture } from './helpers/registry';

const IMAGES = [0xa1n << 200n, 0xb2n << 200n, 0xc3n << 200n];

type Op = { type: 'propose'; image: number } | { type: 'execute'; id: number; byOwner: boolean } | { type: 'cancel'; id: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ type: fc.constant('propose' as const), image: fc.integer({ min: 0, max: 2 }) }),
    fc.record({ type: fc.constant('execute' as const), id: fc.integer({ min: 1, max: 6 }), byOwner: fc.boolean() }),
    fc.record({ type: fc.constant('cancel' as const), id: fc.integer({ min: 1, max: 6 }) }),
);

// A round: some messages sent at the same moment, whose transactions are
// interleaved in the order `schedule` picks; then the clock moves on.
const roundArb = fc.record({
    ops: fc.array(opArb, { minLength: 1, maxLength: 4 }),
    schedule: fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
    advance: fc.constantFrom(0, 30, 59, 60, 61),
});

function body(op: Op): Cell {
    const b = beginCell();
    if (op.type === 'propose') b.store(storeProposeImage({ $$type: 'ProposeImage', queryId: 0n, imageHash: IMAGES[op.image] }));
    if (op.type === 'execute') b.store(storeExecuteProposal({ $$type: 'ExecuteProposal', queryId: 0n, proposalId: BigInt(op.id) }));
    if (op.type === 'cancel') b.store(storeCancelProposal({ $$type: 'CancelProposal', queryId: 0n, proposalId: BigInt(op.id) }));
    return b.endCell();
}

interface Seen {
    image: bigint;
    executeAfter: number;
}

/**
 * Whatever order governance messages arrive in, and however their
 * transactions interleave, a change takes effect only by executing a queued
 * proposal whose delay has passed, and a cancelled proposal never executes
 * (it is gone from the queue, and execution needs a queued proposal).
 */
describe('Registry timelock under interleaving', () => {
    it('cannot be bypassed by any message order', async () => {
        await fc.assert(
            fc.asyncProperty(fc.array(roundArb, { minLength: 1, maxLength: 5 }), async (rounds) => {
                const f: RegistryFixture = await deployRegistry();
                const seen = new Map<number, Seen>();

                const snapshot = async () => {
                    const proposals = await f.registry.getProposals();
                    const queued = new Map<number, Seen>();
                    for (const [id, p] of proposals) {
                        const image = p.payload.beginParse().loadUintBig(256);
                        queued.set(id, { image, executeAfter: Number(p.executeAfter) });
                    }
                    const allowed = new Set<bigint>();
                    for (const image of IMAGES) if (await f.registry.getImageAllowed(image)) allowed.add(image);
                    return { queued, allowed, version: await f.registry.getConfigVersion() };
                };

                let before = await snapshot();
                for (const round of rounds) {
                    const iterators: AsyncIterator<BlockchainTransaction>[] = [];
                    for (const op of round.ops) {
                        const from: Address = op.type === 'execute' && !op.byOwner ? f.stranger.address : f.owner.address;
                        iterators.push(await f.blockchain.sendMessageIter(internal({ from, to: f.registry.address, value: toNano('0.3'), body: body(op) })));
                    }
                    let step = 0;
                    while (iterators.length > 0) {
                        const pick = round.schedule[step++ % round.schedule.length] % iterators.length;
                        const next = await iterators[pick].next();
                        if (next.done) {
                            iterators.splice(pick, 1);
                            continue;
                        }
                        const after = await snapshot();
                        for (const [id, s] of after.queued) seen.set(id, s);
                        const vanished = [...before.queued.keys()].filter((id) => !after.queued.has(id));
                        const newlyAllowed = [...after.allowed].filter((image) => !before.allowed.has(image));
                        const now = f.blockchain.now!;
                        const executedNow = after.version - before.version;
                        expect(executedNow === 0n || executedNow === 1n).toBe(true);
                        if (executedNow === 1n) {
                            // One proposal executed in this transaction: it was queued, and ripe.
                            expect(vanished).toHaveLength(1);
                            const executed = before.queued.get(vanished[0])!;
                            expect(executed.executeAfter).toBeLessThanOrEqual(now);
                            for (const image of newlyAllowed) expect(image).toBe(executed.image);
                        } else {
                            // Cancellations change no allow-list.
                            expect(newlyAllowed).toHaveLength(0);
                        }
                        before = after;
                    }
                    f.blockchain.now! += round.advance;
                }
                // Nothing became allowed that was never proposed.
                for (const image of before.allowed) {
                    expect([...seen.values()].some((s) => s.image === image)).toBe(true);
                }
            }),
            { numRuns: 25 },
        );
    });
});
