/**
 * `npm run build`: the contracts (every project of tact.config.json, with
 * Blueprint's own compiler) and the commands (tsc into dist/).
 *
 * Quiet and incremental, because `npm start` and `npm test` run it every
 * time: the contracts are compiled again only when a source under
 * contracts/, tact.config.json or the compiler changed (a digest of all of
 * them is kept in build/), and tsc is incremental. The terminal gets one line
 * per step; the compilers' own output goes to build/build.log and is shown
 * only when a compile fails.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../lib/daemon';

const BUILD_DIR = join(ROOT, 'build');
const DIGEST_FILE = join(BUILD_DIR, '.sources-sha256');
export const BUILD_LOG = join(BUILD_DIR, 'build.log');

function filesUnder(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]))
        .sort();
}

function packageVersion(name: string): string {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The Tact projects, in tact.config.json's order. */
export function contractNames(): string[] {
    return (JSON.parse(readFileSync(join(ROOT, 'tact.config.json'), 'utf8')) as { projects: Array<{ name: string }> }).projects.map((p) => p.name);
}

/** One digest over everything the compiled contracts depend on. */
export function contractSourcesDigest(): string {
    const h = createHash('sha256');
    for (const file of [...filesUnder(join(ROOT, 'contracts')), join(ROOT, 'tact.config.json')]) {
        h.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
    }
    h.update(`tact ${packageVersion('@tact-lang/compiler')} blueprint ${packageVersion('@ton/blueprint')}`);
    return h.digest('hex');
}

function contractsUpToDate(digest: string): boolean {
    if (!existsSync(DIGEST_FILE) || readFileSync(DIGEST_FILE, 'utf8').trim() !== digest) return false;
    return contractNames().every((name) => existsSync(join(BUILD_DIR, `${name}.compiled.json`)) && existsSync(join(BUILD_DIR, name)));
}

/**
 * Runs `fn` with everything written to stdout and stderr diverted into
 * `sink` (the Tact compiler reports through the console).
 */
async function divertingOutput<T>(sink: (text: string) => void, fn: () => Promise<T>): Promise<T> {
    const out = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    const divert = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        sink(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
        done?.();
        return true;
    }) as typeof process.stdout.write;
    process.stdout.write = divert;
    process.stderr.write = divert;
    try {
        return await fn();
    } finally {
        process.stdout.write = out;
        process.stderr.write = err;
    }
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** Compiles the contracts unless their sources are unchanged; returns whether it compiled. */
export async function buildContracts(say: (line: string) => void, force = false): Promise<boolean> {
    const digest = contractSourcesDigest();
    if (!force && contractsUpToDate(digest)) {
        say(`contracts up to date (sources unchanged; build/${relative(BUILD_DIR, DIGEST_FILE)})`);
        return false;
    }
    // Blueprint's builder is loaded only when something is compiled: it takes a while to import.
    const { buildOne } = await import('@ton/blueprint');
    mkdirSync(BUILD_DIR, { recursive: true });
    writeFileSync(BUILD_LOG, `contract build ${new Date().toISOString()}\n`);
    const names = contractNames();
    const started = Date.now();
    for (const [i, name] of names.entries()) {
        const t = Date.now();
        let captured = '';
        try {
            await divertingOutput(
                (text) => {
                    captured += text;
                    appendFileSync(BUILD_LOG, text);
                },
                () => buildOne(name),
            );
        } catch (e) {
            const why = e instanceof Error ? e.message : String(e);
            throw new Error(`compiling contract ${name} failed: ${why}\n${captured.trim()}\n(the whole compiler output is in ${relative(ROOT, BUILD_LOG)})`);
        }
        say(`contracts [${i + 1}/${names.length}] ${name}, ${seconds(t)}`);
    }
    writeFileSync(DIGEST_FILE, digest + '\n');
    say(`contracts compiled in ${seconds(started)} (compiler output: ${relative(ROOT, BUILD_LOG)})`);
    return true;
}

/** Compiles the commands into dist/ (incremental: a few seconds when nothing changed). */
export async function compileCommands(say: (line: string) => void): Promise<void> {
    const t = Date.now();
    try {
        await promisify(execFile)(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, maxBuffer: 64 << 20 });
    } catch (e) {
        const { stdout, stderr } = e as { stdout?: string; stderr?: string };
        throw new Error(`compiling the commands (tsc -p tsconfig.build.json) failed:\n${`${stdout ?? ''}${stderr ?? ''}`.trim()}`);
    }
    say(`commands compiled into dist/, ${seconds(t)}`);
}

export async function build(say: (line: string) => void, o: { force?: boolean } = {}): Promise<void> {
    await buildContracts(say, o.force);
    await compileCommands(say);
}

if (require.main === module) {
    const force = process.argv.includes('--force');
    build((line) => console.log(line), { force }).catch((e) => {
        console.error(e instanceof Error ? e.message : e);
        process.exit(1);
    });
}
