import { keyPairFromSeed } from '@ton/crypto';
import { join } from 'node:path';
import { Address, toNano } from '@ton/core';
import { readFileSync } from 'node:fs';
import { DEVNET_MNEMONIC } from '../wrappers/devnet';
import { tonClientOpener } from '../wrappers/toncenter';
import { loadConfig, parseConfig } from '../worker/src/config';
import { createLogger } from '../worker/src/log';
import { OperatorWallet } from '../wrappers/wallet';
import { Worker, createWorker } from '../worker/src/worker';
import { CocoonClient } from '../client/src/client';
import { ExtendedStaking } from '../wrappers/Staking';
import { ClientStore } from '../client/src/store';
import { chainFees } from './lib/gas';
import { BenchNetwork, Prices, registerWorker, startNetwork, transactionsSince } from './lib/network';
import { USAGE, startBenchUpstream } from './lib/upstream';

/**
 * On-chain cost of serving requests: runs N paid requests through the
 * client SDK to a worker on a devnet with the default thresholds (the
 * worker's claim threshold, the client's deposit and top-up), lets the
 * worker's claimer work as in production, and counts every on-chain
 * operation (an external message and its whole message chain) and its fees.
 * The price is set high so N requests move enough value to cross the
 * thresholds several times; the count of operations scales with the value
 * moved, the fee of each operation does not depend on it.
 *
 * Also times the worker's chain reads (a channel's state, a WorkerStake's
 * prices) against the devnet, the reads the worker caches on its hot path.
 */

/** Defaults: worker/src/config.ts (payments.claimThreshold) and client/src/cli.ts (--deposit, --top-up-below). */
export const DEFAULTS = {
    claimThreshold: BigInt(
        parseConfig({
            network: { endpoint: 'http://127.0.0.1:1/jsonRPC' },
            contracts: { staking: 'EQBvW8Z5huBkMJYdnfAEM5JqTNkuWX3diqYENkWsIL0XggGG' },
            keys: { receiptKeyPath: 'r', encryptionKeyPath: 'e', walletMnemonicPath: 'w' },
            payoutAddress: 'EQBvW8Z5huBkMJYdnfAEM5JqTNkuWX3diqYENkWsIL0XggGG',
            backend: { kind: 'embedded', modelPath: 'm.gguf' },
            prices: { prompt: '1', cached: '1', completion: '1', reasoning: '1' },
            attestation: { provider: 'simulated', devKeyPath: 'd' },
            store: { path: 's' },
        }).payments.claimThreshold,
    ),
    deposit: toNano('2'),
    topUpBelow: toNano('0.5'),
};

export type OpKind = 'openChannel' | 'topUp' | 'claim' | 'other';

export interface ChainCostResult {
    requests: number;
    costPerRequest: string;
    valueMoved: string;
    ops: Record<OpKind, { count: number; transactions: number; fees: string }>;
    /** Remaining value claimed after the run (not a threshold claim). */
    finalClaim: { transactions: number; fees: string } | null;
    chainReadMs: { channel: number; workerStake: number };
    defaults: { claimThreshold: string; deposit: string; topUpBelow: string; topUpAmount: string };
}

function median(xs: number[]) {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
}

