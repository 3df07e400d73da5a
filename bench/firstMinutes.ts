import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT, processGroupAlive } from '../scripts/lib/daemon';
import { freePort, pollUntil } from '../helpers/poll';

/**
 * A newcomer's first minutes, timed with the real commands: `npm start`
 * (contracts compiled, fresh state) until the gateway answers, a second
 * start over the saved state, SIGTERM to npm until every process is gone,
 * the commands' --help, and the whole `npm test` per suite.
 */

export interface StartRun {
    /** Seconds from `npm start` until GET /v1/models answered. */
    readySeconds: number;
    /** Lines printed before the ready banner. */
    linesBeforeBanner: number;
    /** The longest gap between two lines before the banner, seconds. */
    longestSilenceSeconds: number;
    /** Seconds from SIGTERM to npm's pid until no process of the group was left. */
    stopSeconds: number;
}

export interface FirstMinutesResult {
    /** Contracts compiled (their digest removed first), fresh state directory. */
    firstStart: StartRun;
    /** The same state directory again: contracts, deployment, worker and channels reused. */
    laterStart: StartRun;
    /** Best of three, seconds: `node <bin> --help` and `npm run -s <script> -- --help`. */
    help: Array<{ command: string; direct: number; viaNpm: number }>;
}

async function timeStart(dir: string, log?: (l: string) => void): Promise<StartRun> {
    const gatewayPort = await freePort();
    const env = {
        ...process.env,
        COCOON_LOCAL_DIR: dir,
        COCOON_DEVNET_PORT: String(await freePort()),
        COCOON_WORKER_PORT: String(await freePort()),
        COCOON_OPERATOR_PORT: String(await freePort()),
        COCOON_GATEWAY_PORT: String(gatewayPort),
    };
    const t0 = Date.now();
    const npm = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Array<{ at: number; text: string }> = [];
    let partial = '';
    const onData = (d: Buffer) => {
        const parts = (partial + d.toString('utf8')).split('\n');
        partial = parts.pop()!;
        for (const text of parts) lines.push({ at: Date.now(), text });
    };
    npm.stdout.on('data', onData);
    npm.stderr.on('data', onData);
    try {
        await pollUntil(
            'the gateway to answer',
            async () => {
                if (npm.exitCode !== null) throw new Error(`npm start exited (${npm.exitCode}):\n${lines.map((l) => l.text).join('\n')}`);
                const r = await fetch(`http://127.0.0.1:${gatewayPort}/v1/models`, { signal: AbortSignal.timeout(1000) });
                return r.ok;
            },
            (ok) => ok,
            { timeoutMs: 600_000, intervalMs: 200 },
        );
        const readySeconds = (Date.now() - t0) / 1000;
        await pollUntil(
            'the banner',
            async () => lines.some((l) => l.text.startsWith('Cocoon is running')),
            (x) => x,
            { timeoutMs: 10_000 },
        );
        const banner = lines.findIndex((l) => l.text.startsWith('Cocoon is running'));
        const before = lines.slice(0, banner).filter((l) => l.text.trim() !== '');
        let longest = before.length ? (before[0].at - t0) / 1000 : 0;
        for (let i = 1; i < before.length; i++) longest = Math.max(longest, (before[i].at - before[i - 1].at) / 1000);
        log?.(`ready in ${readySeconds.toFixed(1)} s, ${before.length} lines before the banner`);
        const t1 = Date.now();
        process.kill(npm.pid!, 'SIGTERM');
        await pollUntil(
            'every process of npm start to exit',
            async () => !processGroupAlive(npm.pid!),
            (gone) => gone,
            { timeoutMs: 120_000, intervalMs: 100 },
        );
        return { readySeconds, linesBeforeBanner: before.length, longestSilenceSeconds: longest, stopSeconds: (Date.now() - t1) / 1000 };
    } finally {
        if (processGroupAlive(npm.pid!)) process.kill(-npm.pid!, 'SIGKILL');
    }
}

function bestOf3(run: () => void): number {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
        const t = performance.now();
        run();
        best = Math.min(best, (performance.now() - t) / 1000);
    }
    return best;
}

