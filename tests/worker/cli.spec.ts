import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address } from '@ton/core';
import { main } from '../../worker/src/cli';
import { loadConfig } from '../../worker/src/config';
import { loadKeys } from '../../worker/src/keys';
import { WorkerStore } from '../../worker/src/store/store';

const STAKING = new Address(0, Buffer.alloc(32, 3)).toString();

describe('cocoon-worker CLI (offline commands)', () => {
    let dir: string;
    const lines: string[] = [];
    const io = () => ({ out: (l: string) => lines.push(l), env: {} as NodeJS.ProcessEnv });
    beforeEach(() => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-cli-'));
        lines.length = 0;
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('init writes 0600 keys, a wallet mnemonic, a dev attestation key and a valid config; refuses to overwrite keys', async () => {
        const d = join(dir, 'w');
        await main(['init', '-d', d, '--endpoint', 'http://127.0.0.1:8081/api/v2/jsonRPC', '--staking', STAKING, '--base-url', 'http://127.0.0.1:8000', '--prices', '1,2,3,4'], io());
        for (const f of ['receipt.key', 'encryption.key', 'wallet.mnemonic', 'dev-attestation.key', 'config.json']) expect(statSync(join(d, f)).mode & 0o777).toBe(0o600);
        const config = loadConfig({ file: join(d, 'config.json'), env: {} });
        expect(config.prices).toEqual({ prompt: 1n, cached: 2n, completion: 3n, reasoning: 4n });
        expect(config.attestation.provider).toBe('simulated');
        expect(config.backend).toMatchObject({ kind: 'openai', modelMap: { 'cocoon-demo': 'cocoon-demo' } });
        const keys = loadKeys(config.keys);
        expect(lines.join('\n')).toContain(keys.receipt.publicKey.toString('hex'));
        expect(lines.join('\n')).toContain(keys.encryption.publicKey.toString('hex'));
        await expect(main(['init', '-d', d, '--endpoint', 'http://127.0.0.1:8081/api/v2/jsonRPC', '--staking', STAKING], io())).rejects.toThrow(/EEXIST/);
    });

    it('demo-model writes a GGUF and prints its id', async () => {
        await main(['demo-model', join(dir, 'm.gguf'), '--seed', '7'], io());
        expect(lines.join('\n')).toMatch(/model id: [0-9a-f]{64}/);
        expect(statSync(join(dir, 'm.gguf')).size).toBeGreaterThan(1000);
    });

    it('status --offline summarises channels from the store', async () => {
        const d = join(dir, 'w');
        await main(['init', '-d', d, '--endpoint', 'http://127.0.0.1:8081/api/v2/jsonRPC', '--staking', STAKING], io());
        const config = loadConfig({ file: join(d, 'config.json'), env: {} });
        const store = WorkerStore.open(config.store.path);
        store.recordVoucher({ channel: 'EQchannel', total: 2_500_000_000n, signature: Buffer.alloc(64, 1), receivedAt: 1 });
        store.markClaimed('EQchannel', 1_000_000_000n);
        store.close();
        lines.length = 0;
        await main(['status', '-c', join(d, 'config.json'), '--offline'], io());
        expect(lines.join('\n')).toContain('channel EQchannel open');
        expect(lines.at(-1)).toBe('earned (receipts) 0 TON; unclaimed (vouchers) 1.5 TON');
    });

    it('the other commands find the config where init writes it by default, and say how to make one when there is none', async () => {
        const cwd = process.cwd();
        process.chdir(dir);
        try {
            await expect(main(['status', '--offline'], io())).rejects.toThrow(/run `cocoon-worker init` first \(it writes \.cocoon-worker\/config\.json\)/);
            await main(['init', '--endpoint', 'http://127.0.0.1:8081/api/v2/jsonRPC', '--staking', STAKING], io());
            lines.length = 0;
            await main(['status', '--offline'], io());
            expect(lines.at(-1)).toBe('earned (receipts) 0 TON; unclaimed (vouchers) 0 TON');
        } finally {
            process.chdir(cwd);
        }
    });
});