export async function runChainCost(o: { requests: number; log?: (l: string) => void }): Promise<ChainCostResult> {
    const log = o.log ?? (() => undefined);
    const upstream = await startBenchUpstream();
    let net: BenchNetwork | undefined;
    let worker: Worker | undefined;
    let store: ClientStore | undefined;
    try {
        net = await startNetwork();
        // 50 completion tokens at 5e11 nanoTON per million: 0.025 TON a request.
        const prices: Prices = { prompt: 0n, cached: 0n, completion: 500_000_000_000n, reasoning: 500_000_000_000n };
        const costPerRequest = (BigInt(USAGE.completion_tokens) * prices.completion) / 1_000_000n;
        const w = await registerWorker(net, { name: 'cost-worker', upstreamUrl: upstream.url, prices, payments: { watchIntervalMs: 1000 } });
        worker = await createWorker(loadConfig({ file: w.configFile, env: {} }), { logger: createLogger({ level: 'silent' }) });
        await worker.start();
        const ton = net.ton;
        const clientWallet = await OperatorWallet.open(ton, DEVNET_MNEMONIC.split(' '), 'v4');
        const workerWallet = await OperatorWallet.open(ton, DEVNET_MNEMONIC.split(' '), 'v5r1');
        store = ClientStore.open(join(net.dir, 'client.db'));
        const sdk = new CocoonClient({
            opener: tonClientOpener(ton),
            staking: Address.parse(net.contracts.staking),
            wallet: clientWallet.sender() as ReturnType<OperatorWallet['sender']> & { address: Address },
            channelKey: keyPairFromSeed(Buffer.from('bench-chain-cost'.padEnd(32, '.'))),
            store,
            deposit: DEFAULTS.deposit,
            topUpBelow: DEFAULTS.topUpBelow,
        });
        const [info] = await sdk.workers('cocoon-demo', true);
        if (!info) throw new Error('the registered worker is not discovered');
        const escrow = (
            await tonClientOpener(ton)
                .open(ExtendedStaking.fromAddress(Address.parse(net.contracts.staking)))
                .getLinks()
        ).escrow!;

        const chain = net.devnet.chain;
        await chain.idle();
        const from = chain.seqno;
        const t0 = Date.now();
        for (let i = 0; i < o.requests; i++) {
            await sdk.call(info, { model: 'cocoon-demo', messages: [{ role: 'user', content: 'Write about foxes.' }], max_tokens: 64 } as any);
            if ((i + 1) % 50 === 0) log(`${i + 1} requests (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
        }
        // The last receipts' vouchers reach the worker with the next request; the claimer's
        // threshold claims of what it holds land within a watch interval or two.
        await new Promise((r) => setTimeout(r, 4000));
        await chain.idle();
        const runEnd = chain.seqno;
        const final = await worker.claimer.claimAll();
        await new Promise((r) => setTimeout(r, 1000));
        await chain.idle();

        const channelAddr = Address.parse(store.channels()[0].address);
        const ops: ChainCostResult['ops'] = {
            openChannel: { count: 0, transactions: 0, fees: '0' },
            topUp: { count: 0, transactions: 0, fees: '0' },
            claim: { count: 0, transactions: 0, fees: '0' },
            other: { count: 0, transactions: 0, fees: '0' },
        };
        const blocks = new Map<number, ReturnType<typeof transactionsSince>>();
        for (const t of transactionsSince(net, from)) {
            const list = blocks.get(t.block) ?? [];
            list.push(t);
            blocks.set(t.block, list);
        }
        let finalClaim: ChainCostResult['finalClaim'] = null;
        for (const [seqno, txs] of blocks) {
            const first = txs[0].tx;
            const wallet = first.inMessage?.info.dest as Address | undefined;
            const out = [...first.outMessages.values()].map((m) => m.info.dest).find((d): d is Address => d instanceof Address);
            let kind: OpKind = 'other';
            if (wallet?.equals(clientWallet.address) && out?.equals(escrow)) kind = 'openChannel';
            else if (wallet?.equals(clientWallet.address) && out?.equals(channelAddr)) kind = 'topUp';
            else if (wallet?.equals(workerWallet.address) && out?.equals(channelAddr)) kind = 'claim';
            const fees = chainFees(txs.map((t) => t.tx));
            if (seqno > runEnd && kind === 'claim') {
                finalClaim = { transactions: txs.length, fees: fees.toString() };
                continue;
            }
            if (seqno > runEnd) continue;
            const e = ops[kind];
            e.count++;
            e.transactions += txs.length;
            e.fees = (BigInt(e.fees) + fees).toString();
        }
        log(`operations: ${JSON.stringify(ops)}; final claim ${JSON.stringify(final, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);

        // The worker's chain reads, uncached (fresh), as a request that misses the cache would wait for them.
        const chMs: number[] = [];
        const wsMs: number[] = [];
        for (let i = 0; i < 15; i++) {
            let t = performance.now();
            await worker.chain.channel(channelAddr, true);
            chMs.push(performance.now() - t);
            t = performance.now();
            await worker.chain.workerStake(worker.workerStake, true);
            wsMs.push(performance.now() - t);
        }
        return {
            requests: o.requests,
            costPerRequest: costPerRequest.toString(),
            valueMoved: (costPerRequest * BigInt(o.requests)).toString(),
            ops,
            finalClaim,
            chainReadMs: { channel: median(chMs), workerStake: median(wsMs) },
            defaults: {
                claimThreshold: DEFAULTS.claimThreshold.toString(),
                deposit: DEFAULTS.deposit.toString(),
                topUpBelow: DEFAULTS.topUpBelow.toString(),
                topUpAmount: DEFAULTS.deposit.toString(),
            },
        };
    } finally {
        store?.close();
        await worker?.stop().catch(() => undefined);
        await upstream.close();
        await net?.close().catch(() => undefined);
    }
}

/** bench/gas.json, for the per-operation figures measured by the gas suites. */
export function readGas(): Record<string, { gasUsed: number; fees: string }> {
    return JSON.parse(readFileSync(join(__dirname, 'gas.json'), 'utf8'));
}

if (require.main === module) {
    runChainCost({ requests: Number(process.env.BENCH_COST_REQUESTS ?? 200), log: (l) => console.log(l) })
        .then((r) => console.log(JSON.stringify(r, null, 2)))
        .catch((e) => {
            console.error(e);
            process.exit(1);
        });
}
