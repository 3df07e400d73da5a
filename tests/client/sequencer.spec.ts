import { ChannelSequencer } from '../../client/src/channels/sequencer';

/**
 * Receipts on one channel are judged in the worker's cumulative order. When
 * a gap lies before them (receipts of calls lost to a restart), the call
 * holding the lowest receipt goes first and recovers it; a call holding a
 * later receipt waits for it, because judged first it would not continue
 * the verified total and an honest worker's receipt would be refused.
 */
describe('channel sequencer', () => {
    const CH = 'channel';
    const settle = async () => {
        for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    };

    it('with a gap before both, lets the lower receipt go first and the higher only once it is paid', async () => {
        const s = new ChannelSequencer();
        let verified = 0n;
        const order: string[] = [];
        s.enter(CH, 1, 'h1');
        s.enter(CH, 2, 'h2');
        // The higher receipt arrives first: 300..400, while call 1 still reads its answer.
        s.received(CH, 2, 'r2', 300n);
        const high = s.turn(CH, 2, () => verified).then(() => order.push('high'));
        await settle();
        expect(order).toEqual([]);
        // Call 1's receipt: 200..300. Both hold receipts, the gap 0..200 is nobody's: the lower one goes.
        s.received(CH, 1, 'r1', 200n);
        const low = s.turn(CH, 1, () => verified).then(() => order.push('low'));
        await settle();
        expect(order).toEqual(['low']);
        // It recovers the gap and pays its own receipt: now the higher one continues the verified total.
        verified = 300n;
        s.paid(CH);
        await settle();
        expect(order).toEqual(['low', 'high']);
        await Promise.all([low, high]);
    });

    it('does not hold a call behind a lower one that left without paying; waits for a call with no receipt yet', async () => {
        const s = new ChannelSequencer();
        const order: string[] = [];
        s.enter(CH, 1, 'h1');
        s.enter(CH, 2, 'h2');
        s.enter(CH, 3, 'h3');
        s.received(CH, 2, 'r2', 100n);
        s.received(CH, 3, 'r3', 200n);
        const high = s.turn(CH, 3, () => 0n).then(() => order.push('r3'));
        const mid = s.turn(CH, 2, () => 0n).then(() => order.push('r2'));
        await settle();
        // Call 1 may still bring the receipt before them both.
        expect(order).toEqual([]);
        s.leave(CH, 1);
        await settle();
        expect(order).toEqual(['r2']);
        // r2's call failed and left: r3 is now the lowest and goes (to recover what lies before it).
        s.leave(CH, 2);
        await settle();
        expect(order).toEqual(['r2', 'r3']);
        await Promise.all([mid, high]);
    });
});
