import { KeyObject, constants, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign as nodeSign } from 'crypto';
import { P384_G, P384_N, p384MultiMul } from '../p384Hints';
import { modInv } from '../../helpers/modular';
import { bytesToUint, uintBytes } from '../../helpers/bytes';
import { derBitString, derExplicit, derInt, derName, derOctets, derOid, derSeq, derTime, derTlv } from '../tdx/der';
import { AMD_PSS_ALGORITHM, AMD_SALT_LENGTH, OID_AMD, OID_EC_PUBLIC_KEY, OID_RSA_ENCRYPTION, OID_SECP384R1, P384Point, RsaPublicKey, p384KeyBytes } from './amdCertificates';
import { SNP_OFFSETS, SNP_REPORT_SIZE, SNP_SIGNATURE_ALGO_ECDSA_P384_SHA384, SNP_SIGNED_SIZE, SNP_TURIN_FAMILY, SnpTcb, snpTcbBytes } from './report';

/**
 * A simulated AMD SEV-SNP key chain for tests and local networks: an ARK
 * and an ASK (RSA-4096), a VCEK (P-384) for one chip id and TCB, with
 * certificates in AMD's exact shape (RSASSA-PSS, SHA-384, salt 48; AMD's
 * VCEK extensions), and reports signed by the VCEK in the firmware's
 * layout. Networks that pin its ARK accept what it signs, so it is never for
 * production: the keys live in this process (or in the file a local
 * network keeps them in).
 */

export interface SnpTestChain {
    ark: { privateKey: KeyObject; publicKey: RsaPublicKey; der: Buffer };
    ask: { privateKey: KeyObject; publicKey: RsaPublicKey; der: Buffer };
    vcek: { privateKey: KeyObject; publicKey: P384Point; der: Buffer };
    chipId: Buffer;
    tcb: SnpTcb;
}

const uintOf = (s: string | undefined) => bytesToUint(Buffer.from(s!, 'base64url'));

function rsaPublic(key: KeyObject): RsaPublicKey {
    const jwk = createPublicKey(key).export({ format: 'jwk' });
    return { n: uintOf(jwk.n), e: uintOf(jwk.e) };
}

function p384Public(key: KeyObject): P384Point {
    const jwk = createPublicKey(key).export({ format: 'jwk' });
    return { x: uintOf(jwk.x), y: uintOf(jwk.y) };
}

const derNull = () => derTlv(0x05, Buffer.alloc(0));

function rsaSpki(k: RsaPublicKey): Buffer {
    return derSeq(derSeq(derOid(OID_RSA_ENCRYPTION), derNull()), derBitString(derSeq(derInt(k.n), derInt(k.e))));
}

/** A P-384 SubjectPublicKeyInfo, as a VCEK certificate carries its key. */
export function p384Spki(k: P384Point): Buffer {
    return derSeq(derSeq(derOid(OID_EC_PUBLIC_KEY), derOid(OID_SECP384R1)), derBitString(Buffer.concat([Buffer.from([4]), p384KeyBytes(k)])));
}

/** RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt, as AMD signs. */
export function signAmdPss(key: KeyObject, data: Uint8Array): Buffer {
    return nodeSign('sha384', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: AMD_SALT_LENGTH });
}

export interface AmdCertificateOptions {
    subjectCN: string;
    issuerCN: string;
    spki: Buffer;
    issuer: KeyObject;
    notBefore?: Date;
    notAfter?: Date;
    serial?: bigint;
    extensions?: Buffer[];
}

/** A certificate in AMD's shape, signed by `issuer` (RSA-4096). */
export function amdCertificate(o: AmdCertificateOptions): Buffer {
    const tbs = derSeq(
        derExplicit(0, derInt(2n)),
        derInt(o.serial ?? 1n),
        AMD_PSS_ALGORITHM,
        derName(o.issuerCN),
        derSeq(derTime(o.notBefore ?? new Date(Date.UTC(2020, 0, 1))), derTime(o.notAfter ?? new Date(Date.UTC(2045, 0, 1)))),
        derName(o.subjectCN),
        o.spki,
        ...(o.extensions && o.extensions.length > 0 ? [derExplicit(3, derSeq(...o.extensions))] : []),
    );
    return derSeq(tbs, AMD_PSS_ALGORITHM, derBitString(signAmdPss(o.issuer, tbs)));
}

/**
 * AMD's VCEK extensions: structure version, product name, the TCB's SPLs and
 * the chip id; a TCB with an FMC part gives a Turin VCEK (the FMC's SPL, and
 * the 8-byte hwID that the report's 64-byte CHIP_ID starts with).
 */
