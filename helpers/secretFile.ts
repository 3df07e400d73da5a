import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * Writes a secret (a key, a mnemonic, a config that names them) as a file
 * only its owner can read (mode 0600), atomically: the bytes go to a fresh
 * temporary file beside it, are fsync'd, and only then take the final name.
 * A reader, or a crash at any point, sees the old file or the whole new one,
 * never a truncated key; and a file being replaced never passes through a
 * moment of wider permissions (writing over an existing file in place would
 * keep that file's mode, whatever it was).
 *
 * Without `overwrite` an existing file is never replaced (a lost receipt key
 * is a lost identity, so replacing one must be asked for): the temporary file
 * is hard-linked to the name, which fails with EEXIST if the name exists,
 * atomically even against another process doing the same.
 */
export function writeSecretFile(path: string, data: string | Uint8Array, options: { overwrite?: boolean } = {}): void {
    const dir = dirname(resolve(path));
    const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    const fd = openSync(tmp, 'wx', 0o600);
    let placed = false;
    try {
        try {
            // The umask can only take bits away from 0600; fchmod makes it exactly 0600.
            fchmodSync(fd, 0o600);
            writeFileSync(fd, data);
            fsyncSync(fd);
        } finally {
            closeSync(fd);
        }
        if (options.overwrite) {
            renameSync(tmp, path);
            placed = true;
        } else placeExclusively(tmp, path, data);
    } finally {
        if (!placed) removeQuietly(tmp);
    }
    syncDir(dir);
}

function placeExclusively(tmp: string, path: string, data: string | Uint8Array): void {
    try {
        linkSync(tmp, path);
        return;
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw Object.assign(new Error(`EEXIST: ${path} already exists (not replaced)`), { code: 'EEXIST', path });
        // A file system without hard links: still never replace, just not atomically.
        if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes(code ?? '')) throw e;
    }
    const fd = openSync(path, 'wx', 0o600);
    try {
        fchmodSync(fd, 0o600);
        writeFileSync(fd, data);
        fsyncSync(fd);
    } finally {
        closeSync(fd);
    }
}

function removeQuietly(file: string): void {
    try {
        unlinkSync(file);
    } catch {
        /* already gone */
    }
}

/** Makes the new name durable; not every platform can fsync a directory. */
function syncDir(dir: string): void {
    let fd: number | undefined;
    try {
        fd = openSync(dir, 'r');
        fsyncSync(fd);
    } catch {
        /* best effort */
    } finally {
        if (fd !== undefined) closeSync(fd);
    }
}
