import { readFileSync } from 'node:fs';
import { Address } from '@ton/core';
import { z } from 'zod';
import { DEFAULT_MAX_QUEUED, DEFAULT_QUEUE_TIMEOUT_MS } from './inference/embedded';

/**
 * The worker's configuration: a JSON file plus environment overrides,
 * validated in one place so the daemon never starts half-configured.
 *
 * Environment overrides use `COCOON_WORKER__` and `__` between path segments,
 * e.g. `COCOON_WORKER__HTTP__PORT=8091` or
 * `COCOON_WORKER__BACKEND__API_KEY=...` (segments are converted from
 * SNAKE_CASE to camelCase; values are parsed as JSON when they parse, else
 * kept as strings). Secrets are best given this way or as files, never on a
 * command line.
 *
 * Amounts are nanoTON, written as decimal strings (JSON numbers lose
 * precision above 2^53) and parsed to bigint.
 */

const nano = z.union([z.string(), z.number().int()]).transform((v, ctx) => {
    const s = String(v);
    if (!/^\d+$/.test(s)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a non-negative integer number of nanoTON' });
        return z.NEVER;
    }
    return BigInt(s);
});

const tonAddress = z.string().refine(
    (s) => {
        try {
            Address.parse(s);
            return true;
        } catch {
            return false;
        }
    },
    { message: 'not a valid TON address' },
);

const SEQUENCES_RULE = 'must be "auto" or a whole number from 1 to 64';

const embeddedBackend = z
    .object({
        kind: z.literal('embedded'),
        modelPath: z.string().min(1),
        alias: z.string().min(1).optional(),
        gpu: z.union([z.literal('auto'), z.literal(false)]).default(false),
        threads: z.number().int().min(1).max(256).default(1),
        /** Tokens of context each request gets; each sequence has its own, so the KV cache holds contextSize × sequences. */
        contextSize: z
            .number()
            .int()
            .min(256)
            .max(1 << 20)
            .default(4096),
        /** Requests decoded together (their decoding batched); 'auto' suits the device and the free memory. */
        sequences: z.union([z.literal('auto'), z.number().int(SEQUENCES_RULE).min(1, SEQUENCES_RULE).max(64, SEQUENCES_RULE)], { errorMap: () => ({ message: SEQUENCES_RULE }) }).default('auto'),
        /** Requests that may wait for a free sequence; more are refused at once (503, Retry-After). */
        maxQueued: z.number().int().min(0).max(4096).default(DEFAULT_MAX_QUEUED),
        /** How long a request may wait for a free sequence before it is refused (503, Retry-After). */
        queueTimeoutMs: z.number().int().min(0).max(600_000).default(DEFAULT_QUEUE_TIMEOUT_MS),
    })
    .strict();

const openaiBackend = z
    .object({
        kind: z.literal('openai'),
        baseUrl: z.string().url(),
        apiKey: z.string().min(1).optional(),
        modelMap: z.record(z.string().min(1)).default({}),
        connectTimeoutMs: z.number().int().positive().default(30_000),
        idleTimeoutMs: z.number().int().positive().default(60_000),
    })
    .strict();

