import '@ton/test-utils';
import { spawn } from 'node:child_process';
import { promises as fs, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, Cell, toNano } from '@ton/core';
import { TonClient } from '@ton/ton';
import { RunningDevnet, startDevnet } from '../../devnet/server';
import { deployNetworkTo } from '../../scripts/local/devnetNetwork';
import { DEVNET_MNEMONIC } from '../../wrappers/devnet';
import { ExtendedEscrow } from '../../wrappers/Escrow';
import { ChannelStatus, ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { ExtendedRegistry } from '../../wrappers/Registry';
import { ExtendedWorkerStake, WorkerStatus } from '../../wrappers/WorkerStake';
import { openSignedReceipt, parseReceipt, receiptMaxCost, verifyReceipt } from '../../wrappers/receipt';
import { keyToInt } from '../../wrappers/voucher';
import { tonClientOpener } from '../../wrappers/toncenter';
import { workerStakeAddress } from '../../worker/src/register';
import { WorkerStore } from '../../worker/src/store/store';
import { ENVELOPE_MEDIA_TYPE } from '../../helpers/hpke';
import { sealPaidRequest } from '../../protocol/paidRequest';
import { main } from '../../worker/src/cli';
import { loadConfig } from '../../worker/src/config';
import { loadKeys } from '../../worker/src/keys';
import { createLogger } from '../../worker/src/log';
import { OperatorWallet } from '../../wrappers/wallet';
import { Worker, createWorker } from '../../worker/src/worker';
import { testKeys } from '../helpers/channel';
import { Upstream, callWorker, chatBody, startUpstream, voucherFor } from './helpers';
import { post } from '../devnet/util';
import { pollUntil } from '../../helpers/poll';
import { devSnpChain, devSnpImageHash, vcekKeyId } from '../../wrappers/snp';
import { Discovery } from '../../client/src/discovery';

/**
 * The worker against a devnet with the deployed contracts, through the same
 * code paths as production: TonClient over toncenter v2, the real deploy
 * script, the CLI's init and register, wallets signing external messages.
 */
jest.setTimeout(240_000);

const ROOT = join(__dirname, '..', '..');
/** nanoTON per million tokens: about 0.4 TON a request, so claims are well above gas. */
const PRICES = { prompt: 20_000_000_000_000n, cached: 10_000_000_000_000n, completion: 40_000_000_000_000n, reasoning: 40_000_000_000_000n };

describe('worker on a devnet with the deployed contracts', () => {
    let devnet: RunningDevnet;
    let upstream: Upstream;
    let dir: string;
    let client: TonClient;
    let contracts: Record<string, string>;
    let configFile: string;
    let worker: Worker | undefined;
    let clientWallet: OperatorWallet;
    const clientKeys = testKeys('devnet-client');

    beforeAll(async () => {
        dir = await fs.mkdtemp(join(tmpdir(), 'cocoon-worker-devnet-'));
        devnet = await startDevnet({ port: 0, logLevel: 'silent' });
        upstream = await startUpstream();
        ({ contracts } = await deployNetworkTo(devnet.endpoint, dir));
        client = new TonClient({ endpoint: devnet.endpoint });
        // A client with its own funded wallet (the devnet's v4 wallet #0 deployed the network).
        clientWallet = await OperatorWallet.open(client, DEVNET_MNEMONIC.split(' '), 'v4');
    });

    afterAll(async () => {
        await worker?.stop().catch(() => undefined);
        await upstream?.close();
        await devnet?.close();
        await fs.rm(dir, { recursive: true, force: true });
    });

    it('init and register with simulated attestation: the WorkerStake becomes active', async () => {
        const lines: string[] = [];
        const io = { out: (l: string) => lines.push(l), env: { ...process.env } };
        const wdir = join(dir, 'worker');
        await main(
            [
                'init',
                '-d',
                wdir,
                '--endpoint',
                devnet.endpoint,
                '--staking',
                contracts.staking,
                '--base-url',
                upstream.url,
                '--upstream-model',
                'llama-3-8b',
                '--stake',
                '12',
                '--port',
                '0',
                '--prices',
                [PRICES.prompt, PRICES.cached, PRICES.completion, PRICES.reasoning].join(','),
            ],
            io,
        );
        configFile = join(wdir, 'config.json');
        // The operator is the devnet's v5r1 wallet #0: not the treasury, so its balance shows the worker's net income.
        const cfg = JSON.parse(await fs.readFile(configFile, 'utf8'));
        cfg.keys.walletVersion = 'v5r1';
        cfg.payments = { claimThreshold: toNano('100').toString(), watchIntervalMs: 1000, claimRetryInitialMs: 500 };
        cfg.log = { level: 'error' };
        writeFileSync(configFile, JSON.stringify(cfg), { mode: 0o600 });

        await main(['register', '-c', configFile], io);
        expect(lines.at(-1)).toMatch(/: active, stake 12 TON \(deployed\)/);

        const config = loadConfig({ file: configFile, env: {} });
        const keys = loadKeys(config.keys);
        const staking = Address.parse(contracts.staking);
        const owner = (await OperatorWallet.open(client, DEVNET_MNEMONIC.split(' '), 'v5r1')).address;
        const ws = client.open(ExtendedWorkerStake.fromAddress(await workerStakeAddress(staking, owner, keys.receipt.publicKey)));
        const opened = tonClientOpener(client).open(ExtendedWorkerStake.fromAddress(ws.address));
        expect(Number(await opened.getStatus())).toBe(WorkerStatus.Active);
        const att = await opened.getAttestation();
        expect(att?.encryptionKey).toBe(keyToInt(keys.encryption.publicKey));
        // Registering again changes nothing on the stake (idempotent) and re-attests.
        await main(['register', '-c', configFile], io);
        expect(lines.at(-1)).toMatch(/\(unchanged\)/);
    });

    it("registers with SEV-SNP evidence from the development AMD chain through every on-chain step; discovery names the worker's TEE", async () => {
        const io = { out: () => undefined, env: { ...process.env } };
        const wdir = join(dir, 'snp-worker');
        await main(['init', '-d', wdir, '--endpoint', devnet.endpoint, '--staking', contracts.staking, '--base-url', upstream.url, '--stake', '12', '--port', '0'], io);
        const file = join(wdir, 'config.json');
        const cfg = JSON.parse(await fs.readFile(file, 'utf8'));
        cfg.keys.walletVersion = 'v5r1';
        cfg.attestation = { provider: 'simulated-sev-snp' };
        cfg.log = { level: 'error' };
        writeFileSync(file, JSON.stringify(cfg), { mode: 0o600 });
        const lines: string[] = [];
        await main(['register', '-c', file], { ...io, out: (l: string) => lines.push(l) });
        expect(lines.at(-1)).toMatch(/: active, stake 12 TON \(deployed\)/);

        const keys = loadKeys(loadConfig({ file, env: {} }).keys);
        const owner = (await OperatorWallet.open(client, DEVNET_MNEMONIC.split(' '), 'v5r1')).address;
        const ws = tonClientOpener(client).open(ExtendedWorkerStake.fromAddress(await workerStakeAddress(Address.parse(contracts.staking), owner, keys.receipt.publicKey)));
        const att = (await ws.getAttestation())!;
        expect(att.imageHash).toBe(devSnpImageHash());
        expect(att.evidenceKeyId).toBe(vcekKeyId(devSnpChain().vcek.publicKey));
        const discovery = new Discovery(tonClientOpener(client), Address.parse(contracts.staking));
        expect(await discovery.evidenceTee(att.evidenceKeyId)).toBe('amd-sev-snp');
    });

    it('serves paid requests; the voucher is redeemed on chain and the owner gains the amount minus the protocol fee', async () => {
        const config = loadConfig({ file: configFile, env: {} });
        worker = await createWorker(config, { logger: createLogger({ level: 'error' }) });
        await worker.start();
        const keys = worker.keys;

        // The client opens a channel to the worker through the Escrow.
        const escrow = tonClientOpener(client).open(ExtendedEscrow.fromAddress(Address.parse(contracts.escrow)));
        const nonce = BigInt(Date.now());
        const workerOwner = (await tonClientOpener(client).open(ExtendedWorkerStake.fromAddress(worker.workerStake)).getState()).owner;
        await escrow.sendOpenChannel(clientWallet.sender(), {
            workerOwner,
            workerKey: keyToInt(keys.receipt.publicKey),
            nonce,
            clientKey: keyToInt(clientKeys.publicKey),
            deposit: toNano('20'),
        });
        const channelAddr = (await ExtendedPaymentChannel.fromInit(escrow.address, clientWallet.address, worker.workerStake, nonce)).address;
        const channel = tonClientOpener(client).open(ExtendedPaymentChannel.fromAddress(channelAddr));
        await pollUntil(
            'the channel',
            () => channel.getStatus(),
            (s) => Number(s) === ChannelStatus.Open,
        );

        const ask = (voucher: bigint | undefined, stream: boolean) =>
            callWorker(worker!.url, keys.encryption.publicKey, {
                version: 1,
                channel: channelAddr.toString(),
                ...(voucher !== undefined ? { voucher: voucherFor(channelAddr, voucher, clientKeys.secretKey) } : {}),
                request: chatBody({ stream }),
            });
        let owed = 0n;
        for (const stream of [false, true, false]) {
            const r = await ask(owed > 0n ? owed : undefined, stream);
            expect(r.status).toBe(200);
            const { receipt, signature } = openSignedReceipt(Cell.fromBase64(r.final.receipt.boc));
            expect(verifyReceipt(receipt, signature, keys.receipt.publicKey)).toBe(true);
            const fields = parseReceipt(receipt);
            expect(fields.cost).toBe(receiptMaxCost(PRICES, fields.usage));
            expect(fields.cumulativeCost).toBe(owed + fields.cost);
            owed = fields.cumulativeCost;
        }
        // The client pays for everything served so far with its next voucher.
        expect((await ask(owed, false)).status).toBe(200);
        const total = owed;
        expect(worker.store.unclaimed(channelAddr.toString())).toBe(total);

        const registry = client.open(ExtendedRegistry.fromAddress(Address.parse(contracts.registry)));
        const params = await registry.getParams();
        const ws = tonClientOpener(client).open(ExtendedWorkerStake.fromAddress(worker.workerStake));
        const ownerAddr = (await ws.getState()).owner;
        expect(ownerAddr.equals(params.treasury)).toBe(false);
        const ownerBefore = await client.getBalance(ownerAddr);

        const results = await worker.claimer.claimAll();
        expect(results.find((x) => x.channel === channelAddr.toString())).toMatchObject({ claimed: true, paid: total });
        const fee = (total * params.protocolFeeBps) / 10000n;
        expect(fee).toBeGreaterThan(0n);
        const ownerDelta =
            (await pollUntil(
                'the payout',
                () => client.getBalance(ownerAddr),
                (b) => b > ownerBefore,
            )) - ownerBefore;
        // The owner (here also the claimer) receives the payout net of the fee, less the gas of the claim it sent.
        expect(ownerDelta).toBeLessThanOrEqual(total - fee);
        expect(ownerDelta).toBeGreaterThan(total - fee - toNano('0.05'));
        // The fee waits in the channel for the treasury (sent at close, or once enough has accrued).
        const st = await channel.getState();
        expect(st.paid).toBe(total);
        expect(st.feeDue).toBe(fee);
        expect(worker.store.unclaimed(channelAddr.toString())).toBe(0n);

        // The client closes the channel while the worker runs: the worker redeems the newest voucher before the deadline.
        const r = await ask(total, false);
        const newTotal = BigInt(r.final.receipt.cumulativeCost);
        expect((await ask(newTotal, false)).status).toBe(200);
        const cumulative = worker.store.latestVoucher(channelAddr.toString())!.total;
        expect(cumulative).toBe(newTotal);
        await channel.sendRequestClose(clientWallet.sender());
        await pollUntil(
            'the channel to close',
            () => channel.getStatus(),
            (s) => Number(s) === ChannelStatus.Closing,
        );
        const paid = await pollUntil(
            'the worker to redeem',
            () => channel.getPaid(),
            (p) => p === cumulative,
            { timeoutMs: 60_000 },
        );
        expect(paid).toBe(cumulative);
        expect(Number(await channel.getStatus())).toBe(ChannelStatus.Closing);
        expect(Number(await channel.getCloseDeadline())).toBeGreaterThan(Math.floor(Date.now() / 1000) - 5);
        await pollUntil(
            'the store to see the close',
            async () => worker!.store.channel(channelAddr.toString())!.state,
            (s) => s === 'closing',
            { timeoutMs: 20_000 },
        );
    });

    it('killed with SIGKILL mid-stream and restarted, the worker loses no receipt or voucher and claims everything owed', async () => {
        await worker!.stop();
        worker = undefined;
        const config = loadConfig({ file: configFile, env: {} });
        const keys = loadKeys(config.keys);
        const owner = (await OperatorWallet.open(client, DEVNET_MNEMONIC.split(' '), 'v5r1')).address;
        const workerStake = await workerStakeAddress(Address.parse(contracts.staking), owner, keys.receipt.publicKey);
        const escrow = tonClientOpener(client).open(ExtendedEscrow.fromAddress(Address.parse(contracts.escrow)));
        const nonce = BigInt(Date.now());
        await escrow.sendOpenChannel(clientWallet.sender(), {
            workerOwner: owner,
            workerKey: keyToInt(keys.receipt.publicKey),
            nonce,
            clientKey: keyToInt(clientKeys.publicKey),
            deposit: toNano('20'),
        });
        const channelAddr = (await ExtendedPaymentChannel.fromInit(escrow.address, clientWallet.address, workerStake, nonce)).address;
        const channel = tonClientOpener(client).open(ExtendedPaymentChannel.fromAddress(channelAddr));
        await pollUntil(
            'the channel',
            () => channel.getStatus(),
            (s) => Number(s) === ChannelStatus.Open,
        );

        const startChild = async () => {
            const child = spawn(process.execPath, [join(ROOT, 'worker', 'bin', 'cocoon-worker.js'), 'start', '-c', configFile], {
                cwd: ROOT,
                env: { ...process.env },
                stdio: ['ignore', 'pipe', 'pipe'],
            });
            let out = '';
            child.stdout.on('data', (d) => (out += d));
            child.stderr.on('data', (d) => (out += d));
            const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
            const url = await pollUntil(
                'the worker to listen',
                async () => /listening on (http:\S+)/.exec(out)?.[1],
                (u) => !!u,
                { timeoutMs: 90_000 },
            );
            return { child, url: url!, exited, output: () => out };
        };
        const ask = (url: string, voucher: bigint | undefined, stream = false) =>
            callWorker(url, keys.encryption.publicKey, {
                version: 1,
                channel: channelAddr.toString(),
                ...(voucher !== undefined ? { voucher: voucherFor(channelAddr, voucher, clientKeys.secretKey) } : {}),
                request: chatBody({ stream }),
            });

        const first = await startChild();
        let owed = 0n;
        const receipts: string[] = [];
        for (let i = 0; i < 3; i++) {
            const r = await ask(first.url, owed > 0n ? owed : undefined);
            expect(r.status).toBe(200);
            receipts.push(r.final.receipt.requestId);
            owed = BigInt(r.final.receipt.cumulativeCost);
        }
        // A stream that is cut by the kill; its voucher pays for the three served requests.
        upstream.mode = 'slow';
        const sealed = await sealPaidRequest(keys.encryption.publicKey, {
            version: 1,
            channel: channelAddr.toString(),
            voucher: voucherFor(channelAddr, owed, clientKeys.secretKey),
            request: chatBody({ stream: true }),
        });
        try {
            const res = await fetch(`${first.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': ENVELOPE_MEDIA_TYPE }, body: sealed.envelope });
            const reader = res.body!.getReader();
            let got = '';
            while (!got.includes('\n\n')) got += new TextDecoder().decode((await reader.read()).value);
            first.child.kill('SIGKILL');
            await reader.cancel().catch(() => undefined);
        } finally {
            upstream.mode = 'usage';
        }
        expect(await first.exited).toBeNull();

        // Everything acknowledged before the kill is on disk.
        const store = WorkerStore.open(config.store.path);
        try {
            expect(store.integrityCheck()).toBe('ok');
            for (const id of receipts) expect(store.receipt(id)).toBeDefined();
            expect(store.receiptTotal(channelAddr.toString())).toBe(owed);
            expect(store.latestVoucher(channelAddr.toString())!.total).toBe(owed);
        } finally {
            store.close();
        }

        // Restarted, it serves on, and a graceful stop redeems everything owed (below the threshold).
        const second = await startChild();
        const again = await ask(second.url, owed);
        expect(again.status).toBe(200);
        // Ids are random, never a counter (which a lost or restored store would repeat): the restarted worker reuses none.
        expect(receipts).not.toContain(again.final.receipt.requestId);
        second.child.kill('SIGTERM');
        expect(await second.exited).toBe(0);
        expect(await channel.getPaid()).toBe(owed);
    });

    it('re-attests before expiry, then unbonds and withdraws through the CLI', async () => {
        const config = loadConfig({ file: configFile, env: {} });
        const lines: string[] = [];
        const io = { out: (l: string) => lines.push(l), env: { ...process.env } };
        // The devnet clock is the chain's; the worker reads it as its chain time.
        const w = await createWorker(config, { logger: createLogger({ level: 'error' }), chainNow: async () => devnet.chain.now() });
        try {
            await w.start();
            const ws = tonClientOpener(client).open(ExtendedWorkerStake.fromAddress(w.workerStake));
            const before = (await ws.getAttestation())!.expiresAt;
            expect(await w.reattestIfDue()).toBe(false); // a day left: not due
            await post(`${devnet.url}/admin/advance-time`, { seconds: Number(before) - devnet.chain.now() - 600 });
            expect(await w.reattestIfDue()).toBe(true);
            const after = (await ws.getAttestation())!.expiresAt;
            expect(after).toBeGreaterThan(before);
            expect(Number(await ws.getStatus())).toBe(WorkerStatus.Active);
            expect(Number(w.evidence()!.claims.notAfter)).toBeGreaterThan(Number(before));
        } finally {
            await w.stop();
        }
        await main(['unbond', '-c', configFile], io);
        expect(lines.at(-1)).toMatch(/active -> unbonding/);
        // Past the unbonding period, whatever the network's (at least the fraud-proof window plus the price-cut grace).
        const deadline = Number((await tonClientOpener(client).open(ExtendedWorkerStake.fromAddress(w.workerStake)).getState()).unbondingDeadline);
        await post(`${devnet.url}/admin/advance-time`, { seconds: deadline - devnet.chain.now() + 1 });
        await main(['withdraw', '-c', configFile], io);
        expect(lines.at(-1)).toMatch(/unbonding -> withdrawn/);
        await main(['status', '-c', configFile], io);
        expect(lines.join('\n')).toContain('status withdrawn');
    });
});