export async function runFirstMinutes(o: { log?: (l: string) => void } = {}): Promise<FirstMinutesResult> {
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-bench-start-'));
    const digest = join(ROOT, 'build', '.sources-sha256');
    const kept = `${digest}.bench`;
    try {
        // As on a fresh clone: the contracts are compiled by this start.
        if (existsSync(digest)) renameSync(digest, kept);
        o.log?.('npm start, contracts compiled, fresh state');
        const firstStart = await timeStart(dir, o.log);
        o.log?.('npm start again over the same state');
        const laterStart = await timeStart(dir, o.log);
        const help = (['worker', 'client', 'devnet'] as const).map((name) => ({
            command: `cocoon-${name}`,
            direct: bestOf3(() => execFileSync(process.execPath, [join(ROOT, name, 'bin', `cocoon-${name}.js`), '--help'], { cwd: ROOT, stdio: 'ignore' })),
            viaNpm: bestOf3(() => execFileSync('npm', ['run', '-s', name, '--', '--help'], { cwd: ROOT, stdio: 'ignore' })),
        }));
        return { firstStart, laterStart, help };
    } finally {
        if (!existsSync(digest) && existsSync(kept)) renameSync(kept, digest);
        rmSync(kept, { force: true });
        rmSync(dir, { recursive: true, force: true });
    }
}

export interface TestSuitesResult {
    /** Wall time of the whole run, seconds. */
    seconds: number;
    /** jest's own wall time (its start to its last suite's end), seconds; absent in runs saved before it was kept. */
    jestSeconds?: number;
    passed: number;
    failed: number;
    files: Array<{ file: string; tests: number; seconds: number }>;
    /** Where npm test ran: a clean clone of this commit after its own `npm ci` and `npm run build` (absent in runs saved before: a working tree). */
    cleanClone?: { commit: string; npmCiSeconds: number; buildSeconds: number };
}

/**
 * The whole `npm test` suite (jest, after the build), each suite's time from
 * jest's report, in a clean clone of the committed HEAD after its own
 * `npm ci` and `npm run build`, the steps CI runs before its Tests step: no
 * transform cached for its paths.
 */
export async function runTestSuites(o: { log?: (l: string) => void } = {}): Promise<TestSuitesResult> {
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-bench-tests-'));
    const report = join(dir, 'jest.json');
    const clone = join(dir, 'repo');
    try {
        const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
        o.log?.(`a clean clone of ${commit.slice(0, 7)} (uncommitted changes are not in it), then npm ci and npm run build`);
        execFileSync('git', ['clone', '-q', ROOT, clone]);
        const tCi = Date.now();
        const ci = await run('npm', ['ci', '--no-audit', '--no-fund'], clone);
        if (ci.code !== 0) throw new Error(`npm ci in the clean clone exited ${ci.code}:\n${ci.stderr}`);
        const npmCiSeconds = (Date.now() - tCi) / 1000;
        const tBuild = Date.now();
        const build = await run('npm', ['run', 'build'], clone);
        if (build.code !== 0) throw new Error(`npm run build in the clean clone exited ${build.code}:\n${build.stderr}`);
        const buildSeconds = (Date.now() - tBuild) / 1000;
        o.log?.('npm test (the whole suite, as CI runs it)');
        const t0 = Date.now();
        const test = await run('npm', ['test', '--', '--json', `--outputFile=${report}`], clone);
        const seconds = (Date.now() - t0) / 1000;
        let json: { startTime: number; numPassedTests: number; numFailedTests: number; testResults: Array<{ name: string; startTime: number; endTime: number; assertionResults: unknown[] }> };
        try {
            json = JSON.parse(readFileSync(report, 'utf8'));
        } catch {
            throw new Error(`jest wrote no report (exit ${test.code}):\n${test.stderr}`);
        }
        const files = json.testResults
            .map((r) => ({ file: relative(clone, r.name), tests: r.assertionResults.length, seconds: (r.endTime - r.startTime) / 1000 }))
            .sort((a, b) => b.seconds - a.seconds);
        const jestSeconds = (Math.max(...json.testResults.map((r) => r.endTime)) - json.startTime) / 1000;
        return { seconds, jestSeconds, passed: json.numPassedTests, failed: json.numFailedTests, files, cleanClone: { commit, npmCiSeconds, buildSeconds } };
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

/** Runs a command to its end in `cwd`, keeping the end of what it wrote to stderr. */
async function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { code, stderr };
}
