import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { keyPairFromSeed } from '@ton/crypto';
import { X25519KeyPair, publicKeyOf } from '../../helpers/hpke';
import { writeSecretFile } from '../../helpers/secretFile';

/**
 * The worker's two long-lived keys, as files readable only by their owner:
 * - the Ed25519 receipt key (signs receipts; its public half is attested),
 * - the X25519 encryption key (clients seal requests to it; attested too).
 * Each file holds the 32-byte secret as hex. Inside a TEE the same files live
 * on the enclave's encrypted disk.
 */

export interface ReceiptKeyPair {
    publicKey: Buffer; // 32 bytes
    secretKey: Buffer; // 64 bytes, @ton/crypto layout (seed || public key)
}

export interface WorkerKeys {
    receipt: ReceiptKeyPair;
    encryption: X25519KeyPair;
}

export class KeyFileError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'KeyFileError';
    }
}

function writeSecret(path: string, secret: Buffer, overwrite: boolean) {
    // Without overwrite an existing key is refused (EEXIST): losing the
    // receipt key loses the attested identity, so replacing it must be explicit.
    writeSecretFile(path, secret.toString('hex') + '\n', { overwrite });
}

function readSecret(path: string): Buffer {
    let st;
    try {
        st = statSync(path);
    } catch (e) {
        throw new KeyFileError(`cannot read key file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) throw new KeyFileError(`key file ${path} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600`);
    const text = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/i.test(text)) throw new KeyFileError(`key file ${path} does not hold a 32-byte hex secret`);
    return Buffer.from(text, 'hex');
}

/** Creates both key files (mode 0600). Refuses to overwrite unless asked. */
export function initKeys(paths: { receiptKeyPath: string; encryptionKeyPath: string }, options: { overwrite?: boolean } = {}): WorkerKeys {
    const seed = randomBytes(32);
    const x25519 = randomBytes(32);
    writeSecret(paths.receiptKeyPath, seed, options.overwrite ?? false);
    writeSecret(paths.encryptionKeyPath, x25519, options.overwrite ?? false);
    return loadKeys(paths);
}

export function loadKeys(paths: { receiptKeyPath: string; encryptionKeyPath: string }): WorkerKeys {
    const kp = keyPairFromSeed(readSecret(paths.receiptKeyPath));
    const encSecret = readSecret(paths.encryptionKeyPath);
    return {
        receipt: { publicKey: kp.publicKey, secretKey: kp.secretKey },
        encryption: { privateKey: encSecret, publicKey: publicKeyOf(encSecret) },
    };
}
