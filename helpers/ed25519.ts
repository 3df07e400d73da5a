import { KeyObject, createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { sign as naclSign, signVerify as naclVerify } from '@ton/crypto';

/**
 * Ed25519 (RFC 8032) through Node's native crypto (OpenSSL), with the key
 * objects cached: a drop-in for @ton/crypto's `sign` / `signVerify`, which
 * run tweetnacl in JavaScript (~6 ms per signature and ~15 ms per
 * verification on the 2-core reference machine, against ~0.1 ms here).
 * Every receipt and voucher is signed and verified on the request path, so
 * this is most of the protocol's CPU cost (bench/RESULTS.md).
 *
 * Ed25519 signatures are deterministic: the same key and message give the
 * same 64 bytes as tweetnacl. Keys are the TON/tweetnacl formats: a 64-byte
 * secret key (seed || public key) and a 32-byte public key.
 */

// DER prefixes of PKCS#8 (private) and SPKI (public) Ed25519 keys (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const CACHE_MAX = 1024;

// A few keys are used over and over (the worker's receipt key, each
// channel's client key): import each once.
const privateKeys = new Map<string, KeyObject | null>();
const publicKeys = new Map<string, KeyObject | null>();

function remember<T>(m: Map<string, T>, k: string, v: T): T {
    if (m.size >= CACHE_MAX) m.delete(m.keys().next().value as string);
    m.set(k, v);
    return v;
}

/** The native key for a 64-byte secret key, or null when its halves disagree (then tweetnacl signs, as before). */
function privateKeyOf(secretKey: Buffer): KeyObject | null {
    const k = secretKey.toString('hex');
    const hit = privateKeys.get(k);
    if (hit !== undefined) return hit;
    let key: KeyObject | null = null;
    try {
        const candidate = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey.subarray(0, 32)]), format: 'der', type: 'pkcs8' });
        const pub = Buffer.from(createPublicKey(candidate).export({ format: 'jwk' }).x as string, 'base64url');
        // tweetnacl signs with the public half it is given; only a
        // consistent key pair gives the same signature natively.
        if (pub.equals(secretKey.subarray(32, 64))) key = candidate;
    } catch {
        key = null;
    }
    return remember(privateKeys, k, key);
}

function publicKeyOf(publicKey: Buffer): KeyObject | null {
    const k = publicKey.toString('hex');
    const hit = publicKeys.get(k);
    if (hit !== undefined) return hit;
    let key: KeyObject | null = null;
    try {
        key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    } catch {
        key = null; // not a valid point encoding: nothing verifies under it
    }
    return remember(publicKeys, k, key);
}

/** Ed25519 signature of `data` with a 64-byte secret key. */
export function sign(data: Buffer, secretKey: Buffer): Buffer {
    if (secretKey.length !== 64) return naclSign(data, secretKey); // let tweetnacl give its error
    const key = privateKeyOf(secretKey);
    return key ? nodeSign(null, data, key) : naclSign(data, secretKey);
}

/** True when `signature` is a valid Ed25519 signature of `data` by `publicKey`. */
export function signVerify(data: Buffer, signature: Buffer, publicKey: Buffer): boolean {
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    const key = publicKeyOf(publicKey);
    if (!key) return naclVerify(data, signature, publicKey);
    try {
        return nodeVerify(null, data, key, signature);
    } catch {
        return false;
    }
}
