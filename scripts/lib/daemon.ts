import { ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { STOP_WITH_PARENT_ENV } from '../../helpers/parentWatch';

/**
 * The package's own commands (worker/bin, client/bin, devnet/bin) run as
 * child processes, as an operator runs them: used by `npm start`
 * (scripts/local/localNetwork.ts), the benchmarks and the fault tests.
 */

export const ROOT = resolve(__dirname, '..', '..');

export const BINS = {
    worker: 'worker/bin/cocoon-worker.js',
    client: 'client/bin/cocoon-client.js',
    devnet: 'devnet/bin/cocoon-devnet.js',
} as const;

export interface DaemonOptions {
    env?: NodeJS.ProcessEnv;
    /** Each chunk of the child's stdout and stderr (the daemon keeps the last 20 kB itself). */
    onOutput?: (chunk: string) => void;
    /** Extra node flags (e.g. --cpu-prof). */
    nodeArgs?: string[];
}

/** A running command: its output, a wait for a line, and a bounded stop. */
export class Daemon {
    readonly exited: Promise<number | null>;
    private out = '';
    private waiters: Array<{ re: RegExp; resolve: (m: RegExpExecArray) => void }> = [];

    private constructor(
        readonly name: string,
        readonly child: ChildProcess,
        onOutput?: (chunk: string) => void,
    ) {
        const onData = (d: Buffer) => {
            const text = d.toString('utf8');
            this.out = (this.out + text).slice(-20_000);
            onOutput?.(text);
            for (const w of [...this.waiters]) {
                const m = w.re.exec(this.out);
                if (m) {
                    this.waiters = this.waiters.filter((x) => x !== w);
                    w.resolve(m);
                }
            }
        };
        // Always drained: a full pipe would block the child.
        child.stdout?.on('data', onData);
        child.stderr?.on('data', onData);
        this.exited = new Promise((res) => child.on('exit', (code) => res(code)));
    }

    /** Starts `node <bin> ...args` in the repository root. */
    static spawn(name: string, bin: string, args: string[], o: DaemonOptions = {}): Daemon {
        const child = spawn(process.execPath, [...(o.nodeArgs ?? []), join(ROOT, bin), ...args], {
            cwd: ROOT,
            env: { ...process.env, ...o.env, [STOP_WITH_PARENT_ENV]: '1' },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        return new Daemon(name, child, o.onOutput);
    }

    get running(): boolean {
        return this.child.exitCode === null && this.child.signalCode === null;
    }

    /** The last 20 kB of output. */
    output(): string {
        return this.out;
    }

    tail(lines = 15): string {
        return this.out.split('\n').slice(-lines).join('\n');
    }

    /** The first match of `re` in the output; rejects if the child exits first or after `ms`. */
    waitFor(re: RegExp, what: string, ms = 120_000): Promise<RegExpExecArray> {
        const m = re.exec(this.out);
        if (m) return Promise.resolve(m);
        return new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`${this.name}: timed out after ${ms / 1000} s waiting for ${what}\n${this.tail()}`)), ms);
            this.waiters.push({ re, resolve: (x) => (clearTimeout(timer), res(x)) });
            void this.exited.then((code) => {
                clearTimeout(timer);
                rej(new Error(`${this.name} exited (${code}) before ${what}\n${this.tail()}`));
            });
        });
    }

    /** The URL a command prints as "listening on <url>". */
    async listening(ms = 120_000): Promise<string> {
        return (await this.waitFor(/listening on (http:\S+)/, `${this.name} to listen`, ms))[1];
    }

    /**
     * SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code once
     * the process is gone. The default outlasts the worker's own shutdown:
     * drain and shutdown claims within `shutdownTimeoutMs` (30 s by default),
     * and a claim already sent may wait up to a minute for its confirmation.
     */
    async stop(graceMs = 100_000): Promise<number | null> {
        if (!this.running) return this.child.exitCode;
        this.child.kill('SIGTERM');
        const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
        const code = await this.exited;
        clearTimeout(timer);
        return code;
    }

    /** SIGKILL: no shutdown code runs. Resolves once the process is gone. */
    async kill(): Promise<void> {
        if (this.running) this.child.kill('SIGKILL');
        await this.exited;
    }
}

/** Whether any process of the process group `pgid` is alive (a command started detached leads its own group). */
export function processGroupAlive(pgid: number): boolean {
    try {
        process.kill(-pgid, 0);
        return true;
    } catch {
        return false;
    }
}

/** Runs a command to completion; throws with its output when it fails. */
export async function runCommand(bin: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
    const d = Daemon.spawn(bin, bin, args, { env });
    const code = await d.exited;
    if (code !== 0) throw new Error(`${bin} ${args[0]} exited with ${code}:\n${d.output()}`);
    return d.output();
}
