import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Cell } from '@ton/core';
import OpenAI from 'openai';
import { openSignedReceipt, parseReceipt } from '../../wrappers/receipt';
import { freePort, pollUntil } from '../../helpers/poll';
import { portHolder } from '../../helpers/ports';
import { ROOT, processGroupAlive } from '../../scripts/lib/daemon';
import { cleanUp, npmStart, portOpen, untilReady } from '../helpers/npmStart';

/**
 * The README's first command, as a new user and a service manager run it:
 * `npm start` itself (through npm, which runs it under a shell), checked for
 * what it prints, what it serves, and how it stops: SIGTERM to npm's own
 * process id, as systemd and CI runners send it, must leave no process and
 * no open port; a busy port fails at once with the way out; a child that
 * crashes takes the rest down with it.
 */
jest.setTimeout(420_000);

it('npm start prints numbered phases and no logs, serves the printed examples, and SIGTERM to npm stops every process and port', async () => {
    const s = await npmStart();
    try {
        const baseUrl = await untilReady(s);
        expect(baseUrl).toBe(`http://127.0.0.1:${s.ports.gateway}/v1`);
        // Before the ready banner: at most 40 lines, numbered phases with the time elapsed, no JSON log lines.
        const before = s.output().slice(0, s.output().indexOf('Cocoon is running')).trimEnd().split('\n');
        expect(before.length).toBeLessThanOrEqual(40);
        for (let k = 1; k <= 5; k++) expect(before.some((l) => new RegExp(`^\\[${k}/5\\] .+, \\d+\\.\\d s$`).test(l))).toBe(true);
        expect(before.filter((l) => l.trimStart().startsWith('{'))).toEqual([]);
        expect(s.output()).not.toMatch(/tonscan|tonviewer|Warning/);
        // What it tells the user, and where the logs went.
        expect(s.output()).toContain(`curl ${baseUrl}/chat/completions`);
        expect(s.output()).toContain('require("openai")');
        expect(s.output()).toMatch(/RANDOM weights/);
        expect(s.output()).toContain(`logs                   ${join(s.dir, 'logs')}/`);
        expect(readFileSync(join(s.dir, 'logs', 'worker.log'), 'utf8')).toMatch(/"msg":"worker listening"/);

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

        const stream = await openai.chat.completions.create({ model: 'cocoon-demo', messages: [{ role: 'user', content: 'Again.' }], max_tokens: 16, stream: true });
        let last: any;
        for await (const c of stream) last = c;
        const g = parseReceipt(openSignedReceipt(Cell.fromBase64(last.receipt.boc)).receipt);
        expect(g.channel.equals(f.channel)).toBe(true);
        expect(g.cumulativeCost).toBe(f.cost + g.cost);
        // One line per request served, with its unit.
        await pollUntil(
            'two request lines',
            async () => s.output().match(/served \d+ prompt \+ \d+ completion tokens in \d+ ms \(\w+\), cost \d+ nanoTON/g)?.length ?? 0,
            (n) => n >= 2,
        );

        // The walkthrough's commands in a second terminal, after `source <dir>/env.sh`.
        const exported = Object.fromEntries([...readFileSync(join(s.dir, 'env.sh'), 'utf8').matchAll(/^export (\w+)="?([^"\n]*)"?$/gm)].map((m) => [m[1], m[2]]));
        expect(Object.keys(exported)).toEqual(expect.arrayContaining(['COCOON_ENDPOINT', 'COCOON_STAKING', 'COCOON_REGISTRY']));
        const cli = (...args: string[]) => execFileSync('npm', ['run', '-s', ...args], { cwd: ROOT, env: { ...process.env, ...exported }, encoding: 'utf8' });
        const listed = cli('client', '--', 'models');
        expect(listed).toContain('cocoon-demo: 1 worker(s)');
        expect(listed).toContain('TON per million tokens: prompt 100, cached 50, completion 200, reasoning 200');
        // One default model name everywhere: the network allows the model npm start serves, and no other.
        expect(listed).not.toContain('allowed model(s) with no live worker');
        expect(
            cli('client', '--', 'models', '--all')
                .trim()
                .split('\n')
                .filter((l) => !l.startsWith(' ')),
        ).toEqual(['cocoon-demo: 1 worker(s)']);
        expect(cli('client', '--', 'channels', '-d', join(s.dir, 'client'))).toContain(`${f.channel.toString()} worker`);
        // `chat` without -m asks for the model npm start serves: one default name everywhere.
        expect(cli('client', '--', 'chat', '-d', join(s.dir, 'chat-client'), '--max-tokens', '4', 'Hello')).toMatch(/cost \d+ nanoTON .* verified/);
        expect(cli('worker', '--', 'status', '-c', join(s.dir, 'worker', 'config.json'))).toMatch(/earned \(receipts\) [\d.]+ TON; unclaimed \(vouchers\) [\d.]+ TON/);

        // As a service manager stops it: SIGTERM to npm's process only.
        process.kill(s.npm.pid!, 'SIGTERM');
        await s.exited;
        await pollUntil(
            'every process of npm start to exit',
            async () => !processGroupAlive(s.npm.pid!),
            (gone) => gone,
            { timeoutMs: 120_000 },
        );
        expect(s.output()).toContain('stopped');
        for (const port of Object.values(s.ports)) expect(await portOpen(port)).toBe(false);
    } finally {
        await cleanUp(s);
    }
});

it('a busy port fails npm start at once, naming the holder and a free port, and starts nothing', async () => {
    const holder = createServer();
    const busy = await freePort();
    await new Promise<void>((resolve) => holder.listen(busy, '127.0.0.1', resolve));
    const s = await npmStart({ devnet: await freePort(), worker: await freePort(), operator: await freePort(), gateway: busy });
    try {
        expect(await s.exited).toBe(1);
        const out = s.output();
        expect(out).toContain(`port ${busy} (the gateway) is in use by pid ${process.pid}`);
        expect(out).toMatch(new RegExp(`COCOON_GATEWAY_PORT=\\d+ npm start`));
        expect(out).not.toContain('[1/5]');
        expect(out).not.toMatch(/\n\s+at /);
        expect(await portOpen(s.ports.devnet)).toBe(false);
    } finally {
        holder.close();
        await cleanUp(s);
    }
});

it('a crashed child stops the rest: npm start exits non-zero, names the child and its log, and leaves no process', async () => {
    const s = await npmStart();
    try {
        await untilReady(s);
        const worker = /^pid (\d+) /.exec(portHolder(s.ports.worker) ?? '');
        expect(worker).not.toBeNull();
        process.kill(Number(worker![1]), 'SIGKILL');
        expect(await s.exited).toBe(1);
        expect(s.output()).toContain(`the worker exited unexpectedly`);
        expect(s.output()).toContain(join(s.dir, 'logs', 'worker.log'));
        await pollUntil(
            'every process of npm start to exit',
            async () => !processGroupAlive(s.npm.pid!),
            (gone) => gone,
            { timeoutMs: 120_000 },
        );
        for (const port of Object.values(s.ports)) expect(await portOpen(port)).toBe(false);
    } finally {
        await cleanUp(s);
    }
});
