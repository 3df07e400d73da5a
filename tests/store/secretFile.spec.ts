import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSecretFile } from '../../helpers/secretFile';

let dir: string;
beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-secret-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const mode = (p: string) => statSync(p).mode & 0o777;

describe('writeSecretFile', () => {
    it('writes an owner-only file whatever the umask, and leaves no temporary file', () => {
        const path = join(dir, 'a.key');
        const umask = process.umask(0);
        try {
            writeSecretFile(path, 'secret\n');
        } finally {
            process.umask(umask);
        }
        expect(readFileSync(path, 'utf8')).toBe('secret\n');
        expect(mode(path)).toBe(0o600);
        expect(readdirSync(dir)).toEqual(['a.key']);
    });

    it('never replaces an existing file unless asked (EEXIST), and then replaces it whole at 0600', () => {
        const path = join(dir, 'a.key');
        writeFileSync(path, 'old');
        chmodSync(path, 0o644);
        expect(() => writeSecretFile(path, Buffer.from('new'))).toThrow(/EEXIST/);
        expect(readFileSync(path, 'utf8')).toBe('old');
        expect(readdirSync(dir)).toEqual(['a.key']);

        writeSecretFile(path, Buffer.from('new'), { overwrite: true });
        expect(readFileSync(path, 'utf8')).toBe('new');
        // Written in place, the old 0644 would have stayed.
        expect(mode(path)).toBe(0o600);
        expect(readdirSync(dir)).toEqual(['a.key']);
    });

    it('fails without leaving anything behind when the directory is missing', () => {
        expect(() => writeSecretFile(join(dir, 'missing', 'a.key'), 'x')).toThrow(/ENOENT/);
        expect(readdirSync(dir)).toEqual([]);
    });
});
