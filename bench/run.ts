import { cpus, totalmem, release, type as osType } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromNano } from '@ton/core';
import { OverheadResult, runOverhead } from './overhead';
import { ChainCostResult, readGas, runChainCost } from './chainCost';
import { EmbeddedResult, ParallelResult, runEmbedded } from './embedded';
import { ProfileResult, runProfile } from './profile';
import { DEFAULT_PRICES } from './lib/network';
import { USAGE } from './lib/upstream';
import { median } from './lib/stats';
import { SuitesResult, runSuites } from './suites';
import { COST_TARGETS, CostTarget, figureOf } from './economics';
import { FirstMinutesResult, TestSuitesResult, runFirstMinutes, runTestSuites } from './firstMinutes';

/**
 * `npm run bench`: every benchmark against its anchor, written
 * to bench/RESULTS.md (and the raw figures to bench/results.json). Never part
 * of `npm test`. Gas per operation is recorded separately by
 * `npm run bench:gas` (bench/gas.json), which this reads.
 *
 * Options (flags or environment):
 *   --quick | BENCH_QUICK=1        fewer requests and runs (about 3 minutes)
 *   --only=overhead,paced,profile,cost,engine,suites,first,tests | BENCH_ONLY
 *                                  (first: npm start, SIGTERM and --help timed; tests: the whole npm test in a clean clone of HEAD after its own npm ci and build, per suite)
 *   --fuzz-runs=N | BENCH_FUZZ_RUNS  the fuzz suites' FUZZ_RUNS in the suites step (default 1000; quick 200)
 *   --requests=N | BENCH_REQUESTS  measured requests per concurrency level and path (default 300; quick 60)
 *   --levels=1,8,32 | BENCH_LEVELS
 *   --cost-requests=N | BENCH_COST_REQUESTS  requests of the on-chain cost run (default 200; quick 80)
 *   --channels=N | BENCH_CHANNELS  the gateway's --channels-per-worker (default: the gateway's own default)
 *   --paced-ms=N | BENCH_PACED_MS  the paced overhead run: ms between the upstream's content chunks (default 2; 0 skips it)
 *   --paced-requests=N | BENCH_PACED_REQUESTS  its measured requests per level (default 160; quick 48)
 *   BENCH_CHUNKS=N                 content chunks per answer of the overhead runs' upstream, and of the profile's frames (default 50)
 *   --out=FILE | BENCH_OUT         where to write the Markdown (default bench/RESULTS.md)
 *   --render | BENCH_RENDER=1      only rewrite the Markdown from bench/results.json
 */

function flag(name: string, env: string): string | undefined {
    const a = process.argv.find((x) => x === `--${name}` || x.startsWith(`--${name}=`));
    if (a) return a.includes('=') ? a.slice(a.indexOf('=') + 1) : '1';
    return process.env[env];
}

const quick = flag('quick', 'BENCH_QUICK') === '1';
const SECTIONS = ['overhead', 'paced', 'profile', 'cost', 'engine', 'suites', 'first', 'tests'];
const only = new Set((flag('only', 'BENCH_ONLY') ?? SECTIONS.join(',')).split(','));
const fuzzRuns = Number(flag('fuzz-runs', 'BENCH_FUZZ_RUNS') ?? (quick ? 200 : 1000));
const requests = Number(flag('requests', 'BENCH_REQUESTS') ?? (quick ? 60 : 300));
const levels = (flag('levels', 'BENCH_LEVELS') ?? '1,8,32').split(',').map(Number);
const costRequests = Number(flag('cost-requests', 'BENCH_COST_REQUESTS') ?? (quick ? 80 : 200));
const channelsFlag = flag('channels', 'BENCH_CHANNELS');
const channels = channelsFlag ? Number(channelsFlag) : undefined;
const pacedMs = Number(flag('paced-ms', 'BENCH_PACED_MS') ?? 2);
const pacedRequests = Number(flag('paced-requests', 'BENCH_PACED_REQUESTS') ?? (quick ? 48 : 160));
const out = flag('out', 'BENCH_OUT') ?? join(__dirname, 'RESULTS.md');
/** The raw figures, next to the Markdown (bench/results.json by default). */
const resultsFile = out.replace(/\.md$/i, '') === out ? `${out}.json` : out.replace(/RESULTS\.md$/, 'results.json').replace(/\.md$/i, '.json');
const COCOON_OP_FEE_TON = 0.01; // Cocoon's documented cost of one on-chain payment operation

const log = (l: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${l}`);
const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pctOf = (a: number, b: number) => `${f((100 * a) / b, 1)}%`;
const ton = (nano: bigint | string | number) =>
    Number(fromNano(BigInt(Math.round(Number(nano)))))
        .toFixed(6)
        .replace(/0+$/, '')
        .replace(/\.$/, '');
const met = (ok: boolean) => (ok ? '**met**' : '**not met**');

function machine() {
    const c = cpus();
    return {
        cpu: c[0]?.model ?? 'unknown',
        cores: c.length,
        memoryGiB: totalmem() / 2 ** 30,
        node: process.version,
        os: `${osType()} ${release()}`,
    };
}

/** The per-level table and the targets' verdicts of one overhead run. */
function levelTables(r: OverheadResult): { lines: string[]; thr: number; allMet: boolean; c1: OverheadResult['levels'][number]; c32: OverheadResult['levels'][number] } {
    const L: string[] = [];
    L.push(
        '| concurrency | direct req/s | Cocoon req/s | ratio | direct p50 ms | Cocoon p50 ms | added p50 ms | direct p99 ms | Cocoon p99 ms | direct TTFT p50 ms | Cocoon TTFT p50 ms | added TTFT ms | errors (d/c) |',
    );
    L.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const l of r.levels) {
        L.push(
            `| ${l.concurrency} | ${f(l.direct.rps, 1)} | ${f(l.cocoon.rps, 1)} | ${pctOf(l.cocoon.rps, l.direct.rps)} | ${f(l.direct.latencyMs.p50)} | ${f(l.cocoon.latencyMs.p50)} | ${f(l.cocoon.latencyMs.p50 - l.direct.latencyMs.p50)} | ${f(l.direct.latencyMs.p99)} | ${f(l.cocoon.latencyMs.p99)} | ${f(l.direct.ttftMs.p50)} | ${f(l.cocoon.ttftMs.p50)} | ${f(l.cocoon.ttftMs.p50 - l.direct.ttftMs.p50)} | ${l.direct.errors}/${l.cocoon.errors} |`,
        );
    }
    L.push('');
    const c32 = r.levels.find((l) => l.concurrency === 32) ?? r.levels[r.levels.length - 1];
    const c1 = r.levels.find((l) => l.concurrency === 1) ?? r.levels[0];
    L.push('| target | anchor | measured | ratio to anchor | verdict |', '|---|---|---|---|---|');
    const thr = c32.cocoon.rps / c32.direct.rps;
    L.push(`| throughput via Cocoon at concurrency ${c32.concurrency} | >= 90% of direct | ${pctOf(c32.cocoon.rps, c32.direct.rps)} | ${f(thr / 0.9)}x | ${met(thr >= 0.9)} |`);
    for (const l of r.levels) {
        const add = l.cocoon.latencyMs.p50 - l.direct.latencyMs.p50;
        L.push(`| p50 added latency, concurrency ${l.concurrency} | <= 2 ms | ${f(add)} ms | ${f(add / 2)}x | ${met(add <= 2)} |`);
    }
    for (const l of r.levels) {
        const add = l.cocoon.ttftMs.p50 - l.direct.ttftMs.p50;
        L.push(`| TTFT added (p50), concurrency ${l.concurrency} | <= 2 ms | ${f(add)} ms | ${f(add / 2)}x | ${met(add <= 2)} |`);
    }
    L.push('');
    if (r.levels.every((l) => l.cpuMsPerRequest))
        L.push(
            'Process CPU per request over each level (user + system from /proc, warm-up included):',
            '',
            '| concurrency | worker CPU ms/request | gateway CPU ms/request |',
            '|---|---|---|',
            ...r.levels.map((l) => `| ${l.concurrency} | ${f(l.cpuMsPerRequest.worker)} | ${f(l.cpuMsPerRequest.gateway)} |`),
            '',
        );
    const allMet = thr >= 0.9 && r.levels.every((l) => l.cocoon.latencyMs.p50 - l.direct.latencyMs.p50 <= 2 && l.cocoon.ttftMs.p50 - l.direct.ttftMs.p50 <= 2);
    return { lines: L, thr, allMet, c1, c32 };
}

function overheadSection(r: OverheadResult, p?: ProfileResult): string[] {
    const profileCpuMs = p ? ['hpkeSeal', 'hpkeOpen', 'frames', 'voucherVerify', 'receiptSign', 'receiptVerify', 'voucherSign', 'digests'].reduce((a, k) => a + (p[k]?.ms ?? 0), 0) : undefined;
    const profileFsync = p
        ? `this run's profile: worker voucher (no fsync of its own) ${f(p.storeVoucher.ms)} ms, worker receipt ${f(p.storeReceipt.ms)} ms, gateway receipt+voucher ${f(p.clientStorePayment.ms)} ms, a bare 4 KiB write+fsync ${f(p.rawFsync.ms)} ms`
        : undefined;
    const L: string[] = [];
    L.push('## 1. Protocol overhead', '');
    L.push(
        `A fake OpenAI-compatible upstream (plain node:http, bench/lib/upstream.ts) streams ${r.chunks} chunks of ${r.chunkBytes} bytes of content and a fixed usage record in the last chunk, with no delay. ` +
            `The same load client (bench/lib/load.ts: node:http, keep-alive, streaming, its own process) sends ${requests} measured requests per level (after a warm-up) ` +
            '(a) straight to the upstream and (b) to `cocoon-client gateway` -> `cocoon-worker start` (openai backend over the same upstream): HPKE both ways, a signed receipt stored with fsync before the final frame, ' +
            'a voucher per request verified and stored by the worker, the receipt verified and the voucher stored by the gateway, channel state from the devnet. ' +
            `Upstream, worker, gateway and load client are separate processes; the devnet runs in the orchestrating one. Worker prices: \`cocoon-worker init\` defaults (${Object.entries(r.prices)
                .map(([k, v]) => `${k} ${v}`)
                .join(
                    ', ',
                )} nanoTON per million tokens), so a request costs ${ton(receiptCost())} TON and the 2 TON default deposit lasts the run: ${r.chainOpsDuringRun === undefined ? 'no top-up is expected' : r.chainOpsDuringRun === 0 ? 'the devnet recorded no on-chain operation at all (no channel open, top-up or claim) during the measured levels' : `the devnet recorded ${r.chainOpsDuringRun} on-chain operation(s) during the measured levels, including their unmeasured warm-ups (channel opens when the gateway adds channels, top-ups, claims)`}.`,
        '',
    );
    const { lines, allMet, c1, c32 } = levelTables(r);
    L.push(...lines);
    L.push("Where the end-to-end time is spent, from the worker's own metrics (`/metrics` histograms, means over the level including its warm-up):", '');
    L.push('| concurrency | Cocoon latency p50 ms | worker: request -> end, mean ms | worker: request -> first token, mean ms |', '|---|---|---|---|');
    for (const l of r.levels) L.push(`| ${l.concurrency} | ${f(l.cocoon.latencyMs.p50)} | ${f(l.worker.latencyMs)} | ${f(l.worker.ttftMs)} |`);
    L.push('');
    if (!allMet)
        L.push(
            `**Why the targets are not met.** (1) Throughput: every request in flight shares the gateway's one channel to the worker (this run: \`--channels-per-worker ${r.channelsPerWorker ?? 'default (1)'}\`; the gateway opened ${r.channelsOpened ?? '?'} channel(s)), within the deposit and the worker's credit limit, and each voucher goes to the worker on its own as soon as its receipt is verified. Cocoon's req/s went from ${f(c1.cocoon.rps, 1)} at concurrency 1 to ${f(c32.cocoon.rps, 1)} at ${c32.concurrency}. ` +
                `With several requests in flight the worker's own time per request grows with CPU contention (table above). Beyond that, on ${cpus().length} shared cores the direct path is bound by the upstream's own CPU (~${f((1000 * cpus().length) / Math.max(...r.levels.map((l) => l.direct.rps)), 1)} ms per request at its best rate here), and Cocoon adds two more HTTP servers relaying the 50 chunks, so the ratio is bounded well below 90% on this machine whatever the protocol does. ` +
                `(2) Latency: the protocol's own CPU work per request is now small (section 2: HPKE, signatures, hashes and 50 sealed frames add up to ~${profileCpuMs !== undefined ? f(profileCpuMs, 1) : '1-2'} ms), but every request also makes four SQLite commits on its path (gateway: the attempt record before sending and the receipt+voucher after; worker: the voucher before serving and the receipt before the final frame), two of them fsync'd (the receipt+voucher commits; the two before serving are process-crash durable in WAL and made durable by them), ` +
                `whose cost on this shared VM's disk varies from run to run between ~0.2 and ~4 ms each (${profileFsync ?? 'see section 2'}), and crosses two more processes (gateway and worker: HTTP parsing, JSON per chunk, the worker's own fetch to the upstream, event-loop scheduling with four busy processes on ${cpus().length} cores). The worker accounts for ${f(c1.worker.latencyMs, 1)} ms of the ${f(c1.cocoon.latencyMs.p50, 1)} ms at concurrency 1 (first token after ${f(c1.worker.ttftMs, 1)} ms). The fsync'd receipt commits are the durability rules and stay.`,
            '',
        );
    return L;
}

