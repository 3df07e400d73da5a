/**
 * `npm start`: the embedded default. Runs the whole Cocoon network on this
 * machine (scripts/local/localNetwork.ts): a devnet, the contracts, a worker
 * with the embedded engine on a generated demo model and simulated
 * attestation, and the OpenAI-compatible gateway; prints how to call it and
 * serves until Ctrl-C or SIGTERM, then stops every child cleanly.
 *
 * The ports are checked first, then the contracts and commands are built
 * (only what changed), then the network starts. The terminal gets numbered
 * phases and, once ready, one line per request served; the children's logs
 * go to files under <dir>/logs/.
 *
 * Environment (all optional):
 *   COCOON_LOCAL_DIR      working directory (temp/local): chain, worker, gateway ledger, logs
 *   COCOON_DEVNET_STATE   chain file (<dir>/devnet-state.json); "memory" keeps none
 *   COCOON_DEVNET_PORT    8081    COCOON_WORKER_PORT 8090    COCOON_GATEWAY_PORT 8080
 *   COCOON_MODEL_PATH     serve this GGUF file instead of the demo model
 *   COCOON_UPSTREAM_URL   serve through this OpenAI-compatible server instead
 *   COCOON_UPSTREAM_MODEL its model name        COCOON_MODEL_NAME the name apps use
 *   COCOON_PRICES         prompt,cached,completion,reasoning in nanoTON per million tokens
 *   COCOON_THREADS        inference threads of the embedded engine (1)
 *   COCOON_VERBOSE=1      print stack traces with errors
 */
import { Progress } from '../../helpers/progress';
import { nextFreePort, portHolder, portProblem } from '../../helpers/ports';
import { whenOrphaned } from '../../helpers/parentWatch';
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { LocalNetworkOptions, defaultOptions, localPorts } from './localOptions';

const verbose = process.env.COCOON_VERBOSE === '1' || process.argv.includes('--verbose');

/** A mistake the user can fix: printed as it is, without a stack trace. */
class UsageError extends Error {}

/** Fails in a second, naming the holder and the way out, when a port is taken. */
async function checkPorts(o: LocalNetworkOptions): Promise<void> {
    const ports = localPorts(o);
    const problems: string[] = [];
    const chosen = ports.map((p) => p.port);
    for (const p of ports) {
        const code = await portProblem(p.port);
        if (code === undefined) continue;
        const holder = code === 'EADDRINUSE' ? portHolder(p.port) : undefined;
        const free = await nextFreePort(p.port + 1, chosen);
        if (free !== undefined) chosen.push(free);
        problems.push(
            `port ${p.port} (${p.what}) ${code === 'EADDRINUSE' ? `is in use${holder ? ` by ${holder}` : ''}` : `cannot be listened on (${code})`}: ` +
                (free !== undefined ? `stop that process, or start on ${free}, which is free: ${p.env}=${free} npm start` : `stop that process, or set ${p.env} to a free port`),
        );
    }
    if (problems.length) throw new UsageError(problems.join('\n'));
}

/** One line per request the worker served, from its JSON log; warnings and errors of the children as one line each. */
function summarise(name: string, line: string): void {
    if (!line.startsWith('{')) return;
    let entry: { level?: number; msg?: string; cost?: number | string; usage?: Record<string, number>; ms?: number; finishReason?: string; err?: { message?: string } };
    try {
        entry = JSON.parse(line);
    } catch {
        return;
    }
    if (entry.msg === 'request served' && entry.usage) {
        const u = entry.usage;
        console.log(
            `${new Date().toTimeString().slice(0, 8)} served ${u.promptTokens} prompt + ${u.completionTokens} completion tokens in ${entry.ms} ms (${entry.finishReason}), cost ${entry.cost ?? 0} nanoTON`,
        );
    } else if ((entry.level ?? 0) >= 40) {
        console.log(`${new Date().toTimeString().slice(0, 8)} [${name}] ${(entry.level ?? 0) >= 50 ? 'error' : 'warning'}: ${entry.msg ?? ''}${entry.err?.message ? ` (${entry.err.message})` : ''}`);
    }
}

/**
 * `npm run build` in a child process: compiling a contract keeps its event
 * loop busy for seconds, and here the progress heartbeat must keep running.
 */
let buildChild: ChildProcess | undefined;
function buildInChild(note: (line: string) => void): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = (buildChild = spawn(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', join(__dirname, 'build.ts')], { stdio: ['ignore', 'pipe', 'pipe'] }));
        let partial = '';
        let errors = '';
        child.stdout.on('data', (d: Buffer) => {
            const lines = (partial + d.toString('utf8')).split('\n');
            partial = lines.pop()!;
            for (const line of lines) if (line.trim()) note(line);
        });
        child.stderr.on('data', (d: Buffer) => (errors += d.toString('utf8')));
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new UsageError(`the build failed (exit ${code}):\n${errors.trim()}`))));
    });
}

async function main() {
    const progress = new Progress(5, (line) => console.log(line));
    let options: LocalNetworkOptions;
    try {
        options = defaultOptions(process.env, progress);
    } catch (e) {
        throw new UsageError((e as Error).message);
    }
    await checkPorts(options);

    // A stop asked for while starting stops whatever has started.
    const startup = new AbortController();
    let building = true;
    let stopRequested: (why: string) => void = (why) => {
        if (building) {
            // Nothing runs yet but the build.
            buildChild?.kill('SIGTERM');
            console.log(`\n${why}: stopped while building`);
            process.exit(130);
        }
        console.log(`\n${why}: stopping what has started...`);
        startup.abort();
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stopRequested(signal));
    whenOrphaned(() => stopRequested('the parent process exited'));

    progress.phase('building the contracts and the commands (only what changed)');
    await buildInChild((line) => progress.note(line));
    building = false;
    // The network's code needs the compiled contracts: it is loaded after the build.
    const { startLocalNetwork, describeLocalNetwork } = await import('./localNetwork');
    const network = await startLocalNetwork({ ...options, signal: startup.signal, childLine: summarise });
    progress.finish();
    console.log(describeLocalNetwork(network, options.model));

    let stopping = false;
    const stop = (why: string, code: number) => {
        if (stopping) {
            console.log('already stopping; the children are finishing (the worker may wait for a claim to confirm)');
            return;
        }
        stopping = true;
        console.log(`\n${why}: stopping the gateway, the worker and the devnet...`);
        network.stop().then(
            () => {
                console.log('stopped');
                process.exit(code);
            },
            (e) => {
                console.error(e instanceof Error ? e.message : e);
                process.exit(1);
            },
        );
    };
    stopRequested = (why) => stop(why, 0);
    void network.childFailed.then((description) => {
        console.error(`\n${description}`);
        stop('a child failed', 1);
    });
}

main().catch((error) => {
    if (error instanceof UsageError || !verbose) console.error(error instanceof Error ? error.message : error);
    else console.error(error);
    if (!(error instanceof UsageError) && !verbose) console.error('(COCOON_VERBOSE=1 npm start shows the stack trace)');
    process.exit(1);
});
