import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign, signVerify } from '@ton/crypto';
import { openRequest, sealRequest } from '../../helpers/hpke';
import { KeyFileError, initKeys, loadKeys } from '../../worker/src/keys';

let dir: string;
let paths: { receiptKeyPath: string; encryptionKeyPath: string };
beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-keys-'));
    paths = { receiptKeyPath: join(dir, 'receipt.key'), encryptionKeyPath: join(dir, 'encryption.key') };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('worker keys', () => {
    it('creates owner-only key files that load back to working keys', async () => {
        const created = initKeys(paths);
        expect(statSync(paths.receiptKeyPath).mode & 0o777).toBe(0o600);
        expect(statSync(paths.encryptionKeyPath).mode & 0o777).toBe(0o600);
        const loaded = loadKeys(paths);
        expect(loaded.receipt.publicKey).toEqual(created.receipt.publicKey);
        expect(loaded.encryption.publicKey).toEqual(created.encryption.publicKey);
        const msg = Buffer.alloc(32, 7);
        expect(signVerify(msg, sign(msg, loaded.receipt.secretKey), created.receipt.publicKey)).toBe(true);
        const { envelope } = await sealRequest(created.encryption.publicKey, Buffer.from('hi'));
        expect((await openRequest(envelope, loaded.encryption)).plaintext.toString()).toBe('hi');
    });

    it('never silently replaces existing keys', () => {
        const first = initKeys(paths);
        expect(() => initKeys(paths)).toThrow(/EEXIST/);
        expect(loadKeys(paths).receipt.publicKey).toEqual(first.receipt.publicKey);
        const second = initKeys(paths, { overwrite: true });
        expect(second.receipt.publicKey).not.toEqual(first.receipt.publicKey);
    });

    it('refuses readable-by-others, missing and malformed key files', () => {
        initKeys(paths);
        chmodSync(paths.receiptKeyPath, 0o644);
        expect(() => loadKeys(paths)).toThrow(/chmod 600/);
        chmodSync(paths.receiptKeyPath, 0o600);
        writeFileSync(paths.encryptionKeyPath, 'zz', { mode: 0o600 });
        expect(() => loadKeys(paths)).toThrow(KeyFileError);
        rmSync(paths.encryptionKeyPath);
        expect(() => loadKeys(paths)).toThrow(/ENOENT/);
    });
});
