import { ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, pollUntil } from '../../helpers/poll';
import { ROOT, processGroupAlive } from '../../scripts/lib/daemon';

/** `npm start` as a test runs it: its own process group, fresh ports, a fresh state directory, the chain in memory. */

export async function portOpen(port: number): Promise<boolean> {
    try {
        await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
        return true;
    } catch {
        return false;
    }
}

export interface Started {
    npm: ChildProcess;
    output: () => string;
    exited: Promise<number | null>;
    ports: { devnet: number; worker: number; operator: number; gateway: number };
    dir: string;
}

/** `npm start` in its own process group (so the test can always clean up), on fresh ports and a fresh state directory. */
export async function npmStart(ports?: Started['ports']): Promise<Started> {
    const dir = await fs.mkdtemp(join(tmpdir(), 'cocoon-npm-start-'));
    const p = ports ?? { devnet: await freePort(), worker: await freePort(), operator: await freePort(), gateway: await freePort() };
    const npm = spawn('npm', ['start'], {
        cwd: ROOT,
        detached: true,
        env: {
            ...process.env,
            COCOON_LOCAL_DIR: dir,
            COCOON_DEVNET_STATE: 'memory',
            COCOON_DEVNET_PORT: String(p.devnet),
            COCOON_WORKER_PORT: String(p.worker),
            COCOON_OPERATOR_PORT: String(p.operator),
            COCOON_GATEWAY_PORT: String(p.gateway),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    npm.stdout!.on('data', (d) => (out += d));
    npm.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => npm.on('exit', (c) => resolve(c)));
    return { npm, output: () => out, exited, ports: p, dir };
}

export async function untilReady(s: Started): Promise<string> {
    await pollUntil(
        'npm start to be ready',
        async () => s.output(),
        (o) => o.includes('stops the gateway, the worker and the devnet') || s.npm.exitCode !== null,
        {
            timeoutMs: 360_000,
        },
    );
    if (s.npm.exitCode !== null) throw new Error(`npm start exited (${s.npm.exitCode}):\n${s.output()}`);
    return /OpenAI-compatible API\s+(http:\S+)/.exec(s.output())![1];
}

export async function cleanUp(s: Started): Promise<void> {
    if (processGroupAlive(s.npm.pid!)) process.kill(-s.npm.pid!, 'SIGKILL');
    await fs.rm(s.dir, { recursive: true, force: true });
}
