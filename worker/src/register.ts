import { Address, Cell, OpenedContract, Sender } from '@ton/core';
import { amdCertificateSteps, parseAmdCertificate, snpProgressOf, snpReportSteps } from '../../wrappers/snp';
import type { Logger } from 'pino';
import { ExtendedAttestationVerifier } from '../../wrappers/AttestationVerifier';
import { ExtendedStaking } from '../../wrappers/Staking';
import { ExtendedWorkerStake, STATUS_NAMES, WorkerStatus } from '../../wrappers/WorkerStake';
import type { Prices } from '../../wrappers/receipt';
import { AttestationClaims, buildAttestationSteps, claimsStruct, parseQuote } from '../../wrappers/tdx';
import { keyToInt } from '../../wrappers/voucher';
import type { AttestationProvider, Evidence } from './attestation';
import type { ContractOpener } from '../../wrappers/toncenter';

/**
 * `cocoon-worker register` and the daemon's re-attestation: stake through
 * Staking (or top up at the WorkerStake), then obtain evidence for the
 * claims and submit it to the AttestationVerifier, which records it at the
 * WorkerStake. Every step reads the chain first, so re-running it after a
 * crash repeats nothing that already landed.
 */

export interface RegisterOptions {
    opener: ContractOpener;
    sender: Sender;
    /** The operator wallet: the WorkerStake's owner and payout address. */
    owner: Address;
    staking: Address;
    receiptPublicKey: Buffer;
    encryptionPublicKey: Buffer;
    modelId: bigint;
    endpoint: string;
    prices: Prices;
    /** Stake to hold (nanoTON); a smaller stake on chain is topped up to it. */
    stake: bigint;
    provider: AttestationProvider;
    /** Requested attestation lifetime; the verifier may cap it. */
    lifetimeSec: number;
    /** Chain time (unix seconds). */
    now: () => Promise<number>;
    logger: Logger;
    timeoutMs?: number;
}

export interface RegisterResult {
    workerStake: Address;
    status: string;
    stake: bigint;
    expiresAt: number;
    evidence: Evidence;
    staked: 'deployed' | 'topped-up' | 'unchanged';
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        try {
            if (await check()) return;
        } catch {
            /* not there yet */
        }
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 300));
    }
}

export function workerStakeAddress(staking: Address, owner: Address, receiptPublicKey: Buffer): Promise<Address> {
    return ExtendedWorkerStake.fromInit(staking, owner, keyToInt(receiptPublicKey)).then((w) => w.address);
}

/** Stakes or tops up to `o.stake`. */
export async function ensureStake(o: RegisterOptions): Promise<{ workerStake: Address; staked: RegisterResult['staked'] }> {
    const timeout = o.timeoutMs ?? 120_000;
    if (!(await o.opener.isDeployed(o.staking))) throw new Error(`no Staking contract at ${o.staking.toString()}`);
    const staking = o.opener.open(ExtendedStaking.fromAddress(o.staking));
    if (!(await staking.getIsConfigured())) throw new Error('Staking has not received the Registry config yet');
    const workerKey = keyToInt(o.receiptPublicKey);
    const address = await staking.getWorkerAddress(o.owner, workerKey);
    const ws = o.opener.open(ExtendedWorkerStake.fromAddress(address));
    if (await o.opener.isDeployed(address)) {
        const state = await ws.getState();
        const s = Number(state.status);
        if (s !== WorkerStatus.Pending && s !== WorkerStatus.Active) throw new Error(`the WorkerStake is ${STATUS_NAMES[s] ?? s}: it takes no more stake`);
        if (state.stake >= o.stake) return { workerStake: address, staked: 'unchanged' };
        const add = o.stake - state.stake;
        o.logger.info({ workerStake: address.toString(), add: add.toString() }, 'topping up the stake');
        await ws.sendTopUpStake(o.sender, add);
        await until('the top-up', async () => (await ws.getStake()) >= o.stake, timeout);
        return { workerStake: address, staked: 'topped-up' };
    }
    o.logger.info({ workerStake: address.toString(), stake: o.stake.toString() }, 'staking');
    await staking.sendStake(o.sender, await staking.getStakeValue(o.stake), workerKey, {
        modelId: o.modelId,
        endpoint: o.endpoint,
        encryptionKey: keyToInt(o.encryptionPublicKey),
        prices: o.prices,
    });
    await until('the WorkerStake to be deployed', async () => (await o.opener.isDeployed(address)) && (await ws.getStake()) >= o.stake, timeout);
    return { workerStake: address, staked: 'deployed' };
}

/**
 * SEV-SNP evidence through the verifier's resumable steps: the ASK and the
 * VCEK unless cached (by this worker or anyone before), then the report;
 * each transaction is sent once the one before it has landed.
 */