export function vcekExtensions(tcb: SnpTcb, chipId: Buffer, productName = 'Milan-B0'): Buffer[] {
    const ext = (oid: string, value: Buffer) => derSeq(derOid(oid), derOctets(value));
    const turin = tcb.fmc !== undefined;
    if (turin && chipId.subarray(8).some((x) => x !== 0)) throw new Error("a Turin chip id is 8 bytes: CHIP_ID's other 56 are zero");
    return [
        ext(OID_AMD.structVersion, derInt(0n)),
        ext(OID_AMD.productName, derTlv(0x16, Buffer.from(productName, 'ascii'))),
        ext(OID_AMD.bootloader, derInt(BigInt(tcb.bootloader))),
        ext(OID_AMD.tee, derInt(BigInt(tcb.tee))),
        ext(OID_AMD.snp, derInt(BigInt(tcb.snp))),
        ext(OID_AMD.microcode, derInt(BigInt(tcb.microcode))),
        ...(turin ? [ext(OID_AMD.fmc, derInt(BigInt(tcb.fmc!)))] : []),
        ext(OID_AMD.hwId, turin ? chipId.subarray(0, 8) : chipId),
    ];
}

/**
 * A new chain: fresh RSA-4096 ARK and ASK (seconds of key generation), a
 * VCEK for `chipId` at `tcb`; from `vcekSeed`, the VCEK key is derived and
 * its report signatures are deterministic (so gas figures repeat). The
 * Turin generation has Turin's TCB layout and short chip id.
 */
export function generateSnpTestChain(o: { chipId?: Buffer; tcb?: SnpTcb; generation?: string; vcekSeed?: string } = {}): SnpTestChain {
    const gen = o.generation ?? 'Milan';
    const rsa = () => generateKeyPairSync('rsa', { modulusLength: 4096, publicExponent: 65537 }).privateKey;
    const arkKey = rsa();
    const askKey = rsa();
    const vcekKey = o.vcekSeed === undefined ? generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey : seededP384Key(o.vcekSeed);
    const turin = gen === 'Turin';
    const chipId = o.chipId ?? (turin ? Buffer.concat([randomBytes(8), Buffer.alloc(56)]) : randomBytes(64));
    const tcb = o.tcb ?? (turin ? { fmc: 1, bootloader: 1, tee: 1, snp: 3, microcode: 72 } : { bootloader: 3, tee: 0, snp: 8, microcode: 115 });
    return assembleSnpTestChain({ arkKey, askKey, vcekKey, chipId, tcb, generation: gen });
}

/** The chain's certificates for the given keys (a VCEK for another chip or TCB under the same ARK and ASK, for instance). */
export function assembleSnpTestChain(o: { arkKey: KeyObject; askKey: KeyObject; vcekKey: KeyObject; chipId: Buffer; tcb: SnpTcb; generation?: string }): SnpTestChain {
    const gen = o.generation ?? 'Milan';
    const arkPublic = rsaPublic(o.arkKey);
    const askPublic = rsaPublic(o.askKey);
    const vcekPublic = p384Public(o.vcekKey);
    return {
        ark: { privateKey: o.arkKey, publicKey: arkPublic, der: amdCertificate({ subjectCN: `ARK-${gen}`, issuerCN: `ARK-${gen}`, spki: rsaSpki(arkPublic), issuer: o.arkKey }) },
        ask: { privateKey: o.askKey, publicKey: askPublic, der: amdCertificate({ subjectCN: `SEV-${gen}`, issuerCN: `ARK-${gen}`, spki: rsaSpki(askPublic), issuer: o.arkKey, serial: 65537n }) },
        vcek: {
            privateKey: o.vcekKey,
            publicKey: vcekPublic,
            der: amdCertificate({
                subjectCN: 'SEV-VCEK',
                issuerCN: `SEV-${gen}`,
                spki: p384Spki(vcekPublic),
                issuer: o.askKey,
                serial: 0n,
                notBefore: new Date(Date.UTC(2023, 0, 1)),
                notAfter: new Date(Date.UTC(2030, 0, 1)),
                extensions: vcekExtensions(o.tcb, o.chipId, `${gen}-B0`),
            }),
        },
        chipId: o.chipId,
        tcb: o.tcb,
    };
}

/** The chain's private keys as PKCS#8 PEM with its chip id and TCB, for a local network to keep between runs. */
export function snpTestChainToJson(c: SnpTestChain): string {
    const pem = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }).toString();
    return JSON.stringify({ ark: pem(c.ark.privateKey), ask: pem(c.ask.privateKey), vcek: pem(c.vcek.privateKey), chipId: c.chipId.toString('hex'), tcb: c.tcb }, null, 2);
}

