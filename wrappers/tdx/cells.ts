import { Builder, Cell, beginCell } from '@ton/core';

/**
 * Byte strings for the verifier travel as chains of cells: each cell holds
 * whole bytes and its first reference is the next cell. The contract hashes
 * the chain's data in order (Tact's sha256 over a snake slice).
 */

/** Splits `bytes` into cells of at most `chunk` bytes (127 fill a cell). */
export function byteChain(bytes: Uint8Array, chunk = 127): Cell {
    if (chunk < 1 || chunk > 127) throw new Error('byteChain: chunk must be 1..127 bytes');
    const parts: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += chunk) parts.push(Buffer.from(bytes.subarray(i, i + chunk)));
    if (parts.length === 0) parts.push(Buffer.alloc(0));
    return chainOf(parts);
}

/** Chains the given parts, first part in the root cell. */
export function chainOf(parts: Buffer[]): Cell {
    let next: Cell | null = null;
    for (let i = parts.length - 1; i >= 0; i--) {
        const b: Builder = beginCell().storeBuffer(parts[i]);
        if (next) b.storeRef(next);
        next = b.endCell();
    }
    return next!;
}

function sumOf(sizes: readonly number[]): number {
    return sizes.reduce((a, b) => a + b, 0);
}

/** Splits `bytes` at the given sizes (which must add up to its length). */
export function chunked(bytes: Uint8Array, sizes: readonly number[]): Cell {
    const total = sumOf(sizes);
    if (total !== bytes.length) throw new Error(`chunked: sizes add up to ${total}, bytes are ${bytes.length}`);
    const parts: Buffer[] = [];
    let p = 0;
    for (const n of sizes) {
        parts.push(Buffer.from(bytes.subarray(p, p + n)));
        p += n;
    }
    return chainOf(parts);
}

/**
 * The verifier reads the signed quote bytes in cells cut at field
 * boundaries, so every field it checks lies inside one cell. Version 4 (632
 * bytes): [header, TEE_TCB_SVN, MRSEAM] [MRSIGNERSEAM, SEAMATTRIBUTES,
 * TDATTRIBUTES, XFAM, MRTD] [MRCONFIGID, MROWNER] [MROWNERCONFIG, RTMR0]
 * [RTMR1, RTMR2] [RTMR3, REPORTDATA].
 */
export const QUOTE_V4_CHUNKS = [112, 120, 96, 96, 96, 112] as const;

/** Version 5 with a TD report 1.0 body (638 bytes): as version 4, with the
 * body type and body size in the first cell after the header. */
export const QUOTE_V5_TD_REPORT_10_CHUNKS = [118, 120, 96, 96, 96, 112] as const;

/** Version 5 with a TD report 1.5 body (702 bytes): as with a 1.0 body, then
 * [TEE_TCB_SVN2, MRSERVICETD]. */
export const QUOTE_V5_TD_REPORT_15_CHUNKS = [118, 120, 96, 96, 96, 112, 64] as const;

const QUOTE_LAYOUTS: readonly (readonly number[])[] = [QUOTE_V4_CHUNKS, QUOTE_V5_TD_REPORT_10_CHUNKS, QUOTE_V5_TD_REPORT_15_CHUNKS];

/** The 384-byte QE report: MRSIGNER in the second cell, ISVPRODID/ISVSVN
 * first in the fourth, REPORTDATA alone in the fifth. */
export const QE_REPORT_CHUNKS = [96, 96, 64, 64, 64] as const;

/**
 * The chunking of a quote's signed bytes. The three layouts sign different
 * lengths (632, 638, 702), so the length alone tells them apart, and agrees
 * with the version and body type of any quote parseQuote accepts. Choosing by
 * length also keeps a quote whose header was altered encodable, so the
 * verifier is the one to refuse it.
 */
export function quoteBodyChunks(signed: Uint8Array): readonly number[] {
    const chunks = QUOTE_LAYOUTS.find((sizes) => sumOf(sizes) === signed.length);
    if (!chunks) throw new Error(`quoteBodyCell: ${signed.length} signed bytes fit no quote layout (${QUOTE_LAYOUTS.map(sumOf).join(', ')})`);
    return chunks;
}

export function quoteBodyCell(signed: Uint8Array): Cell {
    return chunked(signed, quoteBodyChunks(signed));
}

export function qeReportCell(report: Uint8Array): Cell {
    return chunked(report, QE_REPORT_CHUNKS);
}

/** Reads a byte chain back (any chunking). */
export function chainBytes(cell: Cell): Buffer {
    const parts: Buffer[] = [];
    let c: Cell | undefined = cell;
    while (c) {
        const s = c.beginParse();
        if (s.remainingBits % 8) throw new Error('chainBytes: cell is not byte aligned');
        parts.push(s.loadBuffer(s.remainingBits / 8));
        c = s.remainingRefs > 0 ? s.loadRef() : undefined;
    }
    return Buffer.concat(parts);
}
