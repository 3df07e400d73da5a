import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { Address, fromNano, toNano } from '@ton/core';
import { KeyPair, keyPairFromSeed, mnemonicValidate } from '@ton/crypto';
import { TonClient } from '@ton/ton';
import { writeSecretFile } from '../../helpers/secretFile';
import { ChannelStatus, ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { DEFAULT_MODEL_NAME, DEVNET_MNEMONIC, devnetExplorerOf } from '../../wrappers/devnet';
import { tonClientOpener } from '../../wrappers/toncenter';
import { OperatorWallet, WalletVersion } from '../../wrappers/wallet';
import { CocoonClient, CocoonError } from './client';
import { buildGateway } from './gateway';
import { ResponseStore } from './gateway/responseStore';
import { rankWorkers } from './gateway/ranking';
import { ClientStore } from './store';
import { cocoonVersion } from '../../helpers/version';
import { stopWithParentIfAsked } from '../../helpers/parentWatch';

/**
 * `cocoon-client`: the gateway and a few commands over the SDK. Settings
 * come from options or the environment (options win):
 *
 *   COCOON_ENDPOINT        toncenter v2 JSON-RPC endpoint (a devnet serves one)
 *   COCOON_STAKING         Staking contract address
 *   COCOON_API_KEY         toncenter API key (optional)
 *   COCOON_MNEMONIC_FILE   file with the paying wallet's mnemonic (mode 0600);
 *                          on a devnet the development wallet is used without one
 *   COCOON_GATEWAY_API_KEYS comma-separated keys the gateway requires (optional)
 *
 * The directory (`--dir`, default .cocoon-client) holds the channel key
 * (generated on first use, mode 0600) and the ledger of channels, receipts
 * and vouchers.
 */

export interface CliIo {
    out: (line: string) => void;
    env: NodeJS.ProcessEnv;
}

interface CommonOptions {
    endpoint?: string;
    staking?: string;
    dir: string;
    mnemonicFile?: string;
    walletVersion: WalletVersion;
    deposit: string;
    topUpBelow: string;
    channelsPerWorker?: string;
}

function channelKey(dir: string): KeyPair {
    const path = join(dir, 'channel.key');
    if (!existsSync(path)) {
        try {
            writeSecretFile(path, randomBytes(32).toString('hex') + '\n');
        } catch (e) {
            // Another process created it first, whole (the write is atomic): use that one.
            if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
    }
    const text = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/i.test(text)) throw new Error(`${path} does not hold a 32-byte hex seed`);
    return keyPairFromSeed(Buffer.from(text, 'hex'));
}

export interface Session {
    ton: TonClient;
    wallet: OperatorWallet;
    store: ClientStore;
    client: CocoonClient;
    close(): void;
}

export async function openSession(o: CommonOptions, io: CliIo): Promise<Session> {
    const endpoint = o.endpoint ?? io.env.COCOON_ENDPOINT;
    const staking = o.staking ?? io.env.COCOON_STAKING;
    if (!endpoint) throw new Error('give --endpoint or COCOON_ENDPOINT (toncenter v2 JSON-RPC)');
    if (!staking) throw new Error('give --staking or COCOON_STAKING (the Staking contract address)');
    const dir = resolve(o.dir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ton = new TonClient({ endpoint, apiKey: io.env.COCOON_API_KEY });
    const mnemonicFile = o.mnemonicFile ?? io.env.COCOON_MNEMONIC_FILE;
    let words: string[];
    if (mnemonicFile) {
        words = readFileSync(mnemonicFile, 'utf8').trim().split(/\s+/);
        if (!(await mnemonicValidate(words))) throw new Error(`${mnemonicFile} does not hold a valid TON mnemonic`);
    } else if (/127\.0\.0\.1|localhost/.test(endpoint)) {
        words = DEVNET_MNEMONIC.split(' '); // the devnet's pre-funded development wallet
    } else throw new Error('give --mnemonic-file or COCOON_MNEMONIC_FILE: the wallet that pays for channels');
    if (o.channelsPerWorker !== undefined && !/^([1-9]|[1-5][0-9]|6[0-4])$/.test(String(o.channelsPerWorker))) throw new Error('--channels-per-worker takes a whole number from 1 to 64');
    const wallet = await OperatorWallet.open(ton, words, o.walletVersion);
    const store = ClientStore.open(join(dir, 'store.db'));
    const client = new CocoonClient({
        opener: tonClientOpener(ton),
        staking: Address.parse(staking),
        wallet: wallet.sender() as ReturnType<OperatorWallet['sender']> & { address: Address },
        channelKey: channelKey(dir),
        store,
        deposit: toNano(o.deposit),
        topUpBelow: toNano(o.topUpBelow),
        channelsPerWorker: o.channelsPerWorker === undefined ? undefined : Number(o.channelsPerWorker),
        log: (msg, extra) => io.out(`${msg}${extra ? ' ' + JSON.stringify(extra) : ''}`),
    });
    return { ton, wallet, store, client, close: () => store.close() };
}

export function buildCli(io: CliIo = { out: (l) => console.log(l), env: process.env }): Command {
    const program = new Command('cocoon-client').description('Cocoon client: an OpenAI-compatible gateway paying workers per verified receipt').version(cocoonVersion()).exitOverride();
    const common = (c: Command) =>
        c
            .option('--endpoint <url>', 'toncenter v2 JSON-RPC endpoint (or COCOON_ENDPOINT)')
            .option('--staking <address>', 'Staking contract address (or COCOON_STAKING)')
            .option('-d, --dir <dir>', 'directory for the channel key and the ledger', '.cocoon-client')
            .option('--mnemonic-file <file>', 'paying wallet mnemonic (or COCOON_MNEMONIC_FILE)')
            .option('--wallet-version <v>', 'v4 or v5r1', 'v4')
            .option('--deposit <ton>', 'deposit of each new channel, TON', '2')
            .option('--top-up-below <ton>', 'top up a channel when less than this is left, TON', '0.5');

    common(program.command('gateway'))
        .description('serve the OpenAI-compatible API (default http://127.0.0.1:8080/v1)')
        .option('--host <host>', 'listen address', '127.0.0.1')
        .option('--port <n>', 'listen port', '8080')
        .option('--api-key <key...>', 'require one of these bearer keys (or COCOON_GATEWAY_API_KEYS)')
        .option('--allowed-host <name...>', 'without API keys, answer these host names too besides localhost (a local reverse proxy; or COCOON_GATEWAY_ALLOWED_HOSTS)')
        .option(
            '--channels-per-worker <n>',
            'channels to one worker at most: requests share a channel while its deposit covers them, and another is opened only when no top-up of an idle one can',
            '1',
        )
        .action(async (o) => {
            const s = await openSession(o, io);
            const apiKeys: string[] = o.apiKey ?? (io.env.COCOON_GATEWAY_API_KEYS ?? '').split(',').filter(Boolean);
            const responses = ResponseStore.open(join(o.dir, 'responses.db'));
            const explorer = await devnetExplorerOf(o.endpoint ?? io.env.COCOON_ENDPOINT ?? '');
            const allowedHosts: string[] = o.allowedHost ?? (io.env.COCOON_GATEWAY_ALLOWED_HOSTS ?? '').split(',').filter(Boolean);
            const app = buildGateway({ client: s.client, apiKeys, responses, explorer, allowedHosts });
            await app.listen({ host: o.host, port: Number(o.port) });
            const addr = app.server.address();
            const port = typeof addr === 'object' && addr ? addr.port : Number(o.port);
            io.out(`cocoon gateway listening on http://${o.host}:${port}/v1${apiKeys.length ? ' (API key required)' : ''}`);
            io.out(`console: http://${o.host}:${port}/`);
            await new Promise<void>((done) => {
                let stopping = false;
                const stop = () => {
                    if (stopping) return;
                    stopping = true;
                    app.close().finally(() => {
                        responses.close();
                        s.close();
                        done();
                    });
                };
                process.on('SIGINT', stop);
                process.on('SIGTERM', stop);
                stopWithParentIfAsked(stop, io.env);
            });
        });

    common(program.command('models'))
        .description('models with verified live workers, and their prices (TON per million tokens)')
        .option('--all', 'also the allowed models no live worker serves now')
        .action(async (o) => {
            const s = await openSession(o, io);
            try {
                let hidden = 0;
                for (const m of await s.client.discovery.allowedModels()) {
                    const r = await s.client.discovery.workers(m.name);
                    // A model nobody serves cannot be asked for: listed on request only, and counted below.
                    if (r.workers.length === 0 && r.rejected.length === 0 && !o.all) {
                        hidden++;
                        continue;
                    }
                    io.out(`${m.name}: ${r.workers.length} worker(s)${r.rejected.length ? `, ${r.rejected.length} rejected` : ''}`);
                    for (const w of r.workers)
                        io.out(
                            `  ${w.workerStake.toString()} ${w.endpoint} on ${w.tee}; TON per million tokens: prompt ${fromNano(w.prices.prompt)}, cached ${fromNano(w.prices.cached)}, completion ${fromNano(w.prices.completion)}, reasoning ${fromNano(w.prices.reasoning)}`,
                        );
                    for (const x of r.rejected) io.out(`  rejected ${x.workerStake}: ${x.reason}`);
                }
                if (hidden > 0) io.out(`(${hidden} allowed model(s) with no live worker not shown: --all lists them)`);
            } finally {
                s.close();
            }
        });

    common(program.command('chat'))
        .description('one prompt from the terminal, answered by the best verified worker (measured success and latency, then price)')
        .argument('<prompt>', 'the user message')
        .option('-m, --model <name>', 'model', DEFAULT_MODEL_NAME)
        .option('--max-tokens <n>', 'most tokens to generate', '256')
        .action(async (prompt: string, o) => {
            const s = await openSession(o, io);
            try {
                const workers = rankWorkers(await s.client.workers(o.model), (w) => s.client.statsOf(w));
                if (workers.length === 0) throw new Error(`no verified worker serves ${o.model}`);
                let last: unknown;
                for (const w of workers) {
                    try {
                        const r = await s.client.call(w, { model: o.model, messages: [{ role: 'user', content: prompt }], max_tokens: Number(o.maxTokens) });
                        io.out(r.content);
                        io.out(
                            `-- ${r.final.usage?.prompt_tokens} prompt + ${r.final.usage?.completion_tokens} completion tokens, cost ${r.cost} nanoTON (${fromNano(r.cost)} TON), receipt ${r.receipt?.requestId ?? 'none'} verified`,
                        );
                        return;
                    } catch (e) {
                        last = e;
                        if (e instanceof CocoonError && e.delivered) break;
                    }
                }
                throw last;
            } finally {
                s.close();
            }
        });

    const channels = common(program.command('channels')).description('channels in the ledger with their on-chain state');
    channels
        .option('--close <address>', 'close this channel: cooperatively (the worker co-signs the final voucher; paid and refunded at once), else by request (finalise after the close delay)')
        .option('--no-cooperative', 'with --close: skip the cooperative close, ask to close at once')
        .option('--finalize <address>', 'finalise a channel whose close delay has passed (the rest returns)')
        .action(async (o) => {
            const s = await openSession(o, io);
            try {
                if (o.close) {
                    const r = await s.client.closeChannel(o.close, { cooperative: o.cooperative !== false });
                    if (r.mode === 'requested')
                        io.out(
                            `close requested: ${Address.parse(o.close).toString()}; finalise after ${new Date((r.closeDeadline ?? 0) * 1000).toISOString()} with --finalize${r.reason ? ` (not cooperative: ${r.reason})` : ''}`,
                        );
                    else io.out(`${r.mode === 'cooperative' ? 'closed cooperatively' : 'already closed'}: worker paid ${fromNano(r.paid)} TON, refunded ${fromNano(r.refunded)} TON`);
                    return;
                }
                if (o.finalize) {
                    const row = s.store.channel(Address.parse(o.finalize).toString());
                    if (!row) throw new Error(`${o.finalize} is not in the ledger`);
                    const ch = s.client.o.opener.open(ExtendedPaymentChannel.fromAddress(Address.parse(row.address)));
                    await ch.sendFinalize(s.wallet.sender());
                    s.store.setState(row.address, 'closed');
                    io.out(`finalise sent: ${row.address}`);
                    return;
                }
                for (const row of s.store.channels()) {
                    let chain = '';
                    try {
                        const ch = s.client.o.opener.open(ExtendedPaymentChannel.fromAddress(Address.parse(row.address)));
                        const st = await ch.getState();
                        chain = ` on chain: ${ChannelStatus[st.status]}, deposit ${fromNano(st.deposit)} TON, paid ${fromNano(st.paid)} TON`;
                    } catch {
                        chain = ' on chain: unreadable';
                    }
                    io.out(
                        `${row.address} worker ${row.workerStake} ${row.state}: receipts ${fromNano(row.verified)} TON, vouched ${fromNano(row.vouched)} TON, left ${fromNano(row.deposit - row.verified)} TON;${chain}`,
                    );
                }
            } finally {
                s.close();
            }
        });

    common(program.command('balance'))
        .description('wallet balance and what the open channels still hold')
        .action(async (o) => {
            const s = await openSession(o, io);
            try {
                const bal = await s.wallet.balance();
                const open = s.store.channels().filter((c) => c.state === 'open');
                const left = open.reduce((a, c) => a + (c.deposit - c.verified), 0n);
                io.out(`wallet ${s.wallet.address.toString()}: ${fromNano(bal)} TON`);
                io.out(`open channels: ${open.length}, unspent deposits ${fromNano(left)} TON`);
            } finally {
                s.close();
            }
        });
    return program;
}

export async function main(argv: string[] = process.argv.slice(2), io?: CliIo): Promise<void> {
    await buildCli(io).parseAsync(argv, { from: 'user' });
}
