import { mkdtempSync, rmSync, openSync, writeSync, fsyncSync, closeSync } from 'node:fs';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address } from '@ton/core';
import { keyPairFromSeed, sign as naclSign, signVerify as naclVerify } from '@ton/crypto';
import { Aes128Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { generateKeyPair, openRequest, frameFromText, frameToText } from '../helpers/hpke';
import { encodeVoucher, decodeVoucher, requestDigest, responseDigest, sealPaidRequest } from '../protocol/paidRequest';
import { makeSignedReceipt, openSignedReceipt, parseReceipt, verifyReceipt } from '../wrappers/receipt';
import { signVoucher, verifyVoucher } from '../wrappers/voucher';
import { WorkerStore } from '../worker/src/store/store';
import { ClientStore } from '../client/src/store';
import { CHUNKS, CHUNK_BYTES } from './lib/upstream';
import { bytesToUint } from '../helpers/bytes';
import { httpPost } from '../helpers/httpPost';

/**
 * Where the per-request time of a paid request goes: each step the gateway
 * and the worker perform per request, timed alone in this process (median
 * of many runs, in milliseconds). Chain reads are timed against a devnet by
 * chainCost.ts; the end-to-end figure is overhead.ts's.
 */

export type ProfileResult = Record<string, { ms: number; who: string; note: string }>;

async function time(n: number, fn: (i: number) => unknown | Promise<unknown>): Promise<number> {
    for (let i = 0; i < Math.min(20, n); i++) await fn(i);
    const xs: number[] = [];
    for (let i = 0; i < n; i++) {
        const t = performance.now();
        await fn(i);
        xs.push(performance.now() - t);
    }
    xs.sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)];
}

