import { createHash, createHmac, Hash, Hmac } from 'node:crypto';

type Options = { hmacKey?: { value: string; format: string } };

const NATIVE: Record<string, string> = { 'SHA-256': 'sha256', 'SHA-512': 'sha512' };
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

function hexBytes(hex: string, what: string): Buffer {
    if (typeof hex !== 'string' || !HEX.test(hex)) throw new Error(`tests/jest/nativeSha.ts takes ${what} as whole bytes of hex`);
    return Buffer.from(hex, 'hex');
}

/**
 * What the tests get for `jssha`, the pure-JavaScript hash behind @ton/crypto's `sha256_sync`,
 * through which @ton/core hashes every cell it builds or parses (and behind `sha512_sync`).
 * The sandbox parses a contract's whole state after each of its transactions, so for contracts
 * with large states (AttestationVerifier's certificate caches) hashing cells took most of a
 * suite's time. Node's own SHA-2 computes the same digests. This serves the calls @ton/crypto
 * makes (whole bytes of hex in, one hex digest out; SHA-256, SHA-512, and HMAC over them with a
 * hex key, as its fallback HMAC does) and throws on any other, so nothing is hashed differently
 * unnoticed; nativeSha.spec.ts checks it against jssha itself. outerRealm.ts puts it in place.
 */
class NativeSha {
    /** How many hashes were started, so a test can see that a library hashes through this. */
    static started = 0;
    private readonly hash: Hash | Hmac;
    private done = false;

    constructor(variant: string, inputFormat: string, options?: Options) {
        const algorithm = NATIVE[variant];
        const key = options?.hmacKey;
        const extra = Object.keys(options ?? {}).filter((k) => k !== 'hmacKey');
        if (!algorithm || inputFormat !== 'HEX' || extra.length > 0 || (key !== undefined && key.format !== 'HEX')) {
            throw new Error(`tests/jest/nativeSha.ts serves jssha's SHA-256 and SHA-512 over hex (HMAC with a hex key); not ${variant} over ${inputFormat} ${JSON.stringify(options ?? {})}`);
        }
        this.hash = key ? createHmac(algorithm, hexBytes(key.value, 'an HMAC key')) : createHash(algorithm);
        NativeSha.started++;
    }

    update(input: string): this {
        this.hash.update(hexBytes(input, 'its input'));
        return this;
    }

    getHash(format: string, ...options: unknown[]): string {
        if (format !== 'HEX' || options.length > 0) throw new Error(`tests/jest/nativeSha.ts returns one hex digest without options, not ${format} ${JSON.stringify(options)}`);
        if (this.done) throw new Error('tests/jest/nativeSha.ts returns one digest per hash');
        this.done = true;
        return this.hash.digest('hex');
    }
}

export = NativeSha;
