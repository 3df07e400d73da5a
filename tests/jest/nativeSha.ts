import { createHash, createHmac, Hash, Hmac } from 'node:crypto';

type Options = { hmacKey?: { value: string; format: string } };

const NATIVE: Record<string, string> = { 'SHA-256': 'sha256', 'SHA-512': 'sha512' };

/**
 * What test files get for `jssha` (jest.config.ts `moduleNameMapper`): the pure-JavaScript hash
 * that @ton/crypto's `sha256_sync`, `sha512_sync` and `hmac_sha512` call, and through them
 * @ton/core for the hash of every cell it builds or parses. The sandbox parses a contract's whole
 * state after each of its transactions, so for contracts with large states (AttestationVerifier's
 * certificate caches) hashing cells took most of a suite's time. Node's own SHA-2 computes the
 * same digests. This serves exactly the calls those libraries make (hex in, hex out; SHA-256,
 * SHA-512, HMAC-SHA-512 with a hex key) and refuses any other, so nothing is hashed differently
 * unnoticed; nativeSha.spec.ts checks it against jssha itself.
 */
class NativeSha {
    private readonly hash: Hash | Hmac;

    constructor(variant: string, inputFormat: string, options?: Options) {
        const algorithm = NATIVE[variant];
        const key = options?.hmacKey;
        const extra = Object.keys(options ?? {}).filter((k) => k !== 'hmacKey');
        if (!algorithm || inputFormat !== 'HEX' || extra.length > 0 || (key !== undefined && key.format !== 'HEX')) {
            throw new Error(`tests/jest/nativeSha.ts serves jssha's SHA-256 and SHA-512 over hex (HMAC with a hex key); not ${variant} over ${inputFormat} ${JSON.stringify(options ?? {})}`);
        }
        this.hash = key ? createHmac(algorithm, Buffer.from(key.value, 'hex')) : createHash(algorithm);
    }

    update(input: string): this {
        this.hash.update(Buffer.from(input, 'hex'));
        return this;
    }

    getHash(format: string): string {
        if (format !== 'HEX') throw new Error(`tests/jest/nativeSha.ts returns hex digests, not ${format}`);
        return this.hash.digest('hex');
    }
}

export = NativeSha;