function pacedSection(r: OverheadResult): string[] {
    const L: string[] = ['### 1b. The same load against a paced upstream', ''];
    const answerMs = r.chunks * r.chunkDelayMs;
    L.push(
        `The same benchmark with the upstream pacing its ${r.chunks} content chunks ${r.chunkDelayMs} ms apart (a model streaming ${f(1000 / r.chunkDelayMs, 0)} tokens/s: about ${answerMs} ms per answer), ` +
            `so the protocol's cost is set against generation time as it is with a real model. The gateway runs with \`--channels-per-worker ${r.channelsPerWorker ?? 'default (1)'}\` and opened ${r.channelsOpened} channel(s): the requests in flight share it, within its deposit and the worker's credit limit; ` +
            `every level warms up with at least two requests per connection first, so no channel opens while measuring. ${r.levels[0] ? `${r.levels.reduce((n, l) => n + l.cocoon.requests, 0)} measured requests through Cocoon in all.` : ''}`,
        '',
    );
    const { lines, c1, c32 } = levelTables(r);
    L.push(...lines);
    L.push('| concurrency | worker: request -> end, mean ms | worker: request -> first token, mean ms |', '|---|---|---|');
    for (const l of r.levels) L.push(`| ${l.concurrency} | ${f(l.worker.latencyMs)} | ${f(l.worker.ttftMs)} |`);
    L.push('');
    L.push(
        `At concurrency ${c1.concurrency} Cocoon adds ${f(c1.cocoon.latencyMs.p50 - c1.direct.latencyMs.p50)} ms to a ${f(c1.direct.latencyMs.p50, 0)} ms answer (${pctOf(c1.cocoon.latencyMs.p50 - c1.direct.latencyMs.p50, c1.direct.latencyMs.p50)}) and ${f(c1.cocoon.ttftMs.p50 - c1.direct.ttftMs.p50)} ms to the first token; ` +
            `at concurrency ${c32.concurrency} it carries ${pctOf(c32.cocoon.rps, c32.direct.rps)} of the direct throughput. ` +
            `Every streamed chunk crosses two more processes (the worker seals it, the gateway opens it and re-serialises it for the app), so on ${cpus().length} cores shared by the load client, the upstream, the worker, the gateway and the devnet the relaying of ${r.chunks} chunks per answer for many answers at once is CPU-bound: the worker's own time per request (table above) grows with concurrency.`,
        '',
    );
    return L;
}

function receiptCost(): bigint {
    return (BigInt(USAGE.prompt_tokens) * DEFAULT_PRICES.prompt + BigInt(USAGE.completion_tokens) * DEFAULT_PRICES.completion) / 1_000_000n;
}

function historySection(r: OverheadResult): string[] {
    let h: any;
    try {
        h = JSON.parse(readFileSync(join(__dirname, 'history.json'), 'utf8'));
    } catch {
        return [];
    }
    const L = [
        '### Before / after the optimisations',
        '',
        h.note,
        '',
        '| concurrency | Cocoon req/s before | after | Cocoon p50 ms before | after | Cocoon TTFT p50 ms before | after |',
        '|---|---|---|---|---|---|---|',
    ];
    for (const b of h.levels) {
        const a = r.levels.find((l) => l.concurrency === b.concurrency);
        if (!a) continue;
        L.push(`| ${b.concurrency} | ${f(b.cocoon.rps, 1)} | ${f(a.cocoon.rps, 1)} | ${f(b.cocoon.p50)} | ${f(a.cocoon.latencyMs.p50)} | ${f(b.cocoon.ttft)} | ${f(a.cocoon.ttftMs.p50)} |`);
    }
    L.push('');
    return L;
}