export const workerConfigSchema = z
    .object({
        network: z
            .object({
                name: z.enum(['devnet', 'testnet', 'mainnet']).default('devnet'),
                /** toncenter v2 JSON-RPC endpoint (the devnet serves the same API). */
                endpoint: z.string().url(),
                apiKey: z.string().min(1).optional(),
            })
            .strict(),
        contracts: z
            .object({
                staking: tonAddress,
                registry: tonAddress.optional(),
            })
            .strict(),
        keys: z
            .object({
                /** Ed25519 key that signs receipts (file mode 0600). */
                receiptKeyPath: z.string().min(1),
                /** X25519 key requests are encrypted to (file mode 0600). */
                encryptionKeyPath: z.string().min(1),
                /** Mnemonic of the operator wallet that stakes and claims. */
                walletMnemonicPath: z.string().min(1),
                /** Version of the operator wallet the mnemonic opens (the WorkerStake owner). */
                walletVersion: z.enum(['v4', 'v5r1']).default('v4'),
            })
            .strict(),
        payoutAddress: tonAddress,
        http: z
            .object({
                host: z.string().min(1).default('127.0.0.1'),
                /** 0 picks any free port (tests). */
                port: z.number().int().min(0).max(65535).default(8090),
                maxBodyBytes: z
                    .number()
                    .int()
                    .min(1024)
                    .max(64 * 1024 * 1024)
                    .default(1024 * 1024),
                maxConcurrent: z.number().int().min(1).max(1024).default(4),
                requestTimeoutMs: z.number().int().positive().default(600_000),
                /** Endpoint listed on chain for clients (defaults to http://host:port). */
                publicUrl: z.string().url().optional(),
            })
            .strict()
            .default({}),
        /**
         * The operator's interface (the worker dashboard and its JSON) on a listener of
         * its own; absent, none. Keep it on a loopback or private address: it is not for
         * the clients of the public API.
         */
        operator: z
            .object({
                host: z.string().min(1).default('127.0.0.1'),
                /** 0 picks any free port (tests). */
                port: z.number().int().min(0).max(65535).default(8091),
                /** Bearer token the dashboard's JSON needs (for a listener others can reach). */
                token: z.string().min(16, 'must be at least 16 characters').optional(),
                /** Without a token, host names besides the loopback ones answered on a loopback address (a local reverse proxy's). */
                allowedHosts: z.array(z.string().min(1)).default([]),
            })
            .strict()
            .optional(),
        backend: z.discriminatedUnion('kind', [embeddedBackend, openaiBackend]),
        /** nanoTON per million tokens, by token class (listed on chain at registration). */
        prices: z
            .object({
                prompt: nano,
                cached: nano,
                completion: nano,
                reasoning: nano,
            })
            .strict(),
        attestation: z.discriminatedUnion('provider', [
            z
                .object({
                    provider: z.literal('tdx'),
                    configfsPath: z.string().default('/sys/kernel/config/tsm/report'),
                    reattestBeforeSec: z.number().int().positive().default(3600),
                })
                .strict(),
            z
                .object({
                    provider: z.literal('sev-snp'),
                    configfsPath: z.string().default('/sys/kernel/config/tsm/report'),
                    /** The chip's VCEK certificate (DER or PEM) for its current TCB, from AMD's key distribution service. */
                    vcekPath: z.string().min(1),
                    /** AMD's certificate chain for the processor generation: the ASK, then the ARK (PEM), as AMD's key distribution service serves it. */
                    certChainPath: z.string().min(1),
                    reattestBeforeSec: z.number().int().positive().default(3600),
                })
                .strict(),
            z
                .object({
                    /**
                     * SEV-SNP evidence signed by the development AMD chain (wrappers/snp/devChain.ts): every on-chain
                     * SEV-SNP step runs, but only a development network, which pins that chain's root, accepts it.
                     */
                    provider: z.literal('simulated-sev-snp'),
                    reattestBeforeSec: z.number().int().positive().default(3600),
                })
                .strict(),
            z
                .object({
                    provider: z.literal('simulated'),
                    /** Development attestation key (only accepted by a network that enables the simulated path). */
                    devKeyPath: z.string().min(1),
                    reattestBeforeSec: z.number().int().positive().default(3600),
                })
                .strict(),
        ]),
        limits: z
            .object({
                /** max_tokens when a request names none (it prices the request). */
                defaultMaxTokens: z.number().int().min(1).default(512),
                /** Cap on max_tokens. */
                maxTokens: z.number().int().min(1).default(8192),
            })
            .strict()
            .default({}),
        registration: z
            .object({
                /** Stake to hold (nanoTON); register tops up to it. */
                stake: nano.default('0'),
                /** Requested attestation lifetime (the network may cap it). */
                attestationLifetimeSec: z.number().int().min(60).default(86_400),
            })
            .strict()
            .default({}),
        payments: z
            .object({
                /**
                 * The worker's credit to one channel (nanoTON): what is served and not yet
                 * covered by a voucher plus the most its requests in flight can cost stays
                 * within it, so it bounds what a client that stops paying can take. A lone
                 * request is served whatever its cost. Default: 32,768 tokens at the
                 * worker's highest per-token price, a few long requests' worth.
                 */
                creditLimit: nano.optional(),
                /** How often channels are checked for claims and closes. */
                watchIntervalMs: z.number().int().positive().default(10_000),
                /** Claim when a channel's unclaimed value passes this. */
                claimThreshold: nano.default('1000000000'),
                /** Redeem a closing channel at least this long before its deadline. */
                closeSafetyMarginSec: z.number().int().min(0).default(600),
                claimRetryInitialMs: z.number().int().positive().default(2_000),
                claimRetryMaxMs: z.number().int().positive().default(300_000),
            })
            .strict()
            .default({}),
        store: z.object({ path: z.string().min(1) }).strict(),
        log: z
            .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
            .strict()
            .default({}),
        shutdownTimeoutMs: z.number().int().positive().default(30_000),
    })
    .strict();