export async function runProfile(n = 200): Promise<ProfileResult> {
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-profile-'));
    const out: ProfileResult = {};
    try {
        const wk = await generateKeyPair();
        const clientKey = keyPairFromSeed(Buffer.alloc(32, 7));
        const workerKey = keyPairFromSeed(Buffer.alloc(32, 9));
        const channel = new Address(0, Buffer.alloc(32, 1));
        const ws = new Address(0, Buffer.alloc(32, 2));
        const voucher = encodeVoucher(signVoucher(channel, 123_456_789n, clientKey.secretKey));
        const paid = {
            version: 1 as const,
            channel: channel.toString(),
            voucher,
            request: { model: 'cocoon-demo', stream: true, max_tokens: 64, messages: [{ role: 'user' as const, content: 'Write about foxes.' }] },
        };

        let sealed = await sealPaidRequest(wk.publicKey, paid as any);
        out.hpkeSeal = {
            ms: await time(n, async () => (sealed = await sealPaidRequest(wk.publicKey, paid as any))),
            who: 'gateway',
            note: 'HPKE sender context + seal of the request (native, helpers/hpkeNative.ts)',
        };
        const envelopes = await Promise.all(Array.from({ length: n + 20 }, () => sealPaidRequest(wk.publicKey, paid as any)));
        out.hpkeOpen = { ms: await time(n, (i) => openRequest(envelopes[i].envelope, wk)), who: 'worker', note: 'HPKE recipient context + open of the request (native)' };

        const chunk = Buffer.from(
            JSON.stringify({ id: 'chatcmpl-x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'x'.repeat(CHUNK_BYTES) }, finish_reason: null }] }),
        );
        // Per request: a fresh HPKE context pair (set up outside the timing), then the frames.
        const pairs = await Promise.all(
            Array.from({ length: Math.min(n, 100) + 20 }, async () => {
                const s = await sealPaidRequest(wk.publicKey, paid as any);
                return { opener: s.response, sealer: (await openRequest(s.envelope, wk)).response };
            }),
        );
        out.frames = {
            ms: await time(Math.min(n, 100), (i) => {
                const { opener, sealer } = pairs[i];
                for (let k = 0; k < CHUNKS; k++) opener.open(frameFromText(frameToText(sealer.data(chunk))));
            }),
            who: 'both',
            note: `${CHUNKS} response frames sealed (AES-GCM), base64, opened`,
        };
        out.voucherVerify = {
            ms: await time(n, () => {
                const v = decodeVoucher(voucher);
                return verifyVoucher(channel, v.total, v.signature, clientKey.publicKey);
            }),
            who: 'worker',
            note: 'decode + Ed25519 verify of the request voucher',
        };
        const fields = {
            workerStake: ws,
            channel,
            requestId: 1n,
            modelId: 5n,
            usage: { prompt: 24n, cached: 0n, completion: 50n, reasoning: 0n },
            cost: 12_400n,
            cumulativeCost: 12_400n,
            time: 1_700_000_000n,
            requestHash: bytesToUint(requestDigest(sealed.plaintext)),
            responseHash: BigInt('0x' + responseDigest('x'.repeat(6400), '').toString('hex')),
        };
        let evidence = makeSignedReceipt(fields, workerKey.secretKey).evidence;
        out.receiptSign = { ms: await time(n, () => (evidence = makeSignedReceipt(fields, workerKey.secretKey).evidence)), who: 'worker', note: 'receipt cell + Ed25519 signature + BoC' };
        out.receiptVerify = {
            ms: await time(n, () => {
                const o = openSignedReceipt(evidence);
                parseReceipt(o.receipt);
                return verifyReceipt(o.receipt, o.signature, workerKey.publicKey);
            }),
            who: 'gateway',
            note: 'receipt BoC parse + Ed25519 verify',
        };
        // The previous implementations, for the before/after comparison:
        // tweetnacl (@ton/crypto) Ed25519, and an X25519 key import per request.
        const msg = Buffer.alloc(32, 3);
        const naclSig = naclSign(msg, workerKey.secretKey);
        out.ed25519SignTweetnacl = {
            ms: await time(Math.min(n, 50), () => naclSign(msg, workerKey.secretKey)),
            who: 'before',
            note: 'Ed25519 sign in JavaScript (@ton/crypto), as receipts and vouchers were signed before',
        };
        out.ed25519VerifyTweetnacl = {
            ms: await time(Math.min(n, 50), () => naclVerify(msg, naclSig, workerKey.publicKey)),
            who: 'before',
            note: 'Ed25519 verify in JavaScript (@ton/crypto), as receipts and vouchers were verified before',
        };
        const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes128Gcm() });
        const ab = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
        const info = ab(Buffer.from('cocoon/hpke/v1 request'));
        const label = ab(Buffer.from('cocoon/hpke/v1 response'));
        const aad = ab(Buffer.alloc(10));
        let last: { enc: ArrayBuffer; ct: ArrayBuffer } = { enc: new ArrayBuffer(0), ct: new ArrayBuffer(0) };
        out.hpkeSealHpkeCore = {
            ms: await time(Math.min(n, 100), async () => {
                const ctx = await suite.createSenderContext({ recipientPublicKey: await suite.kem.deserializePublicKey(ab(wk.publicKey)), info });
                last = { enc: ctx.enc, ct: await ctx.seal(ab(sealed.plaintext), aad) };
                await ctx.export(label, 28);
            }),
            who: 'before',
            note: 'the same seal with @hpke/core over WebCrypto and a key import per request, as helpers/hpke.ts did before',
        };
        out.hpkeOpenHpkeCore = {
            ms: await time(Math.min(n, 100), async () => {
                const ctx = await suite.createRecipientContext({ recipientKey: await suite.kem.deserializePrivateKey(ab(wk.privateKey)), enc: last.enc, info });
                await ctx.open(last.ct, aad);
                await ctx.export(label, 28);
            }),
            who: 'before',
            note: 'the same open with @hpke/core, as helpers/hpke.ts did before',
        };
        out.voucherSign = { ms: await time(n, () => signVoucher(channel, 1n, clientKey.secretKey)), who: 'gateway', note: 'Ed25519 signature of the next voucher' };
        out.digests = { ms: await time(n, () => (requestDigest(sealed.plaintext), responseDigest('x'.repeat(CHUNKS * CHUNK_BYTES), ''))), who: 'both', note: 'request and response hashes' };

        // A streamed answer read over loopback HTTP, the server (node:http, in this process) included:
        // the worker reads its upstream and the gateway reads the worker this way.
        const sse = Buffer.from(`data: ${chunk.toString()}\n\n`);
        const server = createServer((req, res) => {
            req.resume();
            req.on('end', () => {
                res.writeHead(200, { 'content-type': 'text/event-stream' });
                for (let k = 0; k < CHUNKS; k++) res.write(sse);
                res.end('data: [DONE]\n\n');
            });
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
        const requestBody = JSON.stringify(paid.request);
        try {
            out.streamedAnswer = {
                ms: await time(Math.min(n, 100), async () => {
                    const a = await httpPost(url, { headers: { 'content-type': 'application/json' }, body: requestBody });
                    while ((await a.read()) !== null);
                }),
                who: 'both',
                note: `a POST and its streamed answer of ${CHUNKS} chunks over loopback, read with helpers/httpPost.ts (node:http), the server's work included`,
            };
            out.streamedAnswerFetch = {
                ms: await time(Math.min(n, 100), async () => {
                    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: requestBody });
                    const reader = res.body!.getReader();
                    while (!(await reader.read()).done);
                }),
                who: 'before',
                note: 'the same answer read with fetch, as the worker and the gateway did before',
            };
        } finally {
            server.closeAllConnections();
            await new Promise((r) => server.close(r));
        }

        // The ledger writes of a request, as the daemons make them (SQLite in WAL mode).
        const wstore = WorkerStore.open(join(dir, 'worker.db'));
        const key = channel.toString();
        let total = 1n;
        out.storeVoucher = {
            ms: await time(n, () => wstore.recordVoucher({ channel: key, total: total++, signature: Buffer.alloc(64, 1), receivedAt: 1 }, 'process')),
            who: 'worker',
            note: "the request's voucher recorded before serving, without an fsync of its own (the receipt's commit makes it durable)",
        };
        let cum = 0n;
        let rid = 1n;
        out.storeReceipt = {
            ms: await time(n, () => {
                cum += 10n;
                return wstore.appendReceipt(
                    {
                        channel: key,
                        requestId: (rid++).toString(),
                        boc: evidence.toBoc(),
                        modelId: '05'.padStart(64, '0'),
                        promptTokens: 24,
                        cachedTokens: 0,
                        completionTokens: 50,
                        reasoningTokens: 0,
                        cost: 10n,
                        cumulative: cum,
                        createdAt: 1,
                        requestHash: '00'.repeat(32),
                        responseHash: '00'.repeat(32),
                    },
                    { channel: key, total: total++, signature: Buffer.alloc(64, 1), receivedAt: 1 },
                );
            }),
            who: 'worker',
            note: "receipt + voucher in one fsync'd transaction before the final frame",
        };
        wstore.close();
        const cstore = ClientStore.open(join(dir, 'client.db'));
        cstore.addChannel({ address: key, workerStake: ws.toString(), nonce: 1n, deposit: 10n ** 12n });
        let ccum = 0n;
        let crid = 1;
        out.clientStorePayment = {
            ms: await time(n, () => {
                ccum += 10n;
                cstore.recordPayment({ channel: key, requestId: String(crid++), boc: 'x', cost: 10n, cumulative: ccum, model: 'm', receivedAt: 1 }, { total: ccum, signature: Buffer.alloc(64, 2) });
            }),
            who: 'gateway',
            note: "verified receipt + signed voucher in one fsync'd transaction",
        };
        cstore.close();
        const fd = openSync(join(dir, 'raw'), 'w');
        out.rawFsync = {
            ms: await time(Math.min(n, 100), () => {
                writeSync(fd, Buffer.alloc(4096, 1));
                fsyncSync(fd);
            }),
            who: 'disk',
            note: 'one 4 KiB write + fsync on this disk (the floor of every durable commit)',
        };
        closeSync(fd);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
    return out;
}

if (require.main === module) {
    void runProfile(Number(process.env.BENCH_PROFILE_N ?? 200)).then((r) => {
        for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(20)} ${v.ms.toFixed(3).padStart(8)} ms  ${v.who.padEnd(8)} ${v.note}`);
    });
}