function profileSection(p: ProfileResult, cost?: ChainCostResult): string[] {
    const L = [
        '## 2. Where the added latency goes',
        '',
        'Each per-request step timed alone (bench/profile.ts, median of up to 200 runs, this process; rows marked "before" time the code the optimisations replaced):',
        '',
        '| step | side | ms | what |',
        '|---|---|---|---|',
    ];
    for (const [k, v] of Object.entries(p)) L.push(`| ${k} | ${v.who} | ${f(v.ms, 3)} | ${v.note} |`);
    if (cost) {
        L.push(`| chain read: channel state | worker | ${f(cost.chainReadMs.channel, 1)} | isDeployed + getState on the devnet (cached 3 s; refreshed ahead, see below) |`);
        L.push(`| chain read: WorkerStake prices | worker | ${f(cost.chainReadMs.workerStake, 1)} | five get-methods on the devnet (cached 3 s; refreshed ahead) |`);
    }
    L.push('');
    L.push(
        'Optimisations made (all existing checks and durability unchanged):',
        '',
        "- **Ed25519 through Node's native crypto** (helpers/ed25519.ts, used by wrappers/receipt.ts and wrappers/voucher.ts): receipts and vouchers were signed and verified by tweetnacl in JavaScript " +
            `(${f(p.ed25519SignTweetnacl?.ms ?? NaN)} ms per signature, ${f(p.ed25519VerifyTweetnacl?.ms ?? NaN)} ms per verification here); OpenSSL does both in ~0.1 ms. Signatures are byte-identical (Ed25519 is deterministic); keys are imported once and cached. This was most of the "HPKE setup" time seen earlier: per request the worker verifies a voucher and signs a receipt, the gateway verifies the receipt and signs a voucher.`,
        `- **HPKE on native crypto** (helpers/hpkeNative.ts, used by helpers/hpke.ts; same RFC 9180 suite and wire format, checked against the RFC vectors and against @hpke/core both ways in tests/worker/hpkeNative.spec.ts): \`@hpke/core\` over WebCrypto's promise API, with the worker's key imported for every request, took ${f(p.hpkeSealHpkeCore?.ms ?? NaN)} ms to seal and ${f(p.hpkeOpenHpkeCore?.ms ?? NaN)} ms to open here; now ${f(p.hpkeSeal.ms)} / ${f(p.hpkeOpen.ms)} ms, keys imported once per key.`,
        '- **Frames of one event-loop turn in one syscall** (worker/src/http/chatResponse.ts and client/src/gateway/index.ts: `cork()`, and `uncork()` in a `setImmediate`): the worker wrote each of the 50 sealed frames and the gateway each of the 50 chunks with its own `writev` (a loopback TCP send each); frames produced in the same turn now leave together (an strace sample of the worker at concurrency 1 showed a few `writev` per request instead of one per frame). No frame waits beyond the end of the turn that produced it, and the final frame still follows the fsync of its receipt.',
        '- **Chain reads refreshed ahead** (worker/src/chain.ts `ChainView`): the channel state and WorkerStake prices are cached for 3 s as before, but past half their life an entry in use is re-read in the background, so under steady load no request waits for the chain; the served state is never older than the same 3 s (payment checks unchanged). (An earlier version of these results claimed this while the code only declared it: every 3 s one request per channel waited ~130 ms for the chain; tests/worker/chainView.spec.ts now holds it.)',
        "- **Answers read over node:http** (helpers/httpPost.ts): the worker read its upstream, and the gateway a worker, with fetch; over node:http with kept-alive connections a 50-chunk answer takes less than half the CPU (streamedAnswer against streamedAnswerFetch above). **X25519 keys as JWK** (helpers/hpkeNative.ts): the ephemeral key of every request was imported or exported as DER, through OpenSSL 3's decoders, about ten times slower than the raw-key calls a JWK maps to.",
        "- **Cells hashed natively in the commands** (helpers/nativeCellHashing.ts, switched on by bin/run.js): @ton/core hashes every cell it builds or parses (receipts, vouchers, chain reads) through @ton/crypto's `sha256_sync`, jssha's JavaScript over a hex copy of the bytes. In CPU profiles of a paced run at concurrency 32 (BENCH_CPU_PROF, 330 requests) that was 3.2% of the worker's busy time and 4.1% of the gateway's; with Node's SHA-256 in its place, hashing is under 1%. The digests are the same (tests/nativeCellHashing.spec.ts). CPU per request moved within this machine's run-to-run noise (paced, concurrency 32, the two alternating, 2026-12-06: worker 10.41 and 10.30 ms without, 10.52 and 9.45 ms with; gateway 8.13 and 8.16 ms without, 8.27 and 7.58 ms with).",
        "- **One get-method per channel read** (PaymentChannel `snapshot`, wrappers/PaymentChannel.ts `getState`): a channel's state took 15 get-method calls, so a worker serving many channels kept its chain endpoint busy (on the devnet here, with 32 channels, the refreshes fell behind and requests waited seconds for channel state: a paced run at concurrency 32 measured 18.8 req/s, p99 8.2 s before, against the figures in 1b after). Now one call per channel and refresh.",
        '',
        "- **One fsync per request on each side** (worker/src/store/store.ts `recordVoucher(v, 'process')`, client/src/store.ts `addAttempt`): the records written before serving (the voucher that arrives with a request, the client's attempt record) are committed in WAL mode without their own fsync. They survive the process being killed (SIGKILL: tests/faults) and are made durable by the fsync'd receipt+voucher commit that follows; a power cut in between can lose only a voucher the client sends again with its next request, or an attempt record whose loss makes a recovered receipt unmatched (refused), never paid twice. Prepared statements are reused in the client store.",
        '',
        "Left as they are, on purpose: the fsync'd receipt+voucher commits (a receipt is on disk before its final frame; the gateway's verified receipt with the voucher it signs), and every payment check. Those commits are group commits (helpers/groupCommit.ts: the requests settling in the same turn share one fsync of the WAL, made off the event loop), and the gateway re-reads a channel it has enough deposit in beside the request, not before it (client/src/channels/ensure.ts).",
        '',
    );
    return L;
}

function costSection(c: ChainCostResult): string[] {
    const gas = readGas();
    const L = ['## 3. On-chain cost', ''];
    const thr = BigInt(c.defaults.claimThreshold);
    const topUp = BigInt(c.defaults.topUpAmount);
    L.push(
        `Defaults: worker claim threshold ${ton(thr)} TON (worker/src/config.ts), client deposit ${ton(c.defaults.deposit)} TON, top-up of ${ton(topUp)} TON when less than ${ton(c.defaults.topUpBelow)} TON is left (client/src/cli.ts). ` +
            `Devnet run (bench/chainCost.ts): ${c.requests} paid requests through the client SDK to a worker whose price makes each cost ${ton(c.costPerRequest)} TON (${ton(c.valueMoved)} TON in all), the worker's claimer running as in production; every external message and its message chain counted.`,
        '',
    );
    L.push(
        "| operation | gas.json fees (TON, chain without the wallet) | devnet: count in run | devnet: transactions each | devnet: fees each (TON, incl. the wallet's) | fees / Cocoon's ~0.01 TON |",
        '|---|---|---|---|---|---|',
    );
    const rows: Array<[string, string, keyof ChainCostResult['ops']]> = [
        ['open channel (client -> Escrow)', 'Escrow.openChannel', 'openChannel'],
        ['top-up (client -> channel)', 'PaymentChannel.topUp', 'topUp'],
        ['claim (worker -> channel -> owner)', 'Network.claim', 'claim'],
    ];
    const perOp: Record<string, number> = {};
    for (const [label, key, kind] of rows) {
        const g = gas[key] ? Number(gas[key].fees) : NaN;
        const o = c.ops[kind];
        const each = o.count ? Number(o.fees) / o.count : kind === 'claim' && c.finalClaim ? Number(c.finalClaim.fees) : NaN;
        const txs = o.count ? o.transactions / o.count : kind === 'claim' && c.finalClaim ? c.finalClaim.transactions : NaN;
        perOp[kind] = Number.isFinite(each) ? each : g;
        L.push(`| ${label} | ${ton(g)} | ${o.count} | ${f(txs, 0)} | ${Number.isFinite(each) ? ton(each) : 'n/a'} | ${f((Number.isFinite(each) ? each : g) / 1e9 / COCOON_OP_FEE_TON)}x |`);
    }
    const close = gas['PaymentChannel.cooperativeClose'] ? Number(gas['PaymentChannel.cooperativeClose'].fees) : NaN;
    L.push(`| close (cooperative, once per channel) | ${ton(close)} | - | - | - | ${f(close / 1e9 / COCOON_OP_FEE_TON)}x |`);
    L.push('');
    const predClaims = Number(BigInt(c.valueMoved)) / Number(thr);
    const predTopUps = Math.max(0, Math.floor((Number(BigInt(c.valueMoved)) - (Number(c.defaults.deposit) - Number(c.defaults.topUpBelow))) / Number(topUp)) + 1);
    L.push(
        `Confirmation: the run moved ${ton(c.valueMoved)} TON; the thresholds predict at most ${f(predClaims, 1)} threshold claims and ${predTopUps} top-up(s); observed ${c.ops.claim.count} threshold claim(s) during the run ` +
            `(+ ${c.finalClaim ? 1 : 0} claim of the remainder at the end), ${c.ops.topUp.count} top-up(s), ${c.ops.openChannel.count} channel open, ${c.ops.other.count} other operation(s). ` +
            '(A claim takes whatever the newest voucher covers when the watcher sees the threshold crossed, so it may take more than the threshold and there are fewer claims than value/threshold.)',
        '',
    );
    L.push(
        'Per 1,000 requests at the default thresholds (operations scale with the value moved: claims = value / claim threshold, an upper bound since a claim may take more than the threshold; top-ups = value / top-up amount; the channel open and close are once per channel, listed apart):',
        '',
    );
    L.push(
        '| request | value per 1,000 requests (TON) | claims | top-ups | transactions | fees (TON) | fees / value | fees / (ops x 0.01 TON) | + once per channel: open + close (TON) |',
        '|---|---|---|---|---|---|---|---|---|',
    );
    const scen: Array<[string, bigint]> = [
        [`overhead-bench request at default prices (${USAGE.prompt_tokens} prompt + ${USAGE.completion_tokens} completion tokens)`, receiptCost()],
        [`devnet-run request (${ton(c.costPerRequest)} TON)`, BigInt(c.costPerRequest)],
    ];
    const txClaim = c.ops.claim.count ? c.ops.claim.transactions / c.ops.claim.count : (c.finalClaim?.transactions ?? 3);
    const txTop = c.ops.topUp.count ? c.ops.topUp.transactions / c.ops.topUp.count : 2;
    for (const [label, per] of scen) {
        const v = Number(per) * 1000;
        const claims = v / Number(thr);
        const tops = v / Number(topUp);
        const fees = claims * perOp.claim + tops * perOp.topUp;
        const txs = claims * txClaim + tops * txTop;
        L.push(
            `| ${label} | ${ton(v)} | ${f(claims, 3)} | ${f(tops, 3)} | ${f(txs, 2)} | ${ton(fees)} | ${pctOf(fees, v)} | ${f(fees / 1e9 / ((claims + tops) * COCOON_OP_FEE_TON))}x | ${ton(perOp.openChannel + close)} |`,
        );
    }
    L.push('');
    L.push(
        `Against Cocoon's documented ~0.01 TON per on-chain payment operation: a claim here costs ${f(perOp.claim / 1e9 / COCOON_OP_FEE_TON)}x that (the channel pays the WorkerStake's owner directly; the protocol fee accrues in the channel and goes to the treasury in bulk), a top-up ${f(perOp.topUp / 1e9 / COCOON_OP_FEE_TON)}x. ` +
            `Per request the on-chain cost is the claim and top-up fees divided by the requests per threshold: at default prices and thresholds a claim happens once per ~${Math.round(Number(thr) / Number(receiptCost())).toLocaleString('en-US')} bench-sized requests.`,
        '',
    );
    return L;
}