async function submitSnp(verifier: OpenedContract<ExtendedAttestationVerifier>, sender: Sender, evidence: Evidence, claims: AttestationClaims, workerStake: Address, timeout: number) {
    const vcek = parseAmdCertificate(evidence.vcek!);
    const ask = parseAmdCertificate(evidence.amdChain!.ask);
    const ark = parseAmdCertificate(evidence.amdChain!.ark);
    const step = async <T>(what: string, jobId: bigint, messages: T[], send: (m: T) => Promise<unknown>, done: () => Promise<boolean>) => {
        for (const [i, m] of messages.entries()) {
            const before = await verifier.getSnpJobCell(jobId);
            await send(m);
            const last = i === messages.length - 1;
            await until(`${what} (step ${i + 1} of ${messages.length})`, async () => (last ? done() : !sameCell(await verifier.getSnpJobCell(jobId), before)), timeout);
        }
    };
    for (const [cert, issuer] of [
        [ask, ark],
        [vcek, ask],
    ] as const) {
        const fresh = amdCertificateSteps(cert, issuer.rsaKey!, BigInt(Date.now()));
        if (await verifier.getAmdKeyUsable(fresh.subjectKeyId)) continue;
        // A verification an earlier run left under way goes on from where it stands.
        const steps = amdCertificateSteps(cert, issuer.rsaKey!, BigInt(Date.now()), snpProgressOf(await verifier.getSnpJob(fresh.jobId), 'rsa'));
        await step(
            `${steps.name} to be verified`,
            steps.jobId,
            steps.messages,
            (m) => verifier.sendVerifyAmdCertificate(sender, m),
            () => verifier.getAmdKeyUsable(steps.subjectKeyId),
        );
    }
    const report = snpReportSteps(evidence.report!, vcek.ecKey!, claims, workerStake, BigInt(Date.now()));
    const before = await verifier.getSnpJobCell(report.jobId);
    // The last step records the attestation: the caller waits for the WorkerStake to show it.
    await step(
        'the SEV-SNP report to be verified',
        report.jobId,
        report.messages.slice(0, -1),
        (m) => verifier.sendSubmitSnpReport(sender, m),
        async () => !sameCell(await verifier.getSnpJobCell(report.jobId), before),
    );
    await verifier.sendSubmitSnpReport(sender, report.messages[report.messages.length - 1]);
}

function sameCell(a: Cell | null, b: Cell | null): boolean {
    return a === null || b === null ? a === b : a.equals(b);
}

/** Obtains evidence for fresh claims and has the verifier record it. */
export async function attest(o: RegisterOptions, workerStake: Address): Promise<{ evidence: Evidence; expiresAt: number }> {
    const timeout = o.timeoutMs ?? 120_000;
    const staking = o.opener.open(ExtendedStaking.fromAddress(o.staking));
    const verifierAddress = (await staking.getLinks()).verifier;
    if (!verifierAddress) throw new Error('the network has no AttestationVerifier linked');
    const verifier = o.opener.open(ExtendedAttestationVerifier.fromAddress(verifierAddress));
    const ws = o.opener.open(ExtendedWorkerStake.fromAddress(workerStake));
    const claims: AttestationClaims = {
        workerStake,
        workerKey: keyToInt(o.receiptPublicKey),
        encryptionKey: keyToInt(o.encryptionPublicKey),
        modelId: o.modelId,
        notAfter: BigInt((await o.now()) + o.lifetimeSec),
    };
    const evidence = await o.provider.attest(claims);
    if (!(await verifier.getImageAllowed(evidence.imageHash))) throw new Error(`image ${evidence.imageHash.toString(16)} is not allowed by the Registry`);
    const before = (await ws.getAttestation())?.expiresAt ?? 0n;
    if (evidence.provider === 'simulated') {
        await verifier.sendSubmitSimulated(o.sender, {
            $$type: 'SubmitSimulated',
            queryId: BigInt(Date.now()),
            imageHash: evidence.imageHash,
            signature: evidence.signature!,
            workerStake,
            claims: claimsStruct(claims),
        });
    } else if (evidence.provider === 'sev-snp') {
        await submitSnp(verifier, o.sender, evidence, claims, workerStake, timeout);
    } else {
        const quote = parseQuote(evidence.quote!);
        const steps = buildAttestationSteps(quote, claims, workerStake, BigInt(Date.now()));
        for (const c of steps.certificates) {
            if (await verifier.getKeyUsable(c.subjectKeyId)) continue;
            await verifier.sendVerifyCertificate(o.sender, c.message);
            await until(`${c.name} to be verified`, () => verifier.getKeyUsable(c.subjectKeyId), timeout);
        }
        if (!(await verifier.getKeyUsable(steps.qeReport.attestationKeyId))) {
            await verifier.sendVerifyQeReport(o.sender, steps.qeReport.message);
            await until('the attestation key to be certified', () => verifier.getKeyUsable(steps.qeReport.attestationKeyId), timeout);
        }
        await verifier.sendSubmitQuote(o.sender, steps.quote.message);
    }
    let expiresAt = 0n;
    await until(
        'the attestation to be recorded',
        async () => {
            const a = await ws.getAttestation();
            // Recorded when the expiry moved on (or already covers these claims, a re-run in the same second).
            if (!a || a.encryptionKey !== claims.encryptionKey || (a.expiresAt <= before && a.expiresAt < claims.notAfter)) return false;
            expiresAt = a.expiresAt;
            return true;
        },
        timeout,
    );
    return { evidence, expiresAt: Number(expiresAt) };
}

export async function register(o: RegisterOptions): Promise<RegisterResult> {
    const { workerStake, staked } = await ensureStake(o);
    const { evidence, expiresAt } = await attest(o, workerStake);
    const ws = o.opener.open(ExtendedWorkerStake.fromAddress(workerStake));
    const state = await ws.getState();
    return { workerStake, status: STATUS_NAMES[Number(state.status)] ?? String(state.status), stake: state.stake, expiresAt, evidence, staked };
}
