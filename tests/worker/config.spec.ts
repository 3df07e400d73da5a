import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ConfigError, WorkerConfigInput, applyEnv, loadConfig, parseConfig } from '../../worker/src/config';
import { createLogger, sanitize } from '../../worker/src/log';

const STAKING = 'EQBvW8Z5huBkMJYdnfAEM5JqTNkuWX3diqYENkWsIL0XggGG';

function base(): WorkerConfigInput {
    return {
        network: { endpoint: 'http://127.0.0.1:8081/jsonRPC', apiKey: 'toncenter-SECRET-1' },
        contracts: { staking: STAKING },
        keys: { receiptKeyPath: '/k/receipt.key', encryptionKeyPath: '/k/enc.key', walletMnemonicPath: '/k/wallet.mnemonic' },
        payoutAddress: STAKING,
        backend: { kind: 'openai', baseUrl: 'http://127.0.0.1:8000', apiKey: 'sk-UPSTREAM-SECRET-2' },
        prices: { prompt: '100', cached: '10', completion: '400', reasoning: 400 },
        attestation: { provider: 'simulated', devKeyPath: '/k/dev.key' },
        store: { path: '/var/lib/cocoon/worker.db' },
    };
}

describe('worker config', () => {
    it('fills defaults and parses nanoTON amounts to bigint', () => {
        const c = parseConfig(base());
        expect(c.http).toEqual({ host: '127.0.0.1', port: 8090, maxBodyBytes: 1048576, maxConcurrent: 4, requestTimeoutMs: 600000 });
        expect(c.prices).toEqual({ prompt: 100n, cached: 10n, completion: 400n, reasoning: 400n });
        expect(c.payments.claimThreshold).toBe(1_000_000_000n);
        expect(c.log.level).toBe('info');
        expect(c.backend.kind).toBe('openai');
    });

    it('accepts an embedded backend with its defaults', () => {
        const c = parseConfig({ ...base(), backend: { kind: 'embedded', modelPath: '/models/demo.gguf' } });
        expect(c.backend).toEqual({ kind: 'embedded', modelPath: '/models/demo.gguf', gpu: false, threads: 1, contextSize: 4096, sequences: 'auto', maxQueued: 32, queueTimeoutMs: 10000 });
    });

    it('rejects bad input with paths, never echoing values', () => {
        const bad = { ...base(), payoutAddress: 'nope', http: { port: 70000 }, prices: { ...base().prices, prompt: '-5' }, extra: 1 };
        let err: ConfigError | undefined;
        try {
            parseConfig({ ...bad, network: { endpoint: 'not a url', apiKey: 'toncenter-SECRET-1' } });
        } catch (e) {
            err = e as ConfigError;
        }
        expect(err).toBeInstanceOf(ConfigError);
        const msg = err!.message;
        for (const p of ['payoutAddress', 'http.port', 'prices.prompt', 'network.endpoint', '(root)']) expect(msg).toContain(p);
        expect(msg).not.toContain('SECRET');
        expect(() => parseConfig({ ...base(), backend: { kind: 'vllm' } })).toThrow(/backend.kind/);
    });

    it('merges a file with COCOON_WORKER__ environment overrides', () => {
        const dir = mkdtempSync(join(tmpdir(), 'cocoon-cfg-'));
        try {
            const file = join(dir, 'worker.json');
            writeFileSync(file, JSON.stringify(base()));
            const c = loadConfig({
                file,
                env: {
                    COCOON_WORKER__HTTP__PORT: '9000',
                    COCOON_WORKER__BACKEND__API_KEY: 'from-env',
                    COCOON_WORKER__PAYMENTS__CLAIM_THRESHOLD: '"5000000000"',
                    COCOON_WORKER__LOG__LEVEL: 'debug',
                    UNRELATED: 'x',
                },
            });
            expect(c.http.port).toBe(9000);
            expect(c.backend.kind === 'openai' && c.backend.apiKey).toBe('from-env');
            expect(c.payments.claimThreshold).toBe(5_000_000_000n);
            expect(c.log.level).toBe('debug');
            expect(() => loadConfig({ file: join(dir, 'missing.json'), env: {} })).toThrow(ConfigError);
            writeFileSync(file, '{ not json');
            expect(() => loadConfig({ file, env: {} })).toThrow(/not valid JSON/);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it('refuses prototype-polluting environment paths', () => {
        expect(() => applyEnv({}, { COCOON_WORKER____PROTO____X: '1', COCOON_WORKER__CONSTRUCTOR__X: '1' })).toThrow(ConfigError);
        expect(({} as Record<string, unknown>).x).toBeUndefined();
    });
});

describe('worker logger', () => {
    function capture() {
        const lines: string[] = [];
        const dest = new Writable({
            write(chunk, _enc, cb) {
                lines.push(chunk.toString());
                cb();
            },
        });
        return { lines, log: createLogger({ level: 'debug', destination: dest }) };
    }

    it('redacts secrets and user data in log records', () => {
        const { lines, log } = capture();
        log.info({ apiKey: 'sk-LEAK-1', backend: { apiKey: 'sk-LEAK-2' }, req: { headers: { authorization: 'Bearer LEAK-3' } } }, 'starting');
        log.info({ request: { messages: [{ role: 'user', content: 'my LEAK-4 diagnosis' }], model: 'm' } }, 'served');
        log.info({ a: { b: { privateKey: 'LEAK-5' } } }, 'deep');
        const out = lines.join('');
        expect(out).not.toMatch(/LEAK/);
        expect(out).toContain('[redacted]');
        expect(out).toContain('"model":"m"');
    });

    it('sanitize strips secrets at any depth from whole objects like the config', () => {
        const cfg = parseConfig(base());
        const { lines, log } = capture();
        log.info({ config: sanitize(cfg) }, 'config');
        const out = lines.join('');
        expect(out).not.toContain('SECRET');
        expect(out).toContain('"completion":"400"'); // bigints as strings
        expect(sanitize({ x: { y: { z: { w: { apiKey: 'k', key: Buffer.alloc(32), walletMnemonic: 'a b c' } } } } })).toEqual({
            x: { y: { z: { w: { apiKey: '[redacted]', key: '<32 bytes>', walletMnemonic: '[redacted]' } } } },
        });
    });
});