/** The line-rate targets: one channel per worker under load, the protocol's added latency, the embedded engine in parallel. */
/** The line-rate figures before that work (bench/line-rate-before.json): same bench, same machine, shortly before. */
interface LineRateBefore {
    _source: string;
    overhead: { channelsOpened: number; levels: Array<{ concurrency: number; ratio: number; addedP50Ms: number; addedTtftMs: number }> };
    paced: { channelsOpened: number; channelsPerWorker: number | null; levels: Array<{ concurrency: number; ratio: number; addedP50Ms: number; addedTtftMs: number }> };
    engine: { speedup8: number };
}

function lineRateSection(res: { overhead?: OverheadResult; paced?: OverheadResult; engine?: EmbeddedResult }): string[] {
    const before: LineRateBefore = JSON.parse(readFileSync(join(__dirname, 'line-rate-before.json'), 'utf8'));
    const rows: string[] = [];
    const level = <L extends { concurrency: number }>(levels: L[] | undefined, c: number) => levels?.find((l) => l.concurrency === c);
    const row = (what: string, was: number | undefined, measured: number | undefined, unit: string, must: number, goal: number, lower: boolean) => {
        if (measured === undefined || !Number.isFinite(measured)) return;
        const ok = (limit: number) => (lower ? measured <= limit : measured >= limit);
        const show = (x: number | undefined) => (x === undefined ? 'n/a' : `${f(x)}${unit}`);
        rows.push(
            `| ${what} | ${show(was)} | ${show(measured)} | ${lower ? '<=' : '>='} ${must}${unit} | ${lower ? '<=' : '>='} ${goal}${unit} | ${ok(goal) ? 'goal met' : ok(must) ? 'must met' : 'not met'} |`,
        );
    };
    const pct = (x: { ratio: number } | undefined) => x && 100 * x.ratio;
    row(
        `paced upstream, concurrency 32: throughput vs direct (before through ${before.paced.channelsOpened} channels, now ${res.paced?.channelsOpened ?? '?'})`,
        pct(level(before.paced.levels, 32)),
        pct(level(res.paced?.levels, 32)),
        '%',
        80,
        95,
        false,
    );
    row('paced, concurrency 1: added p50', level(before.paced.levels, 1)?.addedP50Ms, level(res.paced?.levels, 1)?.addedP50Ms, ' ms', 4, 2, true);
    row('paced, concurrency 1: added time to first token', level(before.paced.levels, 1)?.addedTtftMs, level(res.paced?.levels, 1)?.addedTtftMs, ' ms', 3, 1, true);
    row('unpaced upstream, concurrency 32: throughput vs direct', pct(level(before.overhead.levels, 32)), pct(level(res.overhead?.levels, 32)), '%', 15, 30, false);
    row('channels the gateway opened over the unpaced run (up to 32 requests at once)', before.overhead.channelsOpened, res.overhead?.channelsOpened, '', 1, 1, true);
    const parallel = (res.engine as { parallel?: { speedup8?: number; ttftRatio16?: number } } | undefined)?.parallel;
    row('embedded engine, 8 concurrent: aggregate tokens/s vs one alone', before.engine.speedup8, parallel?.speedup8, 'x', 1.5, 3, false);
    row('embedded engine, 16 concurrent: p50 time to first token vs a lone request', undefined, parallel?.ttftRatio16, 'x', 10, 3, true);
    if (rows.length === 0) return [];
    return ['### Line rate: targets', '', `"Before" is ${before._source} (bench/line-rate-before.json).`, '', '| measure | before | now | must | goal | |', '|---|---|---|---|---|---|', ...rows, ''];
}

/** The per-request steps of bench/profile.ts that the worker or the gateway must take (two HTTP hops: the gateway serving the app and calling the worker, the worker serving the gateway and calling the upstream). */
const REQUIRED_STEPS: Array<[step: string, times: number]> = [
    ['hpkeSeal', 1],
    ['hpkeOpen', 1],
    ['frames', 1],
    ['voucherVerify', 1],
    ['receiptSign', 1],
    ['receiptVerify', 1],
    ['voucherSign', 1],
    ['digests', 1],
    ['streamedAnswer', 2],
    ['storeVoucher', 1],
    ['storeReceipt', 1],
    ['clientStorePayment', 1],
];

/** Steps on the way to the first token, and from the last chunk to the end of the answer, each once (besides the hops). */
const BEFORE_FIRST_TOKEN = ['hpkeSeal', 'hpkeOpen', 'voucherVerify', 'storeVoucher'];
const AFTER_LAST_CHUNK = ['receiptSign', 'storeReceipt', 'receiptVerify', 'clientStorePayment'];

/**
 * What the line-rate musts leave for the worker and the gateway. Where the
 * machine's cores are the limit a run carries about cores x 1000 / (CPU ms
 * per request of every process) requests a second, so a throughput ratio
 * against direct sets a CPU budget per request, of which the load client,
 * the upstream and the devnet take their share first. Set against the
 * worker's and the gateway's measured CPU, and against the steps the
 * protocol requires of every request, each timed alone (bench/profile.ts).
 * The latency musts are set against the same steps on a lone request's path.
 */
function lineRateBudgetSection(res: { overhead?: OverheadResult; paced?: OverheadResult; profile?: ProfileResult }): string[] {
    const p = res.profile;
    const has = (ks: string[]) => p !== undefined && ks.every((k) => p[k] !== undefined);
    const sum = (ks: string[]) => ks.reduce((a, k) => a + p![k].ms, 0);
    // storeReceipt and clientStorePayment fsync as they are timed; a process waiting for its disk spends no CPU.
    const requiredCpu = has(REQUIRED_STEPS.map(([k]) => k).concat('rawFsync')) ? REQUIRED_STEPS.reduce((a, [k, n]) => a + n * p![k].ms, 0) - 2 * p!.rawFsync.ms : undefined;
    const rows: string[] = [];
    const budget = (what: string, r: OverheadResult | undefined, must: number) => {
        const l = r?.levels.find((x) => x.concurrency === 32);
        const m = l?.machineCpuMsPerRequest;
        if (!r || !l || !m) return;
        const needed = must * l.direct.rps;
        const perRequest = (1000 * r.cores) / needed;
        const others = m.cocoon.load + m.cocoon.upstream + (m.cocoon.devnet ?? 0);
        const left = perRequest - others;
        const daemons = (m.cocoon.worker ?? 0) + (m.cocoon.gateway ?? 0);
        const verdict =
            requiredCpu === undefined
                ? ''
                : requiredCpu > left
                  ? 'the required steps alone are over it'
                  : `the required steps fit; the rest is ${f(daemons - requiredCpu)} ms against ${f(left - requiredCpu)} ms left`;
        rows.push(
            `| ${what} | ${f(l.direct.rps, 1)} | ${f(needed, 1)} | ${f(perRequest)} | ${f(m.cocoon.load)} + ${f(m.cocoon.upstream)} + ${f(m.cocoon.devnet ?? 0)} | ${f(left)} | ${f(m.cocoon.worker ?? NaN)} + ${f(m.cocoon.gateway ?? NaN)} = ${f(daemons)} | ${requiredCpu === undefined ? 'n/a' : f(requiredCpu)} | ${f(l.cocoon.rps, 1)} (${f((1000 * r.cores) / m.cocoon.total, 1)}) | ${verdict} |`,
        );
    };
    budget('paced, concurrency 32: >= 80% of direct', res.paced, 0.8);
    budget('unpaced, concurrency 32: >= 15% of direct', res.overhead, 0.15);
    if (rows.length === 0) return [];
    const cores = (res.paced ?? res.overhead)!.cores;
    const L = [
        '### Line rate: what the musts leave for the worker and the gateway',
        '',
        `The load client, the upstream, the worker, the gateway and the devnet share this machine's ${cores} cores, and at concurrency 32 Cocoon's runs are bound by them: a run carries about ${cores} x 1000 / (the CPU ms per request of all five processes) requests a second (in brackets below, against the measured req/s). ` +
            'A throughput must is therefore a CPU budget per request. The load client, the upstream and the devnet spend their share of it first (their CPU per request in the same Cocoon run); what is left is what the worker and the gateway may spend together (bench/overhead.ts `machineCpuMsPerRequest`: CPU from /proc and process.cpuUsage over each run). ' +
            `"Required steps" is the CPU of what the protocol asks of every request in the two daemons, each step timed alone in a hot loop (section 2: ${REQUIRED_STEPS.map(([k, n]) => (n > 1 ? `${n} x ${k}` : k)).join(', ')}; less the two fsync waits, which spend no CPU): HPKE both ways, every frame sealed and opened, two Ed25519 signatures and two verifications, the ledger records, and the two HTTP hops Cocoon adds. It leaves out the HTTP servers' routing, request validation, the admission and the gateway's OpenAI API layer, which the measured figures include.`,
        '',
        '| must | direct req/s | req/s it needs | CPU ms per request, all processes | load client + upstream + devnet, ms | left for worker + gateway, ms | worker + gateway measured, ms | required steps, ms | Cocoon req/s (CPU-bound estimate) | |',
        '|---|---|---|---|---|---|---|---|---|---|',
        ...rows,
        '',
    ];
    const c1 = res.paced?.levels.find((l) => l.concurrency === 1);
    const hop = res.overhead?.levels.find((l) => l.concurrency === 1)?.direct.ttftMs.p50;
    if (c1 && hop !== undefined && has([...BEFORE_FIRST_TOKEN, ...AFTER_LAST_CHUNK])) {
        const first = 2 * hop + sum(BEFORE_FIRST_TOKEN);
        const end = first + sum(AFTER_LAST_CHUNK);
        L.push(
            `A lone request (paced, concurrency 1) is not bound by the cores but by its path, which crosses two more processes than the direct one. One loopback HTTP hop with its first chunk back takes ${f(hop)} ms here (unpaced, concurrency 1: the direct time to first token); Cocoon adds two. ` +
                `Before the first token the request also takes ${BEFORE_FIRST_TOKEN.join(', ')}, ${f(first)} ms with the two hops against the must of 3 ms (measured: ${f(c1.addedTtftMs)} ms); ` +
                `after the last chunk the receipt is signed, committed with fsync, verified and committed with fsync by the gateway (${AFTER_LAST_CHUNK.join(', ')}), ${f(end)} ms in all against the must of 4 ms added at p50 (measured: ${f(c1.addedP50Ms)} ms). ` +
                "These are sums of steps timed alone in a hot loop; on a request's path each also waits for its process's event loop.",
            '',
        );
    }
    return L;
}

