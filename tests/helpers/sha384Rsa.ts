import { KeyObject, X509Certificate, constants, createHash, createPublicKey, generateKeyPairSync, sign } from 'crypto';
import { readFileSync } from 'fs';
import { join } from 'path';
import { Sha384Digest, Sha384RsaHarness, Sha512State } from '../../build/Sha384RsaHarness/Sha384RsaHarness_Sha384RsaHarness';
import { bytesToBigInt } from '../../wrappers/rsaPssHints';

export const SEV_FIXTURES = join(__dirname, '..', 'fixtures', 'sev-snp');

export function sha384(data: Buffer): Buffer {
    return createHash('sha384').update(data).digest();
}

/** One DER element at `pos`: its tag, where its content starts and ends. */
function derElement(der: Buffer, pos: number): { tag: number; start: number; end: number } {
    const tag = der[pos];
    let len = der[pos + 1];
    let start = pos + 2;
    if (len >= 0x80) {
        const n = len - 0x80;
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + der[start + i];
        start += n;
    }
    return { tag, start, end: start + len };
}

export interface RsaCertificate {
    der: Buffer;
    /** Where the TBSCertificate (tag and length included) lies in `der`. */
    tbsStart: number;
    tbsLength: number;
    tbs: Buffer;
    /** The signature value (the BIT STRING's bytes after its unused-bits byte), and where it starts in `der`. */
    signature: Buffer;
    signatureStart: number;
    /** The subject's RSA modulus, or null when its key is not RSA. */
    modulus: bigint | null;
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }. */
export function parseCertificate(der: Buffer): RsaCertificate {
    const cert = derElement(der, 0);
    if (cert.tag !== 0x30) throw new Error('not a certificate');
    const tbs = derElement(der, cert.start);
    const alg = derElement(der, tbs.end);
    const sig = derElement(der, alg.end);
    if (tbs.tag !== 0x30 || alg.tag !== 0x30 || sig.tag !== 0x03 || der[sig.start] !== 0) throw new Error('unexpected certificate layout');
    const key = createPublicKey(new X509Certificate(der).publicKey.export({ format: 'pem', type: 'spki' }));
    const jwk = key.export({ format: 'jwk' });
    return {
        der,
        tbsStart: cert.start,
        tbsLength: tbs.end - cert.start,
        tbs: der.subarray(cert.start, tbs.end),
        signature: der.subarray(sig.start + 1, sig.end),
        signatureStart: sig.start + 1,
        modulus: jwk.kty === 'RSA' && jwk.n ? bytesToBigInt(Buffer.from(jwk.n, 'base64url')) : null,
    };
}

/** A fixture certificate (PEM or DER) from tests/fixtures/sev-snp. */
export function sevCertificate(file: string): RsaCertificate {
    const raw = readFileSync(join(SEV_FIXTURES, file));
    return parseCertificate(new X509Certificate(raw).raw);
}

/** SHA-384's initial state, as the harness starts its hash in progress. */
export function sha384InitialState(): Sha512State {
    const w = ['cbbb9d5dc1059ed8', '629a292a367cd507', '9159015a3070dd17', '152fecd8f70e5939', '67332667ffc00b31', '8eb44a8768581511', 'db0c2e0d64f98fa7', '47b5481dbefa4fa4'].map((x) =>
        BigInt('0x' + x),
    );
    return { $$type: 'Sha512State', h0: w[0], h1: w[1], h2: w[2], h3: w[3], h4: w[4], h5: w[5], h6: w[6], h7: w[7] };
}

/** A fresh harness (contract parameters: salt, then empty results). */
export function harnessInit(salt = 0n): Promise<Sha384RsaHarness> {
    return Sha384RsaHarness.fromInit(salt, 0n, { $$type: 'Sha384Digest', high: 0n, low: 0n }, sha384InitialState(), 0n, null);
}

/** A Sha384Digest read back from the contract as 48 bytes. */
export function digestBytes(d: Sha384Digest): Buffer {
    return Buffer.from(d.high.toString(16).padStart(48, '0') + d.low.toString(16).padStart(48, '0'), 'hex');
}

/** A 4096-bit RSA key pair with its modulus. */
export interface RsaKey {
    privateKey: KeyObject;
    n: bigint;
}

export function rsaKey(): RsaKey {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 4096 });
    return { privateKey, n: bytesToBigInt(Buffer.from(publicKey.export({ format: 'jwk' }).n!, 'base64url')) };
}

/** An RSASSA-PSS signature (SHA-384, MGF1-SHA-384, salt 48 bytes) as Node makes it. */
export function pssSign(key: RsaKey, message: Buffer): bigint {
    return bytesToBigInt(sign('sha384', message, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }));
}
