/**
 * `cocoon-devnet`: serves a local TON network (toncenter v2 API over
 * @ton/sandbox) until Ctrl-C. See devnet/README.md.
 */
import { Command, InvalidArgumentError } from 'commander';
import { RunningDevnet, startDevnet } from './server';
import { DevnetConfigInput } from './config';
import { cocoonVersion } from '../helpers/version';
import { stopWithParentIfAsked } from '../helpers/parentWatch';

function number(value: string): number {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new InvalidArgumentError('not a number');
    return n;
}

/** The banner: endpoint, development wallets and how to use them. */
export function describeDevnet(d: RunningDevnet): string {
    const lines = [
        `Cocoon devnet listening on ${d.url}`,
        `  toncenter v2 API  ${d.endpoint}`,
        `  readiness         ${d.url}/ready`,
        `  chain time        x${d.config.timeScale}; POST ${d.url}/admin/advance-time {"seconds": N}`,
        `  faucet            POST ${d.url}/admin/faucet {"address": "...", "amount": "10"}`,
        `  state             ${d.config.state ?? '(in memory; use --state <file> to keep the chain)'}`,
        '',
        'Development mnemonic (public: never send real funds to these wallets):',
        `  ${d.config.mnemonic}`,
        'Pre-funded wallets:',
        ...d.chain.wallets.map(
            (w) =>
                `  #${w.index} ${w.version}  ${w.address.toString()}  ${Object.entries(w.env)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(' ')}`,
        ),
        '',
        'Deploy Cocoon into it:',
        `  WALLET_MNEMONIC="${d.config.mnemonic}" WALLET_VERSION=v4r2 \\`,
        `    npx blueprint run deployNetwork --custom ${d.endpoint} --custom-version v2 --custom-type custom --mnemonic`,
    ];
    return lines.join('\n');
}

export async function main(argv = process.argv) {
    const program = new Command()
        .name('cocoon-devnet')
        .version(cocoonVersion())
        .description('A local TON network for Cocoon: the toncenter v2 API over @ton/sandbox')
        .option('--host <host>', 'address to listen on', '127.0.0.1')
        .option('-p, --port <port>', 'port to listen on (0: any free port)', number, 8081)
        .option('--state <file>', 'keep the chain in this file across restarts')
        .option('--time-scale <factor>', 'chain seconds per wall-clock second', number, 1)
        .option('--accounts <n>', 'development accounts per wallet version', number, 4)
        .option('--wallet-balance <ton>', 'initial balance of each development wallet', number, 100_000)
        .option('--block-delay <ms>', 'delay before each sent message is processed', number, 0)
        .option('--log-level <level>', 'pino log level (logs go to stderr)', 'info')
        .option('--mnemonic <words>', 'development mnemonic (default: the fixed, printed one)', process.env.COCOON_DEVNET_MNEMONIC)
        .parse(argv);
    const o = program.opts();
    const input: DevnetConfigInput = {
        host: o.host,
        port: o.port,
        state: o.state,
        timeScale: o.timeScale,
        accounts: o.accounts,
        walletBalance: o.walletBalance,
        blockDelay: o.blockDelay,
        logLevel: o.logLevel,
        ...(o.mnemonic ? { mnemonic: o.mnemonic } : {}),
    };
    const devnet = await startDevnet(input);
    console.log(describeDevnet(devnet));

    let stopping = false;
    const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        devnet.logger.info({ signal }, 'shutting down');
        devnet.close().then(
            () => process.exit(0),
            (e) => {
                console.error(e);
                process.exit(1);
            },
        );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    stopWithParentIfAsked(() => stop('parent exited'));
}

if (require.main === module) {
    main().catch((e) => {
        console.error(e instanceof Error ? e.message : e);
        process.exit(1);
    });
}
