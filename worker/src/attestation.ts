import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { keyPairFromSeed } from '@ton/crypto';
import { AttestationClaims, claimsBytes, claimsReportData, imageHashOf, parseQuote, pemToDers, signSimulated } from '../../wrappers/tdx';
import { DEV_IMAGE_HASH } from '../../wrappers/devnet';
import {
    AmdCertificate,
    DEV_SNP_MEASUREMENT,
    SnpReport,
    SnpTestChain,
    amdCertificateDer,
    amdSignatureValid,
    devSnpChain,
    p384SignatureValid,
    parseAmdCertificate,
    parseSnpReport,
    snpImageHashOf,
    snpTcbText,
    snpTestReport,
} from '../../wrappers/snp';
import { hex256 } from '../../helpers/bytes';

/**
 * Attestation providers: evidence that binds the worker's claims (stake
 * address, receipt key, encryption key, model, expiry) to an enclave.
 *
 * - `tdx`: Linux configfs-tsm (ConfigfsTsm). The 64-byte REPORTDATA
 *   (SHA-512 of the claims) in, the quote out.
 * - `sev-snp`: the same interface (`sev_guest`): REPORT_DATA in, the AMD
 *   SEV-SNP report out, with the chip's VCEK certificate from a file.
 * - `simulated`: an Ed25519 signature by the development key over the claims
 *   and a stated image hash. Networks accept it only when their Registry
 *   allows simulated attestation (local networks, never production).
 */

export interface Evidence {
    provider: 'tdx' | 'sev-snp' | 'simulated';
    claims: AttestationClaims;
    imageHash: bigint;
    /** simulated: the development key's signature. */
    signature?: Buffer;
    /** tdx: the raw quote. */
    quote?: Buffer;
    /** sev-snp: the raw report, the VCEK certificate (DER) that signed it, and the ASK and ARK certificates above it. */
    report?: Buffer;
    vcek?: Buffer;
    amdChain?: { ask: Buffer; ark: Buffer };
}

export interface AttestationProvider {
    readonly kind: Evidence['provider'];
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

/**
 * SEV-SNP evidence from the development AMD chain (wrappers/snp/devChain.ts)
 * instead of a processor: a report in the firmware's layout, signed by the
 * chain's VCEK, with the development MEASUREMENT, and the chain's VCEK, ASK
 * and ARK certificates. Registration goes through every on-chain SEV-SNP
 * step; only a network that pins the development root (a devnet) accepts it.
 */
export class SimulatedSevSnpProvider implements AttestationProvider {
    readonly kind = 'sev-snp';
    constructor(private readonly chain: SnpTestChain = devSnpChain()) {}

    async attest(claims: AttestationClaims): Promise<Evidence> {
        const report = snpTestReport(this.chain, { reportData: claimsReportData(claims), measurement: DEV_SNP_MEASUREMENT });
        return {
            provider: 'sev-snp',
            claims,
            imageHash: snpImageHashOf(parseSnpReport(report)),
            report,
            vcek: this.chain.vcek.der,
            amdChain: { ask: this.chain.ask.der, ark: this.chain.ark.der },
        };
    }
}

/**
 * Linux configfs-tsm (Documentation/ABI/testing/configfs-tsm): a report
 * directory is created under the root, the 64-byte REPORTDATA written to
 * `inblob`, the evidence read from `outblob`, and the directory removed.
 * The same interface serves TDX (`tdx_guest`) and SEV-SNP (`sev_guest`);
 * the kernel names its provider in the directory's `provider` file.
 */
export class ConfigfsTsm {
    constructor(
        private readonly root: string,
        /** The kernel provider this machine must have: another one's evidence is refused here, with a clear message. */
        private readonly expectedProvider: 'tdx_guest' | 'sev_guest',
        private readonly options: { timeoutMs?: number } = {},
    ) {}

    async report(reportData: Buffer): Promise<Buffer> {
        if (reportData.length !== 64) throw new AttestationError('REPORTDATA is 64 bytes');
        try {
            await fs.access(this.root);
        } catch {
            throw new AttestationError(`configfs-tsm report root ${this.root} is not available (not a ${this.expectedProvider === 'tdx_guest' ? 'TDX' : 'SEV-SNP'} guest, or configfs not mounted)`);
        }
        const dir = join(this.root, `cocoon-${process.pid}-${randomBytes(6).toString('hex')}`);
        await fs.mkdir(dir);
        try {
            const readText = async (name: string) => {
                try {
                    return (await fs.readFile(join(dir, name), 'utf8')).trim();
                } catch {
                    return undefined;
                }
            };
            const generation = async () => {
                const text = await readText('generation');
                return text === undefined ? undefined : Number(text);
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
                    const provider = await readText('provider');
                    if (provider !== undefined && provider !== this.expectedProvider)
                        throw new AttestationError(`configfs-tsm provider is ${provider}, not ${this.expectedProvider}: set attestation.provider to the TEE this machine runs on`);
                    return out;
                }
                if (Date.now() > deadline) throw new AttestationError(`the TSM produced no ${this.expectedProvider === 'tdx_guest' ? 'quote' : 'report'} in time`);
                await new Promise((r) => setTimeout(r, 50));
            }
        } finally {
            await fs.rm(dir, { recursive: true, force: true }).catch(() => fs.rmdir(dir).catch(() => undefined));
        }
    }
}

export class TdxProvider implements AttestationProvider {
    readonly kind = 'tdx';
    private readonly tsm: ConfigfsTsm;
    constructor(tsmRoot: string, options: { timeoutMs?: number } = {}) {
        this.tsm = new ConfigfsTsm(tsmRoot, 'tdx_guest', options);
    }