/**
 * An A/B of bench/overhead.ts, the same runs back to back on both sides of a
 * change (`file`: unpaced at concurrency 32, and paced at 1 and 32).
 */
function overheadAbSection(file: string, title: string, what: string, conclusion: string): string[] {
    type Unpaced = { cocoonRps: number; directRps: number; workerCpuMs: number; gatewayCpuMs: number };
    type Paced = { ratio1: number; addedP50Ms1: number; addedTtftMs1: number; ratio32: number; workerCpuMs32?: number; gatewayCpuMs32?: number };
    const ab: { _source: string; unpaced32: Record<'before' | 'after', Unpaced[]>; paced: Record<'before' | 'after', Paced[]> } = JSON.parse(readFileSync(join(__dirname, file), 'utf8'));
    const runs = (xs: unknown[]) => `${xs.length} run${xs.length === 1 ? '' : 's'}`;
    const row = (what: string, pick: (side: 'before' | 'after') => number[], d = 1, unit = '') => `| ${what} | ${f(mean(pick('before')), d)}${unit} | ${f(mean(pick('after')), d)}${unit} |`;
    const pacedCpu = ab.paced.before.every((r) => r.workerCpuMs32 !== undefined) && ab.paced.after.every((r) => r.workerCpuMs32 !== undefined);
    return [
        `### ${title}`,
        '',
        `${what} Means of each side's runs (${ab._source}).`,
        '',
        '| measure | before | after |',
        '|---|---|---|',
        row(`unpaced, concurrency 32: throughput vs direct (${runs(ab.unpaced32.before)} / ${runs(ab.unpaced32.after)})`, (s) => ab.unpaced32[s].map((r) => (100 * r.cocoonRps) / r.directRps), 1, '%'),
        row('unpaced, concurrency 32: Cocoon req/s', (s) => ab.unpaced32[s].map((r) => r.cocoonRps)),
        row('unpaced, concurrency 32: worker CPU ms per request', (s) => ab.unpaced32[s].map((r) => r.workerCpuMs), 2),
        row('unpaced, concurrency 32: gateway CPU ms per request', (s) => ab.unpaced32[s].map((r) => r.gatewayCpuMs), 2),
        row(`paced, concurrency 32: throughput vs direct (${runs(ab.paced.before)} / ${runs(ab.paced.after)})`, (s) => ab.paced[s].map((r) => 100 * r.ratio32), 1, '%'),
        ...(pacedCpu
            ? [
                  row('paced, concurrency 32: worker CPU ms per request', (s) => ab.paced[s].map((r) => r.workerCpuMs32!), 2),
                  row('paced, concurrency 32: gateway CPU ms per request', (s) => ab.paced[s].map((r) => r.gatewayCpuMs32!), 2),
              ]
            : []),
        row('paced, concurrency 1: throughput vs direct', (s) => ab.paced[s].map((r) => 100 * r.ratio1), 1, '%'),
        row('paced, concurrency 1: added p50', (s) => ab.paced[s].map((r) => r.addedP50Ms1), 2, ' ms'),
        row('paced, concurrency 1: added time to first token', (s) => ab.paced[s].map((r) => r.addedTtftMs1), 2, ' ms'),
        '',
        conclusion,
        '',
    ];
}