export function snpTestChainFromJson(text: string): SnpTestChain {
    const j = JSON.parse(text);
    return assembleSnpTestChain({ arkKey: createPrivateKey(j.ark), askKey: createPrivateKey(j.ask), vcekKey: createPrivateKey(j.vcek), chipId: Buffer.from(j.chipId, 'hex'), tcb: j.tcb });
}

export interface SnpReportFields {
    reportData: Buffer;
    measurement: Buffer;
    version?: number;
    policy?: bigint;
    vmpl?: number;
    hostData?: Buffer;
    reportedTcb?: SnpTcb;
    chipId?: Buffer;
    guestSvn?: number;
}

/** The default guest policy: ABI 0.0, SMT allowed, reserved bit 17 set, no debug, no migration agent. */
export const SNP_TEST_POLICY = 0x30000n;

/** A report in the firmware's layout, signed by the chain's VCEK (unless `sign` is false). */
export function snpTestReport(c: SnpTestChain, f: SnpReportFields, sign = true): Buffer {
    if (f.reportData.length !== 64) throw new Error('REPORT_DATA is 64 bytes');
    if (f.measurement.length !== 48) throw new Error('MEASUREMENT is 48 bytes');
    const b = Buffer.alloc(SNP_REPORT_SIZE);
    const turin = (f.reportedTcb ?? c.tcb).fmc !== undefined;
    // Turin's firmware writes version 3 or later reports, which name the CPU family.
    const version = f.version ?? (turin ? 3 : 2);
    b.writeUInt32LE(version, SNP_OFFSETS.version);
    if (version >= 3) b[SNP_OFFSETS.cpuidFamily] = turin ? SNP_TURIN_FAMILY : 0x19;
    b.writeUInt32LE(f.guestSvn ?? 0, SNP_OFFSETS.guestSvn);
    b.writeBigUInt64LE(f.policy ?? SNP_TEST_POLICY, SNP_OFFSETS.policy);
    b.writeUInt32LE(f.vmpl ?? 0, SNP_OFFSETS.vmpl);
    b.writeUInt32LE(SNP_SIGNATURE_ALGO_ECDSA_P384_SHA384, SNP_OFFSETS.signatureAlgo);
    const tcb = snpTcbBytes(f.reportedTcb ?? c.tcb);
    tcb.copy(b, SNP_OFFSETS.currentTcb);
    f.reportData.copy(b, SNP_OFFSETS.reportData);
    f.measurement.copy(b, SNP_OFFSETS.measurement);
    (f.hostData ?? Buffer.alloc(32)).copy(b, SNP_OFFSETS.hostData);
    tcb.copy(b, SNP_OFFSETS.reportedTcb);
    (f.chipId ?? c.chipId).copy(b, SNP_OFFSETS.chipId);
    if (sign) {
        const sig = signP384Deterministic(c.vcek.privateKey, b.subarray(0, SNP_SIGNED_SIZE));
        Buffer.from(sig.subarray(0, 48)).reverse().copy(b, SNP_OFFSETS.signature);
        Buffer.from(sig.subarray(48))
            .reverse()
            .copy(b, SNP_OFFSETS.signature + 72);
    }
    return b;
}

const be48 = (v: bigint) => uintBytes(v, 48);

/** A P-384 private key derived from `seed` (test keys whose ids repeat run to run). */
export function seededP384Key(seed: string): KeyObject {
    const d = (bytesToUint(createHash('sha384').update(seed).digest()) % (P384_N - 1n)) + 1n;
    const q = p384MultiMul([[d, P384_G]])!;
    const b64 = (v: bigint) => be48(v).toString('base64url');
    return createPrivateKey({ key: { kty: 'EC', crv: 'P-384', d: b64(d), x: b64(q.x), y: b64(q.y) }, format: 'jwk' });
}

/**
 * ECDSA P-384 with SHA-384 over `data`, r || s (96 bytes), with the nonce
 * derived from the key and the digest (as RFC 6979 does, in a simpler way
 * good enough for test keys): the same report gets the same signature.
 */
export function signP384Deterministic(key: KeyObject, data: Uint8Array): Buffer {
    const d = bytesToUint(Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url'));
    const digest = createHash('sha384').update(data).digest();
    const e = bytesToUint(digest);
    for (let i = 0; ; i++) {
        const k = (bytesToUint(createHash('sha384').update(be48(d)).update(digest).update(String(i)).digest()) % (P384_N - 1n)) + 1n;
        const r = p384MultiMul([[k, P384_G]])!.x % P384_N;
        const s = (modInv(k, P384_N) * ((e + r * d) % P384_N)) % P384_N;
        if (r !== 0n && s !== 0n) return Buffer.concat([be48(r), be48(s)]);
    }
}
