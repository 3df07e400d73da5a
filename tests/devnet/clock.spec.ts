import { ChainClock } from '../../devnet/chain';

describe('devnet: chain clock', () => {
    it('follows the wall clock scaled, moves forward on demand and never goes back', async () => {
        const start = 1_800_000_000;
        const clock = new ChainClock(start, 20); // 20 chain seconds per wall second
        expect(clock.now()).toBeGreaterThanOrEqual(start);
        await new Promise((r) => setTimeout(r, 300));
        const later = clock.now();
        expect(later).toBeGreaterThanOrEqual(start + 5); // 0.3 s x 20
        expect(later).toBeLessThan(start + 60);
        expect(clock.advance(3600)).toBeGreaterThanOrEqual(later + 3600);
        const a = clock.now();
        expect(clock.now()).toBeGreaterThanOrEqual(a);
    });
});