/** A WorkerStake read once for all the worker needs of it (worker/src/chain.ts), bench/stake-read-ab.json. */
function stakeReadSection(): string[] {
    type Run = { cocoonRps: number; directRps: number; workerCpuMs: number; gatewayCpuMs: number; devnetCpuMs: number; machineCpuMs: number };
    const ab: { _source: string; paced: Record<'before' | 'after', Run[]>; unpaced: Record<'before' | 'after', Run[]> } = JSON.parse(readFileSync(join(__dirname, 'stake-read-ab.json'), 'utf8'));
    const L = [
        '### One read of a WorkerStake: before and after',
        '',
        "The worker's chain view read its WorkerStake's record six times at every refresh (every 1.5 s under load): once for the price schedule and five times for its view (state, attestation, prices in force, whether active, payout Escrow: one get-method each), with an isDeployed before each of the two, eight calls to the chain endpoint in all. One read (isDeployed and the `record` get-method) now serves both, so the schedule and the view also always come from the same block; the gateway's worker discovery (client/src/discovery.ts) likewise reads a WorkerStake once instead of five times. tests/worker/chainView.spec.ts counts the get-methods. What it saves is mostly the chain endpoint's work: here the devnet, which runs in the bench process, whose CPU per request is the devnet column.",
        '',
        `Medians of each side's runs (${ab._source})`,
        '',
        '| concurrency 32 | before: Cocoon req/s | after | before: ratio to direct | after | before: devnet CPU ms/request | after | before: worker | after | before: gateway | after | before: all processes | after |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ];
    for (const mode of ['paced', 'unpaced'] as const) {
        // Medians: a run that falls on one of this shared machine's slow spells moves a mean of three.
        const m = (side: 'before' | 'after', pick: (r: Run) => number) => median(ab[mode][side].map(pick));
        const pair = (pick: (r: Run) => number, d = 2) => `${f(m('before', pick), d)} | ${f(m('after', pick), d)}`;
        L.push(
            `| ${mode} (${ab[mode].before.length} / ${ab[mode].after.length} runs) | ${pair((r) => r.cocoonRps, 1)} | ${f(
                m('before', (r) => (100 * r.cocoonRps) / r.directRps),
                1,
            )}% | ${f(
                m('after', (r) => (100 * r.cocoonRps) / r.directRps),
                1,
            )}% | ${pair((r) => r.devnetCpuMs)} | ${pair((r) => r.workerCpuMs)} | ${pair((r) => r.gatewayCpuMs)} | ${pair((r) => r.machineCpuMs)} |`,
        );
    }
    L.push(
        '',
        "The devnet's CPU per request fell by more than half; the worker's and the gateway's, and the throughput, moved within this machine's noise. The musts above stay out of reach on this machine.",
        '',
    );
    return L;
}

/** The deltas of one turn in one chunk (worker/src/http/deltaBatch.ts), bench/turn-batch-ab.json. */
function turnBatchSection(): string[] {
    return overheadAbSection(
        'turn-batch-ab.json',
        'Deltas of one turn in one chunk: before and after',
        'The worker seals the deltas its engine delivered in one event-loop turn as one chunk (worker/src/http/deltaBatch.ts), so a worker behind its engine seals, and the gateway opens and re-serialises, one frame for them instead of one each; nothing waits past the end of its turn, and what the receipt commits to is unchanged.',
        'Where chunks arrive one per turn (a lone paced request) nothing changes beyond the noise; where the worker falls behind (concurrency 32) it does less per token. The musts above stay out of reach on this machine.',
    );
}

/** Streamed answers read over node:http rather than fetch (helpers/httpPost.ts), bench/http-client-ab.json. */
function httpClientSection(): string[] {
    return overheadAbSection(
        'http-client-ab.json',
        'Answers read over node:http: before and after',
        'Every streamed answer is read twice on its way (the worker reads its upstream, the gateway reads the worker), and the gateway posts each voucher; those three now go over node:http with kept-alive connections (helpers/httpPost.ts) instead of fetch, whose WHATWG streams took about twice the CPU per 50-chunk answer (section 2: streamedAnswer against streamedAnswerFetch). With them, the X25519 keys of the HPKE setup cross into and out of OpenSSL as JWK rather than DER (section 2: hpkeSeal, hpkeOpen), and the worker keeps one idle timer per upstream stream instead of a timer and a promise race per chunk.',
        'Less CPU per request on both sides, so more requests through the same two cores where they are the limit (concurrency 32); a lone request moves within the noise. The musts above stay out of reach on this machine.',
    );
}

/** Every cost target, before the economics work and now, from bench/gas-before.json and bench/gas.json (no measuring). */
function economicsSection(): string[] {
    const now = readGas();
    const before: Record<string, { gasUsed: number; fees: string }> = JSON.parse(readFileSync(join(__dirname, 'gas-before.json'), 'utf8'));
    const show = (t: CostTarget, x: bigint | undefined) => (x === undefined ? 'n/a' : t.unit === 'gas' ? `${Number(x).toLocaleString('en-US')} gas` : `${ton(x)} TON`);
    const L = [
        '## 3a. On-chain economics: before and after',
        '',
        `Whole message chain through the real network contracts, sandbox prices (basechain gas 400 nanoTON), from \`npm run bench:gas\` (bench/gas.json). "Before" is ${String(before._source ?? 'bench/gas-before.json')}. ` +
            'Rows a user sends from a wallet are also measured with a real v4r2 and v5r1 wallet as the sender, its own transaction included. "must" is a hard cap the gas suites assert (tests/gas/Network.gas.spec.ts, AttestationVerifier.gas.spec.ts, P256Harness.gas.spec.ts, P384Harness.gas.spec.ts, Sha384RsaHarness.gas.spec.ts; targets in bench/economics.ts), except for the SEV-SNP totals, which are over theirs (section 3b).',
        '',
        '| operation | bench/gas.json row | before | after | must | goal | |',
        '|---|---|---|---|---|---|---|',
    ];
    for (const t of COST_TARGETS) {
        const b = before[t.row] ? figureOf(t, before[t.row]) : undefined;
        const a = now[t.row] ? figureOf(t, now[t.row]) : undefined;
        const verdict = a === undefined ? 'not measured' : a <= t.goal ? 'goal met' : a <= t.must ? 'must met' : 'over the must';
        L.push(`| ${t.label} | \`${t.row}\` | ${show(t, b)} | ${show(t, a)} | ${show(t, t.must)} | ${show(t, t.goal)} | ${verdict} |`);
        for (const wallet of ['v4r2', 'v5r1']) {
            const row = `${t.row}.${wallet}`;
            if (!now[row] && !before[row]) continue;
            const bw = before[row] ? figureOf(t, before[row]) : undefined;
            const aw = now[row] ? figureOf(t, now[row]) : undefined;
            L.push(`| ... from a ${wallet} wallet | \`${row}\` | ${show(t, bw)} | ${show(t, aw)} | | | |`);
        }
    }
    L.push('');
    return L;
}

/** What AMD SEV-SNP attestation costs on chain, step by step, from bench/gas.json (no measuring). */
function snpSection(): string[] {
    const g = readGas();
    const rows: Array<[string, string, string]> = [
        ['SHA384.block', 'SHA-384 of one 128-byte block in a transaction (each further block: about 123,000 gas)', 'tests/gas/Sha384RsaHarness.gas.spec.ts'],
        ['RSA4096PSS.verify', 'RSA-4096 RSASSA-PSS verification, all its transactions (harness)', 'tests/gas/Sha384RsaHarness.gas.spec.ts'],
        ['P384.verify', 'ECDSA P-384 verification, all its transactions (harness)', 'tests/gas/P384Harness.gas.spec.ts'],
        ['AttestationVerifier.snp.askCertificate', "the real Milan ASK under AMD's ARK: its TBS hashed, the RSA-PSS check, cached", 'tests/gas/AttestationVerifierSnp.gas.spec.ts'],
        ['AttestationVerifier.snp.vcekCertificate', 'the real Milan VCEK under the ASK', 'tests/gas/AttestationVerifierSnp.gas.spec.ts'],
        ['AttestationVerifier.snp.report', 'a report: its 672 signed bytes hashed, the P-384 check, the fields, AttestationRecorded', 'tests/gas/AttestationVerifierSnp.gas.spec.ts'],
        ['AttestationVerifier.total.snpColdMachine', 'a new machine: its VCEK and a report (the ASK cached by anyone before)', 'tests/gas/AttestationVerifierSnp.gas.spec.ts'],
        ['AttestationVerifier.total.snpReattestation', 'a re-attestation: the report alone', 'tests/gas/AttestationVerifierSnp.gas.spec.ts'],
    ];
    const L = [
        '## 3b. AMD SEV-SNP on chain',
        '',
        "Every AMD verification is resumable: each transaction does a share sized to stay under one transaction's 1,000,000 gas (wrappers/snp/steps.ts), the verifier keeping the progress under the hash of the exact inputs. Gas summed over all the transactions of each; fees are the whole message chains, sandbox prices.",
        '',
        '| what | bench/gas.json row | gas | fees (TON) | measured by |',
        '|---|---|---|---|---|',
    ];
    for (const [row, what, by] of rows) {
        const e = g[row];
        L.push(`| ${what} | \`${row}\` | ${e ? e.gasUsed.toLocaleString('en-US') : 'n/a'} | ${e ? ton(e.fees) : 'n/a'} | ${by} |`);
    }
    L.push(
        '',
        "**The re-attestation is within its must; the cold machine is over it** (2.5 TON). Before this round: 3.183897 TON cold, 1.598738 TON re-attestation, P384.verify 2,645,936 gas. The P-384 ladder is now affine, each step's slope brought by its transaction and checked against its tangent or chord equation mod p (four field products a doubling and three an addition, against nine and ten in XYZZ coordinates), the four doublings of a window one block with one reduction, and the zero checks shorter; a report's signature windows and a certificate's RSA-PSS phases go on by the job's id (ContinueSnpReport, ContinueAmdCertificate), so the report, the key and the hint, or the certificate and the issuer's modulus, travel only while hashing. What is left is mostly SHA-384: TVM has no SHA-384 (SHA-512 with another initial value), so it is SHA-512's compression in TVM code, about 123,000 gas a 128-byte block (5,594 instructions, near the minimum for 80 rounds on 64-bit words in 257-bit integers); a certificate's TBS takes 8 to 10 blocks, EMSA-PSS-VERIFY 11 more (MGF1 over 463 bytes and H'), and a report 6. RSA-4096's seventeen modular steps with checked quotient and remainder hints take about 62,000 gas each. Data costs too: a message's bits are paid on import and on forwarding (about 800 nanoTON a bit from a wallet), so the slopes (2,688 bits a window, about 0.12 TON a report) are a tenth of a re-attestation. What would cut the cold machine further: Karatsuba on the RSA products (about 15% of the modular part), the round constants read from a slice rather than pushed (about 2% of each SHA-384 block); together not the 0.24 TON the must needs, which would take hashing fewer bytes on chain (the VCEK is cached per chip and TCB, so its cost is paid once per machine and firmware update).",
        '',
    );
    return L;
}

function engineSection(e: EmbeddedResult): string[] {
    const L = ['## 4. Embedded engine', ''];
    L.push(
        `The generated demo model (worker/src/inference/demoModel.ts, seed 42: ${e.model.layers} layers, embedding ${e.model.embeddingLength}, vocabulary ${e.model.vocabSize}, ${f(e.model.bytes / 2 ** 20, 1)} MiB), CPU, 1 thread, context 1024, ` +
            `the same two-message prompt, max tokens ${e.maxTokens}, temperature 0.8, seed 7; after one warm-up each, ${e.runs} runs per side interleaved (worker, direct, worker, ...) so both see the same machine load; figures are medians over the runs. Worker: \`EmbeddedBackend\` (node-llama-cpp in its engine child process, tokens over IPC${e.parallel ? `, its default ${e.parallel.sequences} sequences in the context` : ''}); memory is the engine process's. Direct: node-llama-cpp's LlamaChat in a process of its own (bench/lib/llamaDirect.ts).`,
        '',
    );
    L.push('| figure | worker embedded backend | node-llama-cpp direct | worker / direct |', '|---|---|---|---|');
    const row = (name: string, a: number, b: number, d = 1) => L.push(`| ${name} | ${f(a, d)} | ${f(b, d)} | ${f(a / b)} |`);
    row('tokens/s (end to end)', e.worker.tokensPerSec, e.direct.tokensPerSec);
    row('decode tokens/s (after the first token)', e.worker.decodeTokensPerSec, e.direct.decodeTokensPerSec);
    row('time to first token, ms', e.worker.firstTokenMs, e.direct.firstTokenMs, 2);
    row('completion tokens per run', e.worker.runs.reduce((a, r) => a + r.tokens, 0) / e.worker.runs.length, e.direct.runs.reduce((a, r) => a + r.tokens, 0) / e.direct.runs.length);
    row('resident memory, MiB', e.worker.rssMiB, e.direct.rssMiB);
    row('peak resident memory, MiB', e.worker.peakRssMiB, e.direct.peakRssMiB);
    const meanTokens = e.worker.runs.reduce((a, r) => a + r.tokens, 0) / e.worker.runs.length;
    if (meanTokens < e.maxTokens) L.push('', `The model ended its answer (end-of-turn token) after ${f(meanTokens, 0)} tokens, below max tokens, on both sides alike.`);
    L.push(
        '',
        "The demo model is tiny (it generates thousands of tokens per second), so this measures the engine host's per-token overhead (one IPC message per token) at its worst; with a real model the per-token compute dominates.",
        '',
    );
    // Results saved before the parallel part existed have none.
    const p = e.parallel;
    if (!p) return L;
    L.push('### Parallel requests', '');
    L.push(
        `The same worker backend with its default ${p.sequences} sequences (one context, their decoding batched; more requests wait for a free sequence). Each round sends 8 requests one at a time, then 8 others at once, then 16 at once; ${p.rounds} rounds; every request has a prompt and seed of its own, max tokens ${p.maxTokens}. Tokens/s: completion tokens over the summed request times (one at a time) or over the wall time of each batch.`,
        '',
    );
    L.push('| figure | value | must | goal |', '|---|---|---|---|');
    L.push(`| one at a time: tokens/s (${p.lone.requests} requests, ${p.lone.completionTokens} tokens) | ${f(p.lone.tokensPerSec, 0)} | | |`);
    L.push(`| one at a time: median time to first token, ms | ${f(p.lone.firstTokenMs, 1)} | | |`);
    for (const b of [p.concurrent8, p.concurrent16])
        L.push(
            `| ${b.requests} at once: tokens/s (${b.completionTokens} tokens); time to first token p50 / max, ms | ${f(b.tokensPerSec, 0)}; ${f(b.firstTokenMsP50, 1)} / ${f(b.firstTokenMsMax, 1)} | | |`,
        );
    const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
    L.push(`| \`parallel.speedup8\` (8 at once / one at a time, tokens/s) | ${f(p.speedup8)} | ≥ 1.5: ${verdict(p.speedup8 >= 1.5)} | ≥ 3: ${verdict(p.speedup8 >= 3)} |`);
    L.push(`| \`parallel.ttftRatio16\` (16 at once p50 / one at a time, first token) | ${f(p.ttftRatio16)} | ≤ 10: ${verdict(p.ttftRatio16 <= 10)} | ≤ 3: ${verdict(p.ttftRatio16 <= 3)} |`, '');
    return L.concat(enginePlanSection());
}

/** The engine's batching A/Bs: the parallel part run alone, before and after, back to back (bench/engine-*-ab.json). */
function enginePlanSection(): string[] {
    return [
        ...engineAbSection(
            'engine-plan-ab.json',
            'The batch plan: before and after',
            "Each engine step's batch is planned by worker/src/inference/batchPlan.ts: the generating sequences' next tokens, then on a CPU at most 128 prompt tokens, oldest prompt first (the last in part), so under a burst the first requests start answering after their own prompts rather than after all sixteen; the step is in ascending sequence id, and among free sequences holding as much of a prompt the lowest id is handed out, so llama.cpp computes the sequences in use in fewer graphs (with a KV cache per sequence it starts a new graph wherever the next id in the batch is not the previous plus one).",
            "The price is paid at the end of a burst: the answers already streaming take their share of every step, so the last of sixteen requests waits longer than when all sixteen prompts went in one step. Lone requests are unchanged beyond the noise. Both musts hover at their lines on this machine; on a CPU a step of several sequences costs about as much as their tokens (a demo-model token about 1.2 ms here whatever the batch), so batching wins little beyond overlapping the host's work with the decoding.",
        ),
        ...engineAbSection(
            'engine-step-gate-ab.json',
            'Every generating sequence in every step: before and after',
            "node-llama-cpp decodes the next step as soon as the last one's tokens are all sampled, while the sequences whose samples came back last are still carrying their tokens through their generators (a few promise turns); those missed the step, and kept missing steps by taking turns with the others: four greedy requests at once averaged 2.0 sequences a step, and the gaps in the sequence ids split steps into more graphs. The engine now plans nothing, up to 16 times in a row, while a sequence of the last step has yet to queue its next token (StepGate in worker/src/inference/batchPlan.ts); node-llama-cpp then decodes nothing, yields for about two promise turns, and asks again. tests/worker/embedded.spec.ts checks that four greedy requests of 80 tokens at once average more than 3.3 sequences a step (4.0 with the gate, 2.0 without it).",
            'Every run after the change measured a speedup8 of at least 1.50; eight at once gained about 7% in tokens/s, and one request alone is unchanged within the noise. The price is at the start of a burst: sixteen at once took about 6% longer to their median first token and 12% longer to the last one, as each step now carries every answer already streaming, which lengthens the steps that also evaluate the later prompts; in these runs the mean ttftRatio16 went from just under its must of 10 to just over it, with a run-to-run spread wider than the change. What is left is the shape of the bench and the CPU: answers end at random lengths, so the last requests of a batch of eight decode alone or in twos for much of its wall time; and a step of eight demo-model tokens (one graph) took about 3.3 ms to decode and 1.4 ms to sample, against 0.85 and 0.2 ms for one.',
        ),
    ];
}

/** One engine A/B: means of each side's runs of the parallel part. */
function engineAbSection(file: string, heading: string, intro: string, outro: string): string[] {
    const ab: { _source: string; before: ParallelResult[]; after: ParallelResult[] } = JSON.parse(readFileSync(join(__dirname, file), 'utf8'));
    const row = (what: string, pick: (r: ParallelResult) => number, d = 1) => `| ${what} | ${f(mean(ab.before.map(pick)), d)} | ${f(mean(ab.after.map(pick)), d)} |`;
    return [
        `#### ${heading}`,
        '',
        `${intro} Means of each side's runs (${ab._source}).`,
        '',
        `| figure | before (${ab.before.length} runs) | after (${ab.after.length} runs) |`,
        '|---|---|---|',
        row('one at a time: tokens/s', (r) => r.lone.tokensPerSec, 0),
        row('one at a time: median time to first token, ms', (r) => r.lone.firstTokenMs),
        row('8 at once: tokens/s', (r) => r.concurrent8.tokensPerSec, 0),
        row('16 at once: time to first token p50, ms', (r) => r.concurrent16.firstTokenMsP50),
        row('16 at once: time to first token max, ms', (r) => r.concurrent16.firstTokenMsMax),
        row('`parallel.speedup8`', (r) => r.speedup8, 2),
        row('`parallel.ttftRatio16`', (r) => r.ttftRatio16, 2),
        '',
        outro,
        '',
    ];
}

function suitesSection(r: SuitesResult): string[] {
    const L = ['## 5. Fault and fuzz suites (long variants)', ''];
    L.push(
        `\`npm test\` runs tests/faults and tests/fuzz at their CI sizes (a 15 s chain outage; each property's default number of runs). Here they ran in their long variants (${Object.entries(r.env)
            .map(([k, v]) => `\`${k}=${v}\``)
            .join(
                ', ',
            )}: the chain unreachable for a full minute, every fuzz property ${r.env.FUZZ_RUNS ? `at FUZZ_RUNS=${r.env.FUZZ_RUNS}` : 'at its default'}). Reproduce: \`FAULT_LONG=1 FUZZ_RUNS=${r.env.FUZZ_RUNS} npx jest -i tests/faults tests/fuzz\` (or \`npm run test:faults:long\`, \`npm run test:fuzz:long\`).`,
        '',
    );
    L.push('| suite | passed | failed | seconds |', '|---|---|---|---|');
    for (const x of r.files) L.push(`| ${x.file} | ${x.passed} | ${x.failed} | ${f(x.seconds, 0)} |`);
    L.push(`| **all** | **${r.passed}** | **${r.failed}** | **${f(r.seconds, 0)}** |`, '');
    for (const x of r.files) for (const fail of x.failures ?? []) L.push(`Failed in ${x.file}: **${fail.test}**`, '', '```', fail.message.trim(), '```', '');
    return L;
}

