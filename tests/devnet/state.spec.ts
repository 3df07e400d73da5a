import { SendMode, internal, toNano } from '@ton/core';
import { TonClient } from '@ton/ton';
import { spawn } from 'child_process';
import { promises as fs } from 'fs';
import { createServer } from 'net';
import * as os from 'os';
import * as path from 'path';
import { RunningDevnet, startDevnet } from '../../devnet/server';
import { decodeStateFile, encodeStateFile, loadStateFile, saveStateFile } from '../../devnet/state';
import { DEVNET_MNEMONIC } from '../../wrappers/devnet';
import { pollUntil } from '../../helpers/poll';
import { devWallets, post, randomAddress } from './util';

async function transfer(devnet: RunningDevnet, to: ReturnType<typeof randomAddress>, ton: string) {
    const client = new TonClient({ endpoint: devnet.endpoint });
    const { v4, keyPair } = await devWallets(client);
    const seqno = await v4.getSeqno();
    await v4.sendTransfer({ seqno, secretKey: keyPair.secretKey, sendMode: SendMode.PAY_GAS_SEPARATELY, messages: [internal({ to, value: toNano(ton), bounce: false })] });
    await pollUntil(
        'seqno',
        () => v4.getSeqno(),
        (s) => s === seqno + 1,
    );
    return { client, v4 };
}