export type WorkerConfigInput = z.input<typeof workerConfigSchema>;
export type WorkerConfig = z.output<typeof workerConfigSchema>;

export const ENV_PREFIX = 'COCOON_WORKER__';

export class ConfigError extends Error {
    constructor(readonly issues: string[]) {
        super(`invalid worker configuration:\n  ${issues.join('\n  ')}`);
        this.name = 'ConfigError';
    }
}

function camel(segment: string): string {
    return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Applies COCOON_WORKER__A__B=value overrides onto a plain object (a copy). */
export function applyEnv(base: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
    const out = structuredClone(base);
    for (const [key, raw] of Object.entries(env)) {
        if (!key.startsWith(ENV_PREFIX) || raw === undefined) continue;
        const path = key.slice(ENV_PREFIX.length).split('__').filter(Boolean).map(camel);
        if (path.length === 0) continue;
        let value: unknown = raw;
        try {
            value = JSON.parse(raw);
        } catch {
            /* a plain string */
        }
        let node = out as Record<string, unknown>;
        for (const seg of path.slice(0, -1)) {
            if (seg === '__proto__' || seg === 'constructor' || seg === 'prototype') throw new ConfigError([`${key}: forbidden path`]);
            if (typeof node[seg] !== 'object' || node[seg] === null) node[seg] = {};
            node = node[seg] as Record<string, unknown>;
        }
        const last = path[path.length - 1];
        if (last === '__proto__' || last === 'constructor' || last === 'prototype') throw new ConfigError([`${key}: forbidden path`]);
        node[last] = value;
    }
    return out;
}

/** Validates an already-merged object. Error messages name paths, never values (they may be secrets). */
export function parseConfig(input: unknown): WorkerConfig {
    const r = workerConfigSchema.safeParse(input);
    if (!r.success) throw new ConfigError(r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
    return r.data;
}

/** Reads the JSON file (if any), applies the environment, validates. */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv } = {}): WorkerConfig {
    let base: Record<string, unknown> = {};
    if (options.file) {
        let text: string;
        try {
            text = readFileSync(options.file, 'utf8');
        } catch (e) {
            throw new ConfigError([`cannot read ${options.file}: ${(e as Error).message}`]);
        }
        try {
            base = JSON.parse(text) as Record<string, unknown>;
        } catch (e) {
            throw new ConfigError([`${options.file} is not valid JSON: ${(e as Error).message}`]);
        }
        if (typeof base !== 'object' || base === null || Array.isArray(base)) throw new ConfigError([`${options.file} must hold a JSON object`]);
    }
    return parseConfig(applyEnv(base, options.env ?? process.env));
}

/** Keys whose values are secret wherever they appear (config, log records). */
export const SECRET_KEYS = ['apiKey', 'authorization', 'mnemonic', 'privateKey', 'secretKey', 'password', 'token'] as const;
