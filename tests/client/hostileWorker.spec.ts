import { testKeys } from '../helpers/channel';
import { MODEL, standInPerTest } from './standIn';

/**
 * A worker that misbehaves in its HTTP answer cannot hold a paid call, or
 * the connection under it: a refusal whose body never comes is given up at
 * the connect timeout, and an answer whose frame does not open is closed at
 * once. Nothing is paid in either case.
 */
describe('a hostile worker cannot hold a call', () => {
    const t = standInPerTest('hostile', { workerKey: testKeys('hostile-worker'), channelKey: testKeys('hostile-client'), connectTimeoutMs: 500, idleTimeoutMs: 500 });

    const settle = () => new Promise((r) => setTimeout(r, 100));

    it('a refusal whose body stalls is given up at the connect timeout, its connection closed', async () => {
        t.si.hostile = 'stall-refusal';
        const t0 = Date.now();
        await expect(t.client.call(t.si.info(), { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 })).rejects.toMatchObject({ status: 502, code: 'worker_refused' });
        expect(Date.now() - t0).toBeLessThan(10_000);
        await settle();
        expect(t.si.hangUps).toBe(1);
        expect(t.store.latestVoucher(t.channel.toString())).toBeUndefined();
    });

    it('an answer whose frame does not open fails the call and closes its connection at once', async () => {
        t.si.hostile = 'garbled-frame';
        await expect(t.client.call(t.si.info(), { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, stream: true })).rejects.toMatchObject({
            status: 502,
            code: 'worker_failed',
        });
        await settle();
        expect(t.si.hangUps).toBe(1);
        expect(t.store.latestVoucher(t.channel.toString())).toBeUndefined();
    });

    it('an answer that stops mid-stream is cut after the idle timeout, its connection closed', async () => {
        t.si.hostile = 'stall-mid-answer';
        const t0 = Date.now();
        await expect(t.client.call(t.si.info(), { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, stream: true })).rejects.toMatchObject({
            status: 502,
            code: 'worker_failed',
        });
        expect(Date.now() - t0).toBeLessThan(10_000);
        await settle();
        expect(t.si.hangUps).toBe(1);
    });
});