/** Figures of the first-minutes issue, measured on a clean clone of this machine class before the change. */
const FIRST_MINUTES_BEFORE = {
    firstStart: 'about 180 s (6 min with npm ci)',
    laterStart: '112 s',
    lines: 'about 119 KB: contract hex dumps, JSON logs',
    silence: '28 s (TypeScript compiling)',
    stop: 'npm exited at once; the worker, the gateway and the devnet kept running with their ports',
    help: '8 to 20 s (npm run client or worker -- --help)',
    tests: 24.7 * 60,
    suites: 'the fault suite 323 s, WorkerStake 168 s, P256 79 s, Staking 74 s',
};

function firstMinutesSection(r: FirstMinutesResult): string[] {
    const b = FIRST_MINUTES_BEFORE;
    const L = ['## 6. First minutes', ''];
    L.push(
        "The real commands as a newcomer runs them (bench/firstMinutes.ts): `npm start` with its contracts compiled and a fresh state directory, then again over the same state; SIGTERM to npm's own process id, as a service manager sends it, until no process of the group is left; each command's `--help`. \"Before\" is the issue's measurement on a clean clone of this machine class.",
        '',
        '| what | before | now | target | |',
        '|---|---|---|---|---|',
        `| \`npm start\` until the gateway answers (contracts compiled, fresh state) | ${b.firstStart} | ${f(r.firstStart.readySeconds, 1)} s | ≤ 60 s | ${met(r.firstStart.readySeconds <= 60)} |`,
        `| a later \`npm start\` (state and build reused) | ${b.laterStart} | ${f(r.laterStart.readySeconds, 1)} s | ≤ 20 s | ${met(r.laterStart.readySeconds <= 20)} |`,
        `| lines before the ready banner (first start) | ${b.lines} | ${r.firstStart.linesBeforeBanner} | ≤ 40 | ${met(r.firstStart.linesBeforeBanner <= 40)} |`,
        `| longest silence before the banner (first start) | ${b.silence} | ${f(r.firstStart.longestSilenceSeconds, 1)} s | ≤ 5 s | ${met(r.firstStart.longestSilenceSeconds <= 5)} |`,
        `| SIGTERM to npm until every process is gone | ${b.stop} | ${f(r.laterStart.stopSeconds, 1)} s, none left | bounded | ${met(true)} |`,
    );
    for (const h of r.help) L.push(`| \`${h.command} --help\` (node / npm run) | ${b.help} | ${f(h.direct, 2)} s / ${f(h.viaNpm, 2)} s | ≤ 1 s | ${met(h.direct <= 1)} |`);
    L.push('');
    return L;
}

