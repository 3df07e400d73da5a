import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cell } from '@ton/core';
import OpenAI from 'openai';
import { openSignedReceipt, parseReceipt } from '../../wrappers/receipt';
import { freePort, pollUntil } from '../../helpers/poll';

/**
 * The README's first command, as a new user runs it: `npm start` brings up
 * the devnet, the contracts, a worker on the demo model and the gateway,
 * prints how to call it, serves the official `openai` client, and stops
 * every child on Ctrl-C (SIGINT).
 */
jest.setTimeout(420_000);

const ROOT = join(__dirname, '..', '..');

async function portOpen(port: number): Promise<boolean> {
    try {
        await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
        return true;
    } catch {
        return false;
    }
}

it('npm start runs the whole network, answers the printed examples and stops cleanly on SIGINT', async () => {
    const dir = await fs.mkdtemp(join(tmpdir(), 'cocoon-npm-start-'));
    const [devnetPort, workerPort, gatewayPort] = [await freePort(), await freePort(), await freePort()];
    // The entry `npm start` runs after its build step (the contracts are built by pretest).
    const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'ts-node', 'dist', 'bin.js'), 'scripts/local/embeddedDefault.ts'], {
        cwd: ROOT,
        env: {
            ...process.env,
            COCOON_LOCAL_DIR: dir,
            COCOON_DEVNET_STATE: 'memory',
            COCOON_DEVNET_PORT: String(devnetPort),
            COCOON_WORKER_PORT: String(workerPort),
            COCOON_GATEWAY_PORT: String(gatewayPort),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    try {
        await pollUntil(
            'npm start to be ready',
            async () => out,
            (o) => o.includes('Ctrl-C stops') || child.exitCode !== null,
            { timeoutMs: 360_000 },
        );
        if (child.exitCode !== null) throw new Error(`npm start exited (${child.exitCode}):\n${out}`);
        const baseUrl = /OpenAI-compatible API\s+(http:\S+)/.exec(out)![1];
        expect(baseUrl).toBe(`http://127.0.0.1:${gatewayPort}/v1`);
        // What it tells the user.
        expect(out).toContain(`curl ${baseUrl}/chat/completions`);
        expect(out).toContain('require("openai")');
        expect(out).toMatch(/RANDOM weights/);
        expect(out).toContain('COCOON_MODEL_PATH=');
        expect(out).toContain('COCOON_UPSTREAM_URL=');

        const openai = new OpenAI({ baseURL: baseUrl, apiKey: 'none', maxRetries: 0, timeout: 120_000 });
        const models = await openai.models.list();
        expect(models.data.map((m) => m.id)).toContain('cocoon-demo');
        const r: any = await openai.chat.completions.create({ model: 'cocoon-demo', messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 16 });
        expect(r.model).toBe('cocoon-demo');
        expect(r.usage.completion_tokens).toBeGreaterThan(0);
        expect(r.usage.completion_tokens).toBeLessThanOrEqual(16);
        const f = parseReceipt(openSignedReceipt(Cell.fromBase64(r.receipt.boc)).receipt);
        expect(f.cost).toBe(BigInt(r.cost));
        expect(f.usage.completion).toBe(BigInt(r.usage.completion_tokens));

        const s = await openai.chat.completions.create({ model: 'cocoon-demo', messages: [{ role: 'user', content: 'Again.' }], max_tokens: 16, stream: true });
        let last: any;
        for await (const c of s) last = c;
        const g = parseReceipt(openSignedReceipt(Cell.fromBase64(last.receipt.boc)).receipt);
        expect(g.channel.equals(f.channel)).toBe(true);
        expect(g.cumulativeCost).toBe(f.cost + g.cost);
    } finally {
        child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(out).toContain('stopped');
    // Every child went down with it.
    for (const port of [devnetPort, workerPort, gatewayPort]) expect(await portOpen(port)).toBe(false);
    await fs.rm(dir, { recursive: true, force: true });
});
