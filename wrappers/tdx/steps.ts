import { createHash } from 'crypto';
import { Address } from '@ton/core';
import type { SubmitQuote, VerifyCertificate, VerifyQeReport } from '../../build/AttestationVerifier/AttestationVerifier_AttestationVerifier';
import { P256Point, ParsedCertificate, bigintTo32 } from './der';
import { AttestationClaims, claimsStruct } from './claims';
import { byteChain, qeReportCell, quoteBodyCell } from './cells';
import { ParsedQuote } from './quote';
import { bytesToUint } from '../../helpers/bytes';
import { p256Hint, p256HintCell } from '../p256Hints';

/** The hint cell for a signature over `data` (its SHA-256) by `key`. */
function hintFor(data: Uint8Array, signature: { r: bigint; s: bigint }, key: P256Point) {
    const digest = bytesToUint(createHash('sha256').update(data).digest());
    return p256HintCell(p256Hint(digest, signature.r, signature.s, key));
}

/** Id under which the verifier caches a key: SHA-256(x || y). */
export function keyIdOf(key: P256Point): bigint {
    const h = createHash('sha256').update(bigintTo32(key.x)).update(bigintTo32(key.y)).digest();
    return bytesToUint(h);
}

export interface CertificateStep {
    /** Subject CN, for messages to people. */
    name: string;
    issuerKeyId: bigint;
    subjectKeyId: bigint;
    /** Certificate validity end (the cache entry lives no longer). */
    notAfter: Date;
    message: VerifyCertificate;
}

export interface AttestationSteps {
    /** Certificates to verify in order, the one issued by the pinned root first. */
    certificates: CertificateStep[];
    qeReport: { pckKeyId: bigint; attestationKeyId: bigint; message: VerifyQeReport };
    quote: { attestationKeyId: bigint; message: SubmitQuote };
}

/** The VerifyCertificate step for `cert`, signed by `issuer`'s key. */
export function certificateStep(cert: ParsedCertificate, issuer: P256Point, queryId = 0n, fallbackName = 'certificate'): CertificateStep {
    return {
        name: cert.subjectCN ?? fallbackName,
        issuerKeyId: keyIdOf(issuer),
        subjectKeyId: keyIdOf(cert.publicKey),
        notAfter: cert.notAfter,
        message: {
            $$type: 'VerifyCertificate',
            queryId,
            issuerKeyId: keyIdOf(issuer),
            spkiOffset: BigInt(cert.spkiOffset),
            r: cert.signature.r,
            s: cert.signature.s,
            hint: hintFor(cert.tbs, cert.signature, issuer),
            tbs: byteChain(cert.tbs),
        },
    };
}

/**
 * Turns a parsed quote into the verifier's step messages. The quote's chain
 * is PCK certificate, its CA(s), then the root; the root's own certificate is
 * never sent (governance pins its key), so the steps run from the
 * certificate the root signed down to the PCK certificate.
 */
export function buildAttestationSteps(quote: ParsedQuote, claims: AttestationClaims, workerStake: Address, queryId = 0n): AttestationSteps {
    const chain = quote.certificates;
    const certificates: CertificateStep[] = [];
    // chain[i] is issued by chain[i + 1]; the last is the (self-signed) root.
    for (let i = chain.length - 2; i >= 0; i--) certificates.push(certificateStep(chain[i], chain[i + 1].publicKey, queryId, `certificate ${i}`));
    const pckKeyId = keyIdOf(chain[0].publicKey);
    const attestationKeyId = keyIdOf(quote.attestationKey);
    return {
        certificates,
        qeReport: {
            pckKeyId,
            attestationKeyId,
            message: {
                $$type: 'VerifyQeReport',
                queryId,
                pckKeyId,
                r: quote.qeReportSignature.r,
                s: quote.qeReportSignature.s,
                hint: hintFor(quote.qeReport, quote.qeReportSignature, chain[0].publicKey),
                attestKeyX: quote.attestationKey.x,
                attestKeyY: quote.attestationKey.y,
                qeReport: qeReportCell(quote.qeReport),
                qeAuthData: byteChain(quote.qeAuthData),
            },
        },
        quote: {
            attestationKeyId,
            message: {
                $$type: 'SubmitQuote',
                queryId,
                attestKeyId: attestationKeyId,
                r: quote.quoteSignature.r,
                s: quote.quoteSignature.s,
                hint: hintFor(quote.signed, quote.quoteSignature, quote.attestationKey),
                workerStake,
                body: quoteBodyCell(quote.signed),
                claims: claimsStruct(claims),
            },
        },
    };
}
