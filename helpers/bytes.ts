/**
 * Conversions between the chain's integers and bytes: keys, hashes and
 * model ids travel as 256-bit unsigned integers in cells and as 32 bytes or
 * 64 hex digits everywhere else.
 */

/** The big-endian unsigned integer of `bytes` (0 for none). */
export function bytesToUint(bytes: Uint8Array): bigint {
    return bytes.length === 0 ? 0n : BigInt('0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex'));
}

/** An unsigned integer as `width` big-endian bytes; throws when it does not fit. */
export function uintBytes(v: bigint, width: number): Buffer {
    if (v < 0n || v >= 1n << BigInt(8 * width)) throw new RangeError(`value does not fit in ${8 * width} bits`);
    return Buffer.from(v.toString(16).padStart(2 * width, '0'), 'hex');
}

/** A 256-bit unsigned integer as 32 big-endian bytes. */
export function uint256ToBytes(v: bigint): Buffer {
    return uintBytes(v, 32);
}

/** A 256-bit unsigned integer as 64 lower-case hex digits. */
export function hex256(v: bigint): string {
    return v.toString(16).padStart(64, '0');
}

/**
 * The largest amount a ledger column holds: SQLite integers are signed 64
 * bits, so a nanoTON figure above this is refused at the edge instead of
 * failing in the store.
 */
export const INT64_MAX = (1n << 63n) - 1n;