function testSuitesSection(r: TestSuitesResult): string[] {
    const b = FIRST_MINUTES_BEFORE;
    const L = ['## 7. Test suites (`npm test`)', ''];
    const c = r.cleanClone;
    // Results saved before the bench used a clean clone timed the working tree, whose ts-jest cache was warm.
    const where = c
        ? `in a clean clone of commit ${c.commit.slice(0, 7)} after its own \`npm ci\` and \`npm run build\` (${f(c.npmCiSeconds / 60, 1)} and ${f(c.buildSeconds / 60, 1)} min, not counted), the steps CI runs before its Tests step: no transform cached for its paths, npm test's own build finding every contract built.`
        : 'here in a working tree whose ts-jest cache is warm,';
    const halved = r.seconds <= b.tests / 2;
    const verdict = halved && !c ? 'met in this working tree; a clean clone also transforms every file on its first run, so check it there (CI: `bash .ci/run`)' : met(halved);
    L.push(
        `The whole suite as CI runs it (\`npm test\`: the build, then jest), ${where} ${r.passed} tests passed, ${r.failed} failed, in ${f(r.seconds / 60, 1)} min (${c ? `jest ${f((r.jestSeconds ?? r.seconds) / 60, 1)} min; ` : ''}before: ${f(b.tests / 60, 1)} min on a clean clone of this machine class, ${b.suites}; target: at most half, ${f(b.tests / 120, 1)} min, on a clean clone: ${verdict}). Suites run on two jest workers (or one per spare core on larger machines, jest.config.ts), so their times overlap.`,
        '',
    );
    L.push(
        "The suites that deploy a network the way a deployer does (`npx blueprint run deployNetwork` against a devnet: tests/devnet, tests/faults, tests/client/e2e.spec.ts, embedded.spec.ts, currentSdks.spec.ts, tests/worker/devnet.spec.ts) waited on ts-node type-checking the script on every run, about 15 s of CPU each time (a CPU profile of the `blueprint run` process: 12.6 s of its 26 s in the type checker). tsconfig.json now has ts-node compile without type-checking, as jest's transform already did; `npm run typecheck` (CI's type-check step) checks every file once. On a fresh clone in CI (`bash .ci/run`, this machine, 2026-12-06) the Tests step took 12.9 min before that change (commit 5d5f8b3: jest 759 s; tests/devnet/deployNetwork.spec.ts 100 s, tests/faults/faults.spec.ts 154 s) and 10.8 min after it (commit 956a4e3: jest 638 s; 32 s and 118 s).",
        '',
    );
    // The same machine the same day, before ts-jest stopped type-checking each file (bench/tests-before-today.json).
    const today: { _source: string; jestSeconds: number; slowest: Array<{ file: string; seconds: number }> } = JSON.parse(readFileSync(join(__dirname, 'tests-before-today.json'), 'utf8'));
    // The same machine the same day, before the test environment ran the emulator and @ton/core in the worker's realm (bench/tests-before-realm.json).
    const realm: { _source: string; jestSeconds: number; suites: Array<{ file: string; seconds: number }> } = JSON.parse(readFileSync(join(__dirname, 'tests-before-realm.json'), 'utf8'));
    const now = new Map(r.files.map((x) => [x.file, x.seconds]));
    L.push(
        `Earlier the same day, before jest's TypeScript transform stopped type-checking every file on its own (the type-check is \`tsc --noEmit\`'s, CI's type-check step), jest alone took ${f(today.jestSeconds / 60, 1)} min (${today._source}). That machine ran about twice as slow that day as on the day of the 11.8-minute run recorded here before (tests/P256.spec.ts 53.0 s against 22.3 s then, tests/Staking.spec.ts 63.3 s against 28.6 s), so no figure of that day can be set against the 24.7-minute anchor.`,
        '',
        '### The test environment: before and after',
        '',
        `Most of the suites' time was the sandbox's JavaScript running inside jest's per-file context, where every read of a global (\`BigInt\`, \`Buffer\`, \`performance\`) goes through the context's interceptors: TVM's emulator asks its glue for the time about once every ten gas units, and the sandbox serialises, re-parses and re-hashes a contract's whole state around each transaction, hashing every cell with jssha's JavaScript SHA-256. The test environment (tests/jest/environment.ts) now loads the emulator's glue and @ton/core once per jest worker in the worker's own realm and hands them to the test files, and @ton/core hashes cells with Node's SHA-2 (tests/jest/nativeSha.ts in jssha's place, checked against jssha by tests/jest/nativeSha.spec.ts; tests/jest/environment.spec.ts checks that @ton/core hashes through it). No test or assertion changed. One RSA-4096 verification in a test file: 0.9 s before, 0.44 s after with the emulator's glue alone moved (plain Node: 0.43 s). Before: ${realm._source}; jest took ${f(realm.jestSeconds / 60, 1)} min. After: this run.`,
        '',
        '| suite | before (s) | after (s) |',
        '|---|---|---|',
    );
    for (const x of realm.suites.slice(0, 15)) L.push(`| ${x.file} | ${f(x.seconds, 1)} | ${now.has(x.file) ? f(now.get(x.file)!, 1) : 'n/a'} |`);
    L.push(`| **jest, all suites (wall)** | **${f(realm.jestSeconds, 0)}** | **${f(r.jestSeconds ?? r.seconds, 0)}** |`, '');
    L.push('### Every suite (this run)', '', '| suite | tests | seconds |', '|---|---|---|');
    for (const x of r.files) L.push(`| ${x.file} | ${x.tests} | ${f(x.seconds, 1)} |`);
    L.push('');
    return L;
}

async function main() {
    let started = new Date();
    let res: {
        overhead?: OverheadResult;
        paced?: OverheadResult;
        profile?: ProfileResult;
        cost?: ChainCostResult;
        engine?: EmbeddedResult;
        suites?: SuitesResult;
        first?: FirstMinutesResult;
        tests?: TestSuitesResult;
    } = {};
    // --render: rewrite the Markdown from bench/results.json without measuring.
    const render = flag('render', 'BENCH_RENDER') === '1';
    if (render) {
        const saved = JSON.parse(readFileSync(resultsFile, 'utf8'));
        res = saved;
        started = new Date(saved.date);
        only.clear();
    }
    // A partial run (--only) keeps the other sections from the last saved run, and says so.
    let kept: string[] = [];
    let keptFrom = '';
    if (!render && only.size < SECTIONS.length) {
        try {
            const saved = JSON.parse(readFileSync(resultsFile, 'utf8'));
            kept = SECTIONS.filter((k) => !only.has(k) && saved[k] !== undefined);
            for (const k of kept) (res as Record<string, unknown>)[k] = saved[k];
            keptFrom = String(saved.date);
        } catch {
            kept = [];
        }
    }
    if (only.has('profile')) {
        log('profile');
        res.profile = await runProfile(quick ? 100 : 200);
    }
    if (only.has('overhead')) {
        log(`protocol overhead: levels ${levels.join(',')}, ${requests} requests each`);
        res.overhead = await runOverhead({ levels, requests, warmup: Math.max(5, Math.floor(requests / 10)), channelsPerWorker: channels, log });
    }
    if (only.has('paced') && pacedMs > 0) {
        log(`protocol overhead, paced upstream (${pacedMs} ms a chunk): levels ${levels.join(',')}, ${pacedRequests} requests each, the gateway's default channels per worker`);
        res.paced = await runOverhead({ levels, requests: pacedRequests, warmup: 5, channelsPerWorker: channels, chunkDelayMs: pacedMs, log });
    }
    if (only.has('cost')) {
        log(`on-chain cost: ${costRequests} requests`);
        res.cost = await runChainCost({ requests: costRequests, log });
    }
    if (only.has('engine')) {
        log('embedded engine');
        res.engine = await runEmbedded({ maxTokens: quick ? 256 : 512, runs: quick ? 5 : 9, log });
    }
    if (only.has('suites')) {
        log(`fault and fuzz suites, long variants (FAULT_LONG=1, FUZZ_RUNS=${fuzzRuns})`);
        res.suites = await runSuites({ fuzzRuns, faultLong: true, log });
    }
    if (only.has('first')) {
        log('first minutes: npm start (contracts compiled, then state reused), SIGTERM, --help');
        res.first = await runFirstMinutes({ log });
    }
    if (only.has('tests')) {
        log('npm test, per suite');
        res.tests = await runTestSuites({ log });
    }
    const m = machine();
    const saved = res as { args?: string; quick?: boolean; options?: string };
    const args = render ? (saved.args ?? '') : process.argv.slice(2).join(' ');
    const isQuick = render ? saved.quick === true : quick;
    const options = render
        ? (saved.options ?? '')
        : `${requests} measured requests per concurrency level and path (levels ${levels.join(', ')}); ${costRequests} requests in the on-chain cost run; engine: max tokens ${quick ? 256 : 512}, ${quick ? 5 : 9} runs per side${pacedMs > 0 ? `; paced overhead run: ${pacedRequests} measured requests per level, ${pacedMs} ms a chunk` : ''}`;
    const L: string[] = [];
    L.push('# Cocoon on TON: benchmark results', '');
    L.push(
        `Generated by \`${isQuick && !/--quick/.test(args) ? 'BENCH_QUICK=1 ' : ''}npm run bench${args ? ' -- ' + args : ''}\`${isQuick ? ' (quick mode)' : ''} on ${started.toISOString()} (took ${f(((res as { took?: number }).took ?? Date.now() - started.getTime()) / 60000, 1)} min).`,
        '',
    );
    L.push(
        `Reproduce: \`npm run bench\` (full: about 7 minutes here, 5 of them the long fault and fuzz suites; \`BENCH_QUICK=1 npm run bench\` for a quick pass; \`--only=overhead,paced,profile,cost,engine\` leaves the suites out; options in bench/run.ts). Gas per operation: \`npm run bench:gas\` (bench/gas.json). Raw figures: bench/results.json.`,
        '',
    );
    if (options) L.push(`Options: ${options}.`, '');
    const keptNote = render
        ? (saved as { keptNote?: string }).keptNote
        : kept.length
          ? `Sections ${kept.join(', ')}: kept from the run of ${keptFrom} (this run measured ${[...only].join(', ')}).`
          : undefined;
    if (keptNote) L.push(keptNote, '');
    L.push('| machine | |', '|---|---|');
    L.push(`| CPU | ${m.cpu} |`, `| cores | ${m.cores} |`, `| memory | ${f(m.memoryGiB, 1)} GiB |`, `| node | ${m.node} |`, `| OS | ${m.os} |`);
    L.push('');
    L.push(
        `> **Note:** this was measured on a shared ${m.cores}-core development VM, so the figures are noisy (latency percentiles especially, which move by several ms between runs). Re-run on a quiet, dedicated machine for reference figures.`,
        '',
    );
    if (res.overhead) L.push(...overheadSection(res.overhead, res.profile), ...historySection(res.overhead));
    if (res.paced) L.push(...pacedSection(res.paced));
    L.push(...lineRateSection(res));
    L.push(...lineRateBudgetSection(res));
    L.push(...turnBatchSection());
    L.push(...stakeReadSection());
    L.push(...httpClientSection());
    if (res.profile) L.push(...profileSection(res.profile, res.cost));
    if (res.cost) L.push(...costSection(res.cost));
    L.push(...economicsSection());
    L.push(...snpSection());
    if (res.engine) L.push(...engineSection(res.engine));
    if (res.suites) L.push(...suitesSection(res.suites));
    if (res.first) L.push(...firstMinutesSection(res.first));
    if (res.tests) L.push(...testSuitesSection(res.tests));
    writeFileSync(out, L.join('\n'));
    if (!render)
        writeFileSync(
            resultsFile,
            JSON.stringify(
                { machine: m, date: started.toISOString(), quick, args, options, took: Date.now() - started.getTime(), keptNote, ...res },
                (_k, v) => (typeof v === 'bigint' ? v.toString() : v),
                2,
            ) + '\n',
        );
    log(`wrote ${out}`);
}

main().then(
    () => process.exit(0),
    (e) => {
        console.error(e);
        process.exit(1);
    },
);
