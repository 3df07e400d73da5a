/**
 * Crash-safe state files. A state file is one header line
 * `{"format":"cocoon-devnet-state","version":1,"bytes":N,"sha256":"..."}`
 * followed by the payload, so a torn or truncated write is detected rather
 * than half-loaded. Saving writes `<file>.tmp`, fsyncs it, moves the current
 * file to `<file>.prev` and renames the new one into place; loading falls
 * back to `<file>.prev` when `<file>` is missing or fails its checksum.
 */
import { createHash } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';

const FORMAT = 'cocoon-devnet-state';
const VERSION = 1;

export type LoadedState = { payload: string; source: 'main' | 'prev'; problem?: string };

export function encodeStateFile(payload: string): Buffer {
    const body = Buffer.from(payload, 'utf8');
    const header = JSON.stringify({
        format: FORMAT,
        version: VERSION,
        bytes: body.length,
        sha256: createHash('sha256').update(body).digest('hex'),
    });
    return Buffer.concat([Buffer.from(header + '\n', 'utf8'), body]);
}

/** The payload, or an explanation of why the file is unusable. */
export function decodeStateFile(data: Buffer): { payload: string } | { problem: string } {
    const nl = data.indexOf(0x0a);
    if (nl < 0) return { problem: 'no header line (truncated?)' };
    let header: { format?: unknown; version?: unknown; bytes?: unknown; sha256?: unknown };
    try {
        header = JSON.parse(data.subarray(0, nl).toString('utf8'));
    } catch {
        return { problem: 'unreadable header' };
    }
    if (header.format !== FORMAT) return { problem: `not a ${FORMAT} file` };
    if (header.version !== VERSION) return { problem: `unsupported version ${String(header.version)}` };
    const body = data.subarray(nl + 1);
    if (body.length !== header.bytes) return { problem: `payload is ${body.length} bytes, header says ${String(header.bytes)} (truncated?)` };
    if (createHash('sha256').update(body).digest('hex') !== header.sha256) return { problem: 'checksum mismatch' };
    return { payload: body.toString('utf8') };
}

async function readIfExists(file: string): Promise<Buffer | undefined> {
    try {
        return await fs.readFile(file);
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
    }
}

async function fsyncDir(dir: string): Promise<void> {
    // Makes the renames durable; not supported on every platform.
    try {
        const handle = await fs.open(dir, 'r');
        try {
            await handle.sync();
        } finally {
            await handle.close();
        }
    } catch {
        /* best effort */
    }
}

export async function saveStateFile(file: string, payload: string): Promise<void> {
    const dir = path.dirname(path.resolve(file));
    await fs.mkdir(dir, { recursive: true });
    const tmp = `${file}.tmp`;
    const handle = await fs.open(tmp, 'w');
    try {
        await handle.writeFile(encodeStateFile(payload));
        await handle.sync();
    } finally {
        await handle.close();
    }
    // Only a verified file may become `.prev`: never rotate a corrupt one over a good backup.
    const current = await readIfExists(file);
    if (current && 'payload' in decodeStateFile(current)) {
        await fs.rename(file, `${file}.prev`);
    }
    await fs.rename(tmp, file);
    await fsyncDir(dir);
}

/**
 * Loads `<file>`, else `<file>.prev`. A corrupt main file is moved aside to
 * `<file>.corrupt-<time>` (kept for inspection) so the next save cannot
 * replace the good backup with it. Returns undefined when neither exists.
 */
export async function loadStateFile(file: string): Promise<LoadedState | undefined> {
    const main = await readIfExists(file);
    let problem: string | undefined;
    if (main) {
        const decoded = decodeStateFile(main);
        if ('payload' in decoded) return { payload: decoded.payload, source: 'main' };
        problem = `${file}: ${decoded.problem}`;
        await fs.rename(file, `${file}.corrupt-${Date.now()}`);
    }
    const prev = await readIfExists(`${file}.prev`);
    if (prev) {
        const decoded = decodeStateFile(prev);
        if ('payload' in decoded) return { payload: decoded.payload, source: 'prev', problem: problem ?? `${file} is missing` };
        throw new Error(`${problem ?? `${file} is missing`}; and ${file}.prev: ${decoded.problem}`);
    }
    if (problem) throw new Error(`${problem}; no ${file}.prev to recover from`);
    return undefined;
}
