import { createHash } from 'node:crypto';
import { dirname } from 'node:path';

/**
 * SHA-256 as @ton/crypto's `sha256_sync` computes it (a string is hashed as
 * its UTF-8 bytes), with Node's native SHA-256.
 */
export function sha256Native(source: Buffer | string): Buffer {
    return createHash('sha256')
        .update(typeof source === 'string' ? Buffer.from(source, 'utf-8') : source)
        .digest();
}

/**
 * @ton/core hashes every cell it builds or parses (receipts, vouchers, the
 * BoCs a chain read returns, the devnet's contract states) through
 * @ton/crypto's `sha256_sync`, which runs jssha's JavaScript SHA-256 over a
 * hex copy of the bytes: under load about 3-4% of the worker's and the
 * gateway's CPU. This puts `sha256Native` in its place, in the module of the
 * @ton/crypto that @ton/core itself loads; @ton/crypto's own export reads it
 * there at every call, so every later hash in the process uses it, whatever
 * was loaded before. Returns false, changing nothing, where that module is
 * not found (another @ton/crypto layout): hashing then stays as it was.
 */
export function useNativeCellHashing(): boolean {
    let primitives: { sha256_sync?: unknown };
    try {
        const fromCore = dirname(require.resolve('@ton/core'));
        primitives = require(require.resolve('@ton/crypto/dist/primitives/sha256', { paths: [fromCore] }));
    } catch {
        return false;
    }
    if (typeof primitives.sha256_sync !== 'function') return false;
    primitives.sha256_sync = sha256Native;
    return true;
}
