import '@ton/test-utils';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Address, Cell, toNano } from '@ton/core';
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { sign } from '@ton/crypto';
import { RECEIPTS_QUERY_MAX_SKEW_SEC, RECEIPTS_SIGNATURE_HEADER, RECEIPTS_TIMESTAMP_HEADER, receiptsQueryDigest, requestDigest } from '../../protocol/paidRequest';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { openSignedReceipt, parseReceipt, verifyReceipt } from '../../wrappers/receipt';
import type { Worker } from '../../worker/src/worker';
import { openChannel, testKeys } from '../helpers/channel';
import { ServingFixture, deployServing } from '../helpers/serving';
import { Upstream, callWorker, chatBody, startSandboxWorker, startUpstream } from './helpers';

jest.setTimeout(60_000);

const PRICES = { prompt: 1_000_000_000_000n, cached: 400_000_000_000n, completion: 2_000_000_000_000n, reasoning: 3_000_000_000_000n };

/**
 * Receipt recovery on the worker: `GET /v1/channels/:channel/receipts`
 * returns the stored receipts above a cumulative cost, to the channel's
 * client only (signed query), and refuses bad input with a clear 4xx.
 */
describe('worker receipts endpoint (sandbox chain)', () => {
    let f: ServingFixture;
    let channel: SandboxContract<ExtendedPaymentChannel>;
    let operator: SandboxContract<TreasuryContract>;
    let upstream: Upstream;
    let worker: Worker;
    let encKey: Buffer;
    let dir: string;
    const hashes: string[] = [];

    beforeAll(async () => {
        f = await deployServing({ prices: PRICES });
        ({ channel } = await openChannel(f, { nonce: 7n, deposit: toNano('10') }));
        operator = await f.blockchain.treasury('operator');
        upstream = await startUpstream();
        dir = mkdtempSync(join(tmpdir(), 'cocoon-worker-receipts-'));
        ({ worker, encryptionKey: encKey } = await startSandboxWorker({
            blockchain: f.blockchain,
            operator,
            workerStake: f.workerStake.address,
            workerKeys: f.workerKeys,
            backend: { kind: 'openai', baseUrl: upstream.url, modelMap: { 'cocoon-demo': 'llama-3-8b' } },
            prices: PRICES,
            dir,
            overrides: { payments: { claimThreshold: '1000000000000', watchIntervalMs: 3_600_000, creditLimit: '1000000000000' } },
        }));
        // Three served requests: three stored receipts (no voucher needed under a credit limit of 1,000 TON).
        for (let i = 0; i < 3; i++) {
            const r = await callWorker(worker.url, encKey, { version: 1, channel: channel.address.toString(), request: chatBody({ stream: i === 1 }) });
            expect(r.status).toBe(200);
            hashes.push(requestDigest(r.plaintext).toString('hex'));
        }
    });

    afterAll(async () => {
        await worker?.stop();
        await upstream?.close();
        rmSync(dir, { recursive: true, force: true });
    });

    function signed(after: bigint, opts: { key?: Buffer; timestamp?: number; signedAfter?: bigint; signedChannel?: Address } = {}) {
        const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
        const digest = receiptsQueryDigest(opts.signedChannel ?? channel.address, opts.signedAfter ?? after, timestamp);
        return { [RECEIPTS_TIMESTAMP_HEADER]: String(timestamp), [RECEIPTS_SIGNATURE_HEADER]: sign(digest, opts.key ?? f.clientKeys.secretKey).toString('hex') };
    }
    const query = (after: string, headers: Record<string, string>, ch = channel.address.toString()) =>
        fetch(`${worker.url}/v1/channels/${encodeURIComponent(ch)}/receipts?after=${after}`, { headers });

    it("returns the stored receipts above `after`, in order, signed by the worker's key, naming each request", async () => {
        const all = (await (await query('0', signed(0n))).json()) as any;
        expect(all.more).toBe(false);
        expect(all.receipts).toHaveLength(3);
        const stored = worker.store.receiptsOf(channel.address.toString());
        let prev = 0n;
        all.receipts.forEach((wire: any, i: number) => {
            const { receipt, signature } = openSignedReceipt(Cell.fromBase64(wire.boc));
            expect(verifyReceipt(receipt, signature, f.workerKeys.publicKey)).toBe(true);
            const fields = parseReceipt(receipt);
            expect(fields.cumulativeCost).toBe(prev + fields.cost);
            expect(wire.cumulativeCost).toBe(fields.cumulativeCost.toString());
            expect(fields.requestHash.toString(16).padStart(64, '0')).toBe(hashes[i]);
            expect(wire.boc).toBe(stored[i].boc.toString('base64'));
            prev = fields.cumulativeCost;
        });
        const first = BigInt(all.receipts[0].cumulativeCost);
        const rest = (await (await query(first.toString(), signed(first))).json()) as any;
        expect(rest.receipts.map((r: any) => r.requestId)).toEqual(all.receipts.slice(1).map((r: any) => r.requestId));
        const none = (await (await query(prev.toString(), signed(prev))).json()) as any;
        expect(none.receipts).toEqual([]);
    });

    const refusals: Array<[string, () => Promise<Response>, number, RegExp]> = [
        ['no signature headers', () => query('0', {}), 401, /x-cocoon-timestamp/],
        ['a signature by another key', () => query('0', signed(0n, { key: testKeys('intruder').secretKey })), 401, /client key/],
        ['a signature over another `after` (a replayed query)', () => query('5', signed(0n, { signedAfter: 0n })), 401, /client key/],
        ['a signature for another channel', () => query('0', signed(0n, { signedChannel: new Address(0, randomBytes(32)) })), 401, /client key/],
        ['a stale timestamp', () => query('0', signed(0n, { timestamp: Math.floor(Date.now() / 1000) - RECEIPTS_QUERY_MAX_SKEW_SEC - 60 })), 401, /clock/],
        ['a malformed signature', () => query('0', { [RECEIPTS_TIMESTAMP_HEADER]: String(Math.floor(Date.now() / 1000)), [RECEIPTS_SIGNATURE_HEADER]: 'zz' }), 401, /hex Ed25519/],
        ['a negative `after`', () => query('-1', signed(0n)), 400, /after/],
        ['a non-numeric `after`', () => query('lots', signed(0n)), 400, /after/],
        ['a channel that is not an address', () => query('0', signed(0n), 'not-an-address'), 400, /channel/],
        ['a channel nobody deployed', () => query('0', signed(0n), new Address(0, randomBytes(32)).toString()), 404, /no payment channel/],
    ];

    it.each(refusals)('refuses %s with a clear 4xx and leaks no receipt', async (_name, send, status, message) => {
        const res = await send();
        expect(res.status).toBe(status);
        const body = (await res.json()) as any;
        expect(body.receipts).toBeUndefined();
        expect(body.error.message).toMatch(message);
    });
});
