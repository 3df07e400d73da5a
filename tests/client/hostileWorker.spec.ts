import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Address } from '@ton/core';
import { CocoonClient } from '../../client/src/client';
import { ClientStore } from '../../client/src/store';
import { testKeys } from '../helpers/channel';
import { MODEL, StandIn, clientWithChannel } from './standIn';

/**
 * A worker that misbehaves in its HTTP answer cannot hold a paid call, or
 * the connection under it: a refusal whose body never comes is given up at
 * the connect timeout, and an answer whose frame does not open is closed at
 * once. Nothing is paid in either case.
 */
describe('a hostile worker cannot hold a call', () => {
    const workerKey = testKeys('hostile-worker');
    const channelKey = testKeys('hostile-client');
    let si: StandIn;
    let dir: string;
    let channel: Address;
    let store: ClientStore;
    let client: CocoonClient;

    beforeAll(async () => {
        si = await new StandIn({ workerKey, channelKey }).start();
        dir = await fs.mkdtemp(join(tmpdir(), 'cocoon-client-hostile-'));
    });
    beforeEach(() => {
        si.reset();
        channel = new Address(0, randomBytes(32));
        ({ client, store } = clientWithChannel({
            dbPath: join(dir, `${channel.hash.toString('hex').slice(0, 8)}.db`),
            channel,
            workerStake: si.workerStake,
            channelKey,
            connectTimeoutMs: 500,
            idleTimeoutMs: 500,
        }));
    });
    afterEach(() => store.close());
    afterAll(async () => {
        await si.close();
        await fs.rm(dir, { recursive: true, force: true });
    });

    const settle = () => new Promise((r) => setTimeout(r, 100));

    it('a refusal whose body stalls is given up at the connect timeout, its connection closed', async () => {
        si.hostile = 'stall-refusal';
        const t0 = Date.now();
        await expect(client.call(si.info(), { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 })).rejects.toMatchObject({ status: 502, code: 'worker_refused' });
        expect(Date.now() - t0).toBeLessThan(10_000);
        await settle();
        expect(si.hangUps).toBe(1);
        expect(store.latestVoucher(channel.toString())).toBeUndefined();
    });

    it('an answer whose frame does not open fails the call and closes its connection at once', async () => {
        si.hostile = 'garbled-frame';
        await expect(client.call(si.info(), { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, stream: true })).rejects.toMatchObject({ status: 502, code: 'worker_failed' });
        await settle();
        expect(si.hangUps).toBe(1);
        expect(store.latestVoucher(channel.toString())).toBeUndefined();
    });

    it('an answer that stops mid-stream is cut after the idle timeout, its connection closed', async () => {
        si.hostile = 'stall-mid-answer';
        const t0 = Date.now();
        await expect(client.call(si.info(), { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, stream: true })).rejects.toMatchObject({ status: 502, code: 'worker_failed' });
        expect(Date.now() - t0).toBeLessThan(10_000);
        await settle();
        expect(si.hangUps).toBe(1);
    });
});
