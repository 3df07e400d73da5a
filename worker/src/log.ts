import pino, { DestinationStream, Logger, LoggerOptions } from 'pino';
import { SECRET_KEYS } from './config';

/**
 * The worker's logger (pino, JSON lines). Two things must never reach a log:
 * secrets (keys, mnemonics, API tokens) and what users asked or got (the
 * whole point of the enclave). Both are removed by key name, by pino's
 * redaction at any depth up to four levels, and `sanitize` strips them at any
 * depth from objects that are logged whole (like the configuration).
 */

/** Keys carrying user data: logged only as "[redacted]". */
export const PRIVATE_DATA_KEYS = ['messages', 'prompt', 'plaintext', 'body'] as const;

const REDACTED = '[redacted]';

function redactPaths(): string[] {
    const keys = [...SECRET_KEYS, ...PRIVATE_DATA_KEYS];
    const paths: string[] = [];
    for (const k of keys) {
        paths.push(k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`);
    }
    paths.push('req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization', 'headers["x-api-key"]', 'req.headers.cookie');
    return paths;
}

export interface LogOptions {
    level?: string;
    /** Where to write (tests pass a stream); stdout by default. */
    destination?: DestinationStream;
    name?: string;
}

export function createLogger(options: LogOptions = {}): Logger {
    const opts: LoggerOptions = {
        name: options.name ?? 'cocoon-worker',
        level: options.level ?? 'info',
        redact: { paths: redactPaths(), censor: REDACTED },
        serializers: { err: pino.stdSerializers.err },
        formatters: { level: (label) => ({ level: label }) },
        timestamp: pino.stdTimeFunctions.isoTime,
    };
    return options.destination ? pino(opts, options.destination) : pino(opts);
}

const secret = new Set<string>([...SECRET_KEYS, ...PRIVATE_DATA_KEYS].map((k) => k.toLowerCase()));

/**
 * Deep copy with secret and private-data keys replaced, Buffers and typed
 * arrays summarised, and bigints as strings (pino cannot serialise them).
 */
export function sanitize(value: unknown, depth = 0, parent = ''): unknown {
    if (depth > 32) return '[too deep]';
    if (typeof value === 'bigint') return value.toString();
    if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `<${value.length} bytes>`;
    if (Array.isArray(value)) return value.map((v) => sanitize(v, depth + 1));
    if (value && typeof value === 'object') {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) {
            const lk = k.toLowerCase();
            // Price terms are public (they are on chain): `prices.prompt` is a number, not a user's prompt.
            const publicPrice = parent === 'prices' && typeof v !== 'object';
            out[k] = !publicPrice && (secret.has(lk) || lk.endsWith('mnemonic') || lk.endsWith('secret')) ? REDACTED : sanitize(v, depth + 1, lk);
        }
        return out;
    }
    return value;
}