    /** REPORTDATA in, quote out, through configfs-tsm. */
    quote(reportData: Buffer): Promise<Buffer> {
        return this.tsm.report(reportData);
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

/**
 * AMD SEV-SNP through configfs-tsm (`sev_guest`): the report binds
 * SHA-512 of the claims in REPORT_DATA, and the chip's VCEK certificate
 * (for this chip id and TCB, from AMD's key distribution service; the
 * operator keeps it in a file) goes with it. The report is checked against
 * the VCEK here first, so a stale VCEK (after a firmware update changed the
 * TCB) fails at the worker with the address of the right one rather than on
 * chain.
 */
export class SevSnpProvider implements AttestationProvider {
    readonly kind = 'sev-snp';
    private readonly tsm: ConfigfsTsm;
    constructor(
        tsmRoot: string,
        private readonly vcekPath: string,
        /** AMD's certificate chain for the processor generation (the ASK, then the ARK, PEM), as AMD's key distribution service serves it. */
        private readonly certChainPath: string,
        options: { timeoutMs?: number } = {},
    ) {
        this.tsm = new ConfigfsTsm(tsmRoot, 'sev_guest', options);
    }

    /** The ASK and ARK certificates, the ASK's signature over the VCEK checked off chain. */
    private chainAbove(vcek: AmdCertificate): { ask: Buffer; ark: Buffer } {
        let ders: Buffer[];
        try {
            ders = pemToDers(readFileSync(this.certChainPath, 'utf8'));
        } catch (e) {
            throw new AttestationError(`AMD certificate chain ${this.certChainPath}: ${(e as Error).message}`);
        }
        const certs = ders.map((d) => ({ der: d, cert: parseAmdCertificate(d) }));
        const ask = certs.find((c) => c.cert.rsaKey && amdSignatureValid(vcek, c.cert.rsaKey));
        const ark = ask && certs.find((c) => c.cert.rsaKey && amdSignatureValid(ask.cert, c.cert.rsaKey) && amdSignatureValid(c.cert, c.cert.rsaKey));
        if (!ask || !ark)
            throw new AttestationError(`${this.certChainPath} does not hold the ASK that signed the VCEK and the self-signed ARK above it (AMD's cert_chain for this processor generation)`);
        return { ask: ask.der, ark: ark.der };
    }

    async attest(claims: AttestationClaims): Promise<Evidence> {
        const reportData = claimsReportData(claims);
        const raw = await this.tsm.report(reportData);
        let report: SnpReport;
        try {
            report = parseSnpReport(raw);
        } catch (e) {
            throw new AttestationError(`the TSM returned an unparseable SEV-SNP report: ${(e as Error).message}`);
        }
        if (!report.reportData.equals(reportData)) throw new AttestationError('the SEV-SNP report does not carry our REPORT_DATA');
        let vcekDer: Buffer;
        let vcek: AmdCertificate;
        try {
            vcekDer = amdCertificateDer(readFileSync(this.vcekPath));
            vcek = parseAmdCertificate(vcekDer);
        } catch (e) {
            throw new AttestationError(`VCEK certificate ${this.vcekPath}: ${(e as Error).message}; fetch it from ${vcekUrl(report)}`);
        }
        if (!vcek.hwId || !vcek.tcb || !vcek.ecKey) throw new AttestationError(`${this.vcekPath} is not a VCEK certificate (no chip id or TCB extensions)`);
        if (!vcek.hwId.equals(report.chipId)) throw new AttestationError(`${this.vcekPath} is the VCEK of another chip; fetch this chip's from ${vcekUrl(report)}`);
        if (snpTcbText(vcek.tcb) !== snpTcbText(report.reportedTcb))
            throw new AttestationError(
                `${this.vcekPath} is for TCB ${snpTcbText(vcek.tcb)}, the report's is ${snpTcbText(report.reportedTcb)} (firmware updated?); fetch the VCEK from ${vcekUrl(report)}`,
            );
        if (!p384SignatureValid(report.signed, report.signature, vcek.ecKey)) throw new AttestationError(`the SEV-SNP report's signature does not verify with the VCEK in ${this.vcekPath}`);
        return { provider: 'sev-snp', claims, imageHash: snpImageHashOf(report), report: raw, vcek: vcekDer, amdChain: this.chainAbove(vcek) };
    }
}

/**
 * Where AMD's key distribution service serves the VCEK of the report's chip
 * at its reported TCB (the product line is the processor generation: a
 * Turin report says it is one; otherwise the hardware id alone does not say
 * which, and Milan is the most common). Turin's hardware id is CHIP_ID's
 * first 8 bytes, and its VCEK is derived with the FMC's version too.
 */
export function vcekUrl(report: Pick<SnpReport, 'chipId' | 'reportedTcb'>, product = 'Milan'): string {
    const t = report.reportedTcb;
    if (t.fmc !== undefined)
        return `https://kdsintf.amd.com/vcek/v1/Turin/${report.chipId.subarray(0, 8).toString('hex')}?fmcSPL=${t.fmc}&blSPL=${t.bootloader}&teeSPL=${t.tee}&snpSPL=${t.snp}&ucodeSPL=${t.microcode}`;
    return `https://kdsintf.amd.com/vcek/v1/${product}/${report.chipId.toString('hex')}?blSPL=${t.bootloader}&teeSPL=${t.tee}&snpSPL=${t.snp}&ucodeSPL=${t.microcode}`;
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
        ...(e.report ? { report: e.report.toString('base64') } : {}),
        ...(e.vcek ? { vcek: e.vcek.toString('base64') } : {}),
        ...extra,
    };
}