describe('devnet: state files', () => {
    let dir: string;
    beforeEach(async () => {
        dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cocoon-devnet-'));
    });
    afterEach(async () => {
        await fs.rm(dir, { recursive: true, force: true });
    });

    it('detects truncation and corruption, and falls back to the previous snapshot', async () => {
        const encoded = encodeStateFile('{"hello":"world"}');
        expect(decodeStateFile(encoded)).toEqual({ payload: '{"hello":"world"}' });
        expect(decodeStateFile(encoded.subarray(0, encoded.length - 3))).toMatchObject({ problem: expect.stringMatching(/truncated/) });
        expect(decodeStateFile(encoded.subarray(0, 10))).toMatchObject({ problem: expect.any(String) });
        const flipped = Buffer.from(encoded);
        flipped[flipped.length - 2] ^= 1;
        expect(decodeStateFile(flipped)).toEqual({ problem: 'checksum mismatch' });

        const file = path.join(dir, 's.json');
        expect(await loadStateFile(file)).toBeUndefined();
        await saveStateFile(file, 'one');
        await saveStateFile(file, 'two');
        expect(await loadStateFile(file)).toEqual({ payload: 'two', source: 'main' });
        await fs.truncate(file, 20);
        expect(await loadStateFile(file)).toMatchObject({ payload: 'one', source: 'prev' });
        // The torn file is kept aside, never rotated over the good backup.
        expect((await fs.readdir(dir)).some((f) => f.startsWith('s.json.corrupt-'))).toBe(true);
        await saveStateFile(file, 'three');
        expect(await loadStateFile(`${file}`)).toEqual({ payload: 'three', source: 'main' });
        expect(decodeStateFile(await fs.readFile(`${file}.prev`))).toEqual({ payload: 'one' });

        await fs.writeFile(file, 'garbage');
        await fs.writeFile(`${file}.prev`, 'garbage');
        await expect(loadStateFile(file)).rejects.toThrow(/\.prev/);
    });

    it('keeps the chain across a restart: balances, seqno, transactions, blocks and time', async () => {
        const state = path.join(dir, 'chain.json');
        const dest = randomAddress(21);
        let devnet = await startDevnet({ port: 0, logLevel: 'silent', state });
        const { client, v4 } = await transfer(devnet, dest, '2');
        await post(`${devnet.url}/admin/faucet`, { address: dest.toString(), amount: '1' });
        const advancedTo = (await post(`${devnet.url}/admin/advance-time`, { seconds: 86_400 })).body.result.now as number;
        const txsBefore = await client.getTransactions(v4.address, { limit: 10 });
        const destBefore = await client.getTransactions(dest, { limit: 10 });
        const blocksBefore = (await client.getMasterchainInfo()).latestSeqno;
        // 2 + 1 TON, less the storage fee the faucet's transaction took for the seconds between the two.
        const destBalanceBefore = await client.getBalance(dest);
        expect(destBalanceBefore).toBeLessThanOrEqual(toNano('3'));
        expect(destBalanceBefore).toBeGreaterThan(toNano('2.999'));
        await devnet.close();

        devnet = await startDevnet({ port: 0, logLevel: 'silent', state });
        try {
            const again = new TonClient({ endpoint: devnet.endpoint });
            const wallets = await devWallets(again);
            expect(await wallets.v4.getSeqno()).toBe(1);
            expect(await again.getBalance(dest)).toBe(destBalanceBefore);
            const txsAfter = await again.getTransactions(v4.address, { limit: 10 });
            expect(txsAfter.map((t) => t.hash().toString('hex'))).toEqual(txsBefore.map((t) => t.hash().toString('hex')));
            // Hashes clients saw before the restart still page (internal, child transactions included).
            const destAfter = await again.getTransactions(dest, { limit: 10 });
            expect(destAfter.map((t) => t.hash().toString('hex'))).toEqual(destBefore.map((t) => t.hash().toString('hex')));
            expect(destAfter).toHaveLength(2);
            expect((await again.getMasterchainInfo()).latestSeqno).toBe(blocksBefore);
            // Chain time does not go back to the wall clock after a restart.
            expect(devnet.chain.now()).toBeGreaterThanOrEqual(advancedTo);

            const next = await transfer(devnet, dest, '1');
            // 3 + 1 TON, less the storage fee of the (uninitialized) account over the skipped day.
            const balance = await next.client.getBalance(dest);
            expect(balance).toBeLessThanOrEqual(toNano('4'));
            expect(balance).toBeGreaterThan(toNano('3.999'));
            const newest = await again.getTransactions(v4.address, { limit: 1 });
            expect(newest[0].lt).toBeGreaterThan(txsBefore[0].lt);
        } finally {
            await devnet.close();
        }
    });

    it('recovers from a truncated state file to the previous snapshot', async () => {
        const state = path.join(dir, 'chain.json');
        const a = randomAddress(22);
        const b = randomAddress(23);
        // No background saves: the test decides which snapshots exist.
        let devnet = await startDevnet({ port: 0, logLevel: 'silent', state, saveDebounce: 60_000 });
        await transfer(devnet, a, '1');
        await devnet.chain.save(); // <state> = after A
        await transfer(devnet, b, '1');
        await devnet.close(); // <state> = after B, <state>.prev = after A

        const full = await fs.stat(state);
        await fs.truncate(state, Math.floor(full.size / 2)); // a torn write

        devnet = await startDevnet({ port: 0, logLevel: 'silent', state });
        try {
            const client = new TonClient({ endpoint: devnet.endpoint });
            expect(await client.getBalance(a)).toBe(toNano('1'));
            expect(await client.getBalance(b)).toBe(0n);
            expect(await (await devWallets(client)).v4.getSeqno()).toBe(1);
        } finally {
            await devnet.close();
        }
        // Both copies unusable: refuse to start rather than silently start empty.
        await fs.writeFile(state, 'x');
        await fs.writeFile(`${state}.prev`, 'y');
        await expect(startDevnet({ port: 0, logLevel: 'silent', state })).rejects.toThrow(/unsupported|header|truncated|not a/);
    });

    it('cocoon-devnet: the bin serves until SIGINT, then saves and exits 0', async () => {
        const port = await new Promise<number>((resolve) => {
            const s = createServer().listen(0, '127.0.0.1', () => {
                const p = (s.address() as { port: number }).port;
                s.close(() => resolve(p));
            });
        });
        const state = path.join(dir, 'cli.json');
        const child = spawn(process.execPath, ['devnet/bin/cocoon-devnet.js', '--port', String(port), '--state', state, '--log-level', 'warn', '--accounts', '1'], {
            cwd: path.join(__dirname, '..', '..'),
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
        try {
            await pollUntil(
                'the devnet to be ready',
                () =>
                    fetch(`http://127.0.0.1:${port}/ready`).then(
                        (r) => r.status,
                        () => 0,
                    ),
                (s) => s === 200,
                { timeoutMs: 60_000 },
            );
            await pollUntil(
                'the banner',
                async () => out,
                (o) => o.includes('Pre-funded wallets'),
            );
            expect(out).toContain(DEVNET_MNEMONIC);
            expect(out).toContain(`http://127.0.0.1:${port}/api/v2/jsonRPC`);
        } finally {
            child.kill('SIGINT');
        }
        expect(await exited).toBe(0);
        expect('payload' in decodeStateFile(await fs.readFile(state))).toBe(true);
    });
});
