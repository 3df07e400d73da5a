import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { keyPairFromSeed } from '@ton/crypto';
import { AttestationClaims, claimsBytes, claimsReportData, imageHashOf, parseQuote, signSimulated } from '../../wrappers/tdx';
import { DEV_IMAGE_HASH } from '../../wrappers/devnet';
import { hex256 } from '../../helpers/bytes';

/**
 * Attestation providers: evidence that binds the worker's claims (stake
 * address, receipt key, encryption key, model, expiry) to an enclave.
 *
 * - `tdx`: Linux configfs-tsm. A report directory is created under the tsm
 *   root, the 64-byte REPORTDATA (SHA-512 of the claims) written to
 *   `inblob`, and the quote read from `outblob`; the directory is removed.
 * - `simulated`: an Ed25519 signature by the development key over the claims
 *   and a stated image hash. Networks accept it only when their Registry
 *   allows simulated attestation (local networks, never production).
 */

export interface Evidence {
    provider: 'tdx' | 'simulated';
    claims: AttestationClaims;
    imageHash: bigint;
    /** simulated: the development key's signature. */
    signature?: Buffer;
    /** tdx: the raw quote. */
    quote?: Buffer;
}

export interface AttestationProvider {
    readonly kind: 'tdx' | 'simulated';
    attest(claims: AttestationClaims): Promise<Evidence>;
}

export class AttestationError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'AttestationError';
    }
}

/** Reads the development key file: a 32-byte seed as hex, mode 0600. */
export function readDevKey(path: string): { publicKey: Buffer; secretKey: Buffer } {
    const st = statSync(path);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) throw new AttestationError(`key file ${path} is accessible by group or others; run chmod 600`);
    const text = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/i.test(text)) throw new AttestationError(`key file ${path} does not hold a 32-byte hex seed`);
    return keyPairFromSeed(Buffer.from(text, 'hex'));
}

export class SimulatedProvider implements AttestationProvider {
    readonly kind = 'simulated';
    constructor(
        private readonly devKey: { secretKey: Buffer },
        private readonly imageHash: bigint = DEV_IMAGE_HASH,
    ) {}

    async attest(claims: AttestationClaims): Promise<Evidence> {
        claimsBytes(claims); // validates the field ranges
        return { provider: 'simulated', claims, imageHash: this.imageHash, signature: signSimulated(claims, this.imageHash, this.devKey.secretKey) };
    }
}

export class TdxProvider implements AttestationProvider {
    readonly kind = 'tdx';
    constructor(
        private readonly tsmRoot: string,
        private readonly options: { timeoutMs?: number } = {},
    ) {}

    /** REPORTDATA in, quote out, through configfs-tsm. */
    async quote(reportData: Buffer): Promise<Buffer> {
        if (reportData.length !== 64) throw new AttestationError('REPORTDATA is 64 bytes');
        try {
            await fs.access(this.tsmRoot);
        } catch {
            throw new AttestationError(`configfs-tsm report root ${this.tsmRoot} is not available (not a TDX guest, or configfs not mounted)`);
        }
        const dir = join(this.tsmRoot, `cocoon-${process.pid}-${randomBytes(6).toString('hex')}`);
        await fs.mkdir(dir);
        try {
            const generation = async () => {
                try {
                    return Number((await fs.readFile(join(dir, 'generation'), 'utf8')).trim());
                } catch {
                    return undefined;
                }
            };
            await fs.writeFile(join(dir, 'inblob'), reportData);
            const genAfterWrite = await generation();
            // The kernel produces outblob when it is read; a slow provider
            // (or the test double) may need a moment, so read until it is there.
            const deadline = Date.now() + (this.options.timeoutMs ?? 30_000);
            for (;;) {
                let out: Buffer | undefined;
                try {
                    out = await fs.readFile(join(dir, 'outblob'));
                } catch (e) {
                    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new AttestationError(`reading outblob: ${(e as Error).message}`);
                }
                if (out && out.length > 0) {
                    // A generation change after our write means another writer raced us.
                    const gen = await generation();
                    if (genAfterWrite !== undefined && gen !== undefined && gen !== genAfterWrite) throw new AttestationError('the report was regenerated concurrently; retry');
                    return out;
                }
                if (Date.now() > deadline) throw new AttestationError('the TSM produced no quote in time');
                await new Promise((r) => setTimeout(r, 50));
            }
        } finally {
            await fs.rm(dir, { recursive: true, force: true }).catch(() => fs.rmdir(dir).catch(() => undefined));
        }
    }

    async attest(claims: AttestationClaims): Promise<Evidence> {
        const reportData = claimsReportData(claims);
        const raw = await this.quote(reportData);
        let parsed;
        try {
            parsed = parseQuote(raw);
        } catch (e) {
            throw new AttestationError(`the TSM returned an unparseable quote: ${(e as Error).message}`);
        }
        if (!parsed.body.reportData.equals(reportData)) throw new AttestationError('the quote does not carry our REPORTDATA');
        return { provider: 'tdx', claims, imageHash: imageHashOf(parsed.body), quote: raw };
    }
}

function hex(v: bigint): string {
    return hex256(v);
}

/** The public attestation document served at GET /attestation. */
export function attestationDocument(e: Evidence, extra: Record<string, unknown> = {}) {
    return {
        provider: e.provider,
        imageHash: hex(e.imageHash),
        claims: {
            workerStake: e.claims.workerStake.toString(),
            workerKey: hex(e.claims.workerKey),
            encryptionKey: hex(e.claims.encryptionKey),
            modelId: hex(e.claims.modelId),
            notAfter: Number(e.claims.notAfter),
        },
        claimsBytes: claimsBytes(e.claims).toString('hex'),
        ...(e.signature ? { signature: e.signature.toString('hex') } : {}),
        ...(e.quote ? { quote: e.quote.toString('base64') } : {}),
        ...extra,
    };
}
