import { ExitCode } from '../wrappers/exitCodes';
import { Blockchain, BlockchainSnapshot, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Cell, toNano } from '@ton/core';
import '@ton/test-utils';
import * as fc from 'fast-check';
import { createHash, randomBytes } from 'crypto';
import { Sha384Digest, Sha384RsaHarness } from '../build/Sha384RsaHarness/Sha384RsaHarness_Sha384RsaHarness';
import { bytesToChain } from './helpers/p256';
import { RsaKey, digestBytes, harnessInit, pssSign, rsaKey, sevCertificate, sha384 } from './helpers/sha384Rsa';
import { RSA_PSS_DONE, RsaStep, bytesToBigInt, rsaHintChain, rsaNumberCell, rsaSteps, sha384Digest } from '../wrappers/rsaPssHints';

/** The exit code a getter failed with (null when it returned). */
async function getterExit(p: Promise<unknown>): Promise<number | null> {
    try {
        await p;
        return null;
    } catch (e) {
        const m = /exit_code: (-?\d+)/.exec(String(e));
        if (!m) throw e;
        return Number(m[1]);
    }
}

describe('SHA-384 (contracts/lib/sha384.tact)', () => {
    let chain: Blockchain;
    let user: SandboxContract<TreasuryContract>;
    let h: SandboxContract<Sha384RsaHarness>;

    beforeAll(async () => {
        chain = await Blockchain.create();
        user = await chain.treasury('user');
        h = chain.openContract(await harnessInit());
        const res = await h.send(user.getSender(), { value: toNano('1') }, null);
        expect(res.transactions).toHaveTransaction({ to: h.address, deploy: true, success: true });
    });

    const onChain = async (data: Buffer, chunk: number, start = 0, length = data.length) => digestBytes(await h.getHashRange(bytesToChain(data, chunk), BigInt(start), BigInt(length)));

    it('matches Node at the padding edges (0, 111, 112, 127, 128, 239, 240 bytes and neighbours)', async () => {
        for (const len of [0, 1, 110, 111, 112, 113, 126, 127, 128, 129, 238, 239, 240, 241, 255, 256, 257]) {
            const data = randomBytes(len);
            for (const chunk of [127, 64, 1]) expect((await onChain(data, chunk)).toString('hex')).toBe(sha384(data).toString('hex'));
        }
    });

    it('matches Node over random lengths and cell splits', async () => {
        await fc.assert(
            fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 700 }), fc.integer({ min: 1, max: 127 }), async (bytes, chunk) => {
                const data = Buffer.from(bytes);
                expect((await onChain(data, chunk)).equals(sha384(data))).toBe(true);
            }),
            { numRuns: 60 },
        );
    });

    it('hashes byte ranges of a chain', async () => {
        await fc.assert(
            fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.nat(), fc.nat(), fc.integer({ min: 1, max: 127 }), async (bytes, a, b, chunk) => {
                const data = Buffer.from(bytes);
                const start = a % (data.length + 1);
                const length = b % (data.length - start + 1);
                expect((await onChain(data, chunk, start, length)).equals(sha384(data.subarray(start, start + length)))).toBe(true);
            }),
            { numRuns: 40 },
        );
    });

    it('refuses a range beyond the chain', async () => {
        const data = randomBytes(300);
        expect(await getterExit(h.getHashRange(bytesToChain(data), 0n, 301n))).toBe(ExitCode.ERR_SHA384_RANGE);
        expect(await getterExit(h.getHashRange(bytesToChain(data), 290n, 11n))).toBe(ExitCode.ERR_SHA384_RANGE);
        expect(await getterExit(h.getHashRange(bytesToChain(data), 301n, 0n))).toBe(ExitCode.ERR_SHA384_RANGE);
        expect((await onChain(data, 127, 300, 0)).equals(sha384(Buffer.alloc(0)))).toBe(true);
    });

    it('hashes in receivers: a whole chain, a range, and a hash over several transactions', async () => {
        const data = randomBytes(500);
        let res = await h.send(user.getSender(), { value: toNano('1') }, { $$type: 'Sha384HashChain', queryId: 1n, data: bytesToChain(data) });
        expect(res.transactions).toHaveTransaction({ to: h.address, success: true });
        expect(digestBytes(await h.getLastDigest()).equals(sha384(data))).toBe(true);
        res = await h.send(user.getSender(), { value: toNano('1') }, { $$type: 'Sha384HashRange', queryId: 2n, data: bytesToChain(data), start: 17n, length: 300n });
        expect(res.transactions).toHaveTransaction({ to: h.address, success: true });
        expect(digestBytes(await h.getLastDigest()).equals(sha384(data.subarray(17, 317)))).toBe(true);
        expect(await h.getLastQueryId()).toBe(2n);

        // The real ASK's TBS (1,300+ bytes, more than one transaction's gas), read in place in the certificate.
        const ask = sevCertificate('ask-milan.pem');
        const der = bytesToChain(ask.der);
        const firstPart = 640;
        res = await h.send(
            user.getSender(),
            { value: toNano('1') },
            { $$type: 'Sha384HashPart', queryId: 3n, data: der, start: BigInt(ask.tbsStart), length: BigInt(firstPart), restart: true, finish: false },
        );
        expect(res.transactions).toHaveTransaction({ to: h.address, success: true });
        // a part that is not whole blocks is refused (and changes nothing)
        res = await h.send(
            user.getSender(),
            { value: toNano('1') },
            { $$type: 'Sha384HashPart', queryId: 4n, data: der, start: BigInt(ask.tbsStart + firstPart), length: 100n, restart: false, finish: false },
        );
        expect(res.transactions).toHaveTransaction({ to: h.address, success: false, exitCode: ExitCode.ERR_SHA384_RANGE });
        res = await h.send(
            user.getSender(),
            { value: toNano('1') },
            { $$type: 'Sha384HashPart', queryId: 5n, data: der, start: BigInt(ask.tbsStart + firstPart), length: BigInt(ask.tbsLength - firstPart), restart: false, finish: true },
        );
        expect(res.transactions).toHaveTransaction({ to: h.address, success: true });
        expect(digestBytes(await h.getLastDigest()).equals(sha384(ask.tbs))).toBe(true);
    });
});

describe('RSASSA-PSS RSA-4096 SHA-384 (contracts/lib/rsa-pss.tact)', () => {
    let chain: Blockchain;
    let user: SandboxContract<TreasuryContract>;
    let h: SandboxContract<Sha384RsaHarness>;
    let keys: RsaKey[];
    let deployed: BlockchainSnapshot;

    beforeAll(async () => {
        keys = [rsaKey(), rsaKey(), rsaKey()];
        chain = await Blockchain.create();
        user = await chain.treasury('user');
        h = chain.openContract(await harnessInit());
        const res = await h.send(user.getSender(), { value: toNano('1') }, null);
        expect(res.transactions).toHaveTransaction({ to: h.address, deploy: true, success: true });
        deployed = chain.snapshot();
    }, 120_000);

    /** The getter's verdict: null when valid, else the exit code. */
    const verdict = (n: bigint, s: bigint, digest: Buffer, steps = rsaSteps(n, s)) => getterExit(h.getVerify(rsaNumberCell(n), rsaNumberCell(s), sha384Digest(digest), rsaHintChain(steps)!));

    const message = fc.uint8Array({ minLength: 0, maxLength: 300 }).map((b) => Buffer.from(b));
    const keyIndex = fc.integer({ min: 0, max: 2 });

    it('accepts valid signatures', async () => {
        await fc.assert(
            fc.asyncProperty(message, keyIndex, async (m, k) => {
                expect(await verdict(keys[k].n, pssSign(keys[k], m), sha384(m))).toBeNull();
            }),
            { numRuns: 50 },
        );
    }, 300_000);

    it('refuses a signature over another message', async () => {
        await fc.assert(
            fc.asyncProperty(message, message, keyIndex, async (m, other, k) => {
                fc.pre(!m.equals(other));
                expect(await verdict(keys[k].n, pssSign(keys[k], m), sha384(other))).toBe(ExitCode.ERR_RSA_PSS_INCONSISTENT);
            }),
            { numRuns: 40 },
        );
    }, 300_000);

    it('refuses a signature under another key', async () => {
        await fc.assert(
            fc.asyncProperty(message, keyIndex, fc.integer({ min: 1, max: 2 }), async (m, k, shift) => {
                const signer = keys[k];
                const other = keys[(k + shift) % 3];
                const s = pssSign(signer, m);
                const code = await verdict(other.n, s, sha384(m));
                // s may even lie above the other modulus
                expect(s >= other.n ? code === ExitCode.ERR_RSA_SIGNATURE_RANGE : code === ExitCode.ERR_RSA_PSS_INCONSISTENT).toBe(true);
            }),
            { numRuns: 30 },
        );
    }, 300_000);

    it('refuses tampered signature bytes', async () => {
        await fc.assert(
            fc.asyncProperty(message, keyIndex, fc.integer({ min: 0, max: 511 }), fc.integer({ min: 1, max: 255 }), async (m, k, at, x) => {
                const sig = Buffer.from(pssSign(keys[k], m).toString(16).padStart(1024, '0'), 'hex');
                sig[at] ^= x;
                const s = bytesToBigInt(sig);
                const code = await verdict(keys[k].n, s, sha384(m));
                expect(s >= keys[k].n ? code === ExitCode.ERR_RSA_SIGNATURE_RANGE : code === ExitCode.ERR_RSA_PSS_INCONSISTENT).toBe(true);
            }),
            { numRuns: 50 },
        );
    }, 300_000);

    it('refuses signatures not below the modulus, and moduli that are not odd 4096-bit numbers', async () => {
        await fc.assert(
            fc.asyncProperty(keyIndex, fc.bigInt({ min: 0n, max: (1n << 4096n) - 1n }), async (k, extra) => {
                const n = keys[k].n;
                const s = n + (extra % ((1n << 4096n) - n));
                expect(await verdict(n, s, sha384(Buffer.alloc(0)), rsaSteps(n, s % n))).toBe(ExitCode.ERR_RSA_SIGNATURE_RANGE);
            }),
            { numRuns: 30 },
        );
        const m = randomBytes(10);
        const s = pssSign(keys[0], m);
        // even modulus; 4095-bit modulus; 4097-bit modulus
        expect(await verdict(keys[0].n + 1n, s, sha384(m), rsaSteps(keys[0].n + 1n, s))).toBe(ExitCode.ERR_RSA_BAD_MODULUS);
        const short = (keys[0].n >> 1n) | 1n;
        expect(await verdict(short, s % short, sha384(m), rsaSteps(short, s % short))).toBe(ExitCode.ERR_RSA_BAD_MODULUS);
        const long = (keys[0].n << 1n) | 1n;
        expect(await verdict(long, s, sha384(m), rsaSteps(long, s))).toBe(ExitCode.ERR_RSA_BAD_MODULUS);
    }, 300_000);

    it('refuses forged hints: a wrong quotient, a remainder not below n, a remainder off by one', async () => {
        const forge = fc.constantFrom('quotient+1', 'quotient-1', 'remainder+n', 'remainder+1', 'remainder-1', 'quotient+2^4000');
        await fc.assert(
            fc.asyncProperty(message, keyIndex, fc.integer({ min: 0, max: 16 }), forge, async (m, k, step, how) => {
                const n = keys[k].n;
                const s = pssSign(keys[k], m);
                const steps: RsaStep[] = rsaSteps(n, s).map((x) => ({ ...x }));
                const st = steps[step];
                let expected = ExitCode.ERR_RSA_BAD_PRODUCT;
                if (how === 'quotient+1') st.quotient += 1n;
                else if (how === 'quotient-1') {
                    fc.pre(st.quotient > 0n);
                    st.quotient -= 1n;
                } else if (how === 'remainder+n') {
                    // q*n + r unchanged: only the range check can catch it
                    fc.pre(st.quotient > 0n);
                    st.quotient -= 1n;
                    st.remainder += n;
                    expected = ExitCode.ERR_RSA_REMAINDER_RANGE;
                } else if (how === 'remainder+1') {
                    fc.pre(st.remainder + 1n < n);
                    st.remainder += 1n;
                } else if (how === 'remainder-1') {
                    fc.pre(st.remainder > 0n);
                    st.remainder -= 1n;
                } else st.quotient ^= 1n << 4000n;
                expect(await verdict(n, s, sha384(m), steps)).toBe(expected);
            }),
            { numRuns: 70 },
        );
    }, 300_000);

    it('refuses a hint chain that runs out', async () => {
        const m = randomBytes(20);
        const s = pssSign(keys[1], m);
        expect(await verdict(keys[1].n, s, sha384(m), rsaSteps(keys[1].n, s).slice(0, 16))).toBe(ExitCode.ERR_RSA_WRONG_PHASE);
    });

    /** Sends one continuation; returns the transaction's exit code (0 when it succeeded). */
    async function cont(fromPhase: number, phases: number, n: bigint, s: bigint, digest: Buffer, hints: Cell | null): Promise<number> {
        const res = await h.send(
            user.getSender(),
            { value: toNano('5') },
            {
                $$type: 'RsaPssContinue',
                queryId: BigInt(fromPhase),
                fromPhase: BigInt(fromPhase),
                phases: BigInt(phases),
                modulus: rsaNumberCell(n),
                signature: rsaNumberCell(s),
                messageHash: sha384Digest(digest),
                hints,
            },
        );
        const tx = res.transactions[1];
        if (tx.description.type !== 'generic' || tx.description.computePhase.type !== 'vm') throw new Error('no compute phase');
        return tx.description.computePhase.exitCode;
    }

    async function begin(n: bigint, s: bigint, digest: Buffer, phases: number, hints: Cell | null): Promise<number> {
        const res = await h.send(
            user.getSender(),
            { value: toNano('5') },
            { $$type: 'RsaPssBegin', queryId: 0n, modulus: rsaNumberCell(n), signature: rsaNumberCell(s), messageHash: sha384Digest(digest), phases: BigInt(phases), hints },
        );
        const tx = res.transactions[1];
        if (tx.description.type !== 'generic' || tx.description.computePhase.type !== 'vm') throw new Error('no compute phase');
        return tx.description.computePhase.exitCode;
    }

    /** Runs a verification over transactions of the given phase counts. */
    async function verifyInTransactions(n: bigint, s: bigint, digest: Buffer, split: number[]): Promise<void> {
        const steps = rsaSteps(n, s);
        expect(await begin(n, s, digest, split[0], rsaHintChain(steps))).toBe(0);
        let phase = split[0];
        for (const count of split.slice(1)) {
            expect(await cont(phase, count, n, s, digest, rsaHintChain(steps.slice(phase)))).toBe(0);
            phase += count;
        }
    }

    it('verifies over several transactions; a continuation cannot swap inputs, replay or skip', async () => {
        const m = randomBytes(64);
        const k = keys[2];
        const s = pssSign(k, m);
        const steps = rsaSteps(k.n, s);
        expect(await begin(k.n, s, sha384(m), 10, rsaHintChain(steps))).toBe(0);
        expect(await h.getRsaPhase()).toBe(10n);
        const midway = chain.snapshot();
        const other = keys[0];
        const otherMessage = randomBytes(64);
        const otherSig = pssSign(other, otherMessage);
        const tamper = fc.constantFrom('modulus', 'signature', 'message', 'all', 'replay', 'skip');
        await fc.assert(
            fc.asyncProperty(tamper, fc.integer({ min: 1, max: 7 }), async (how, phases) => {
                await chain.loadFrom(midway);
                let code: number;
                if (how === 'modulus') code = await cont(10, phases, other.n, s, sha384(m), rsaHintChain(rsaSteps(other.n, s % other.n).slice(10)));
                else if (how === 'signature') code = await cont(10, phases, k.n, otherSig, sha384(m), rsaHintChain(rsaSteps(k.n, otherSig).slice(10)));
                else if (how === 'message') code = await cont(10, phases, k.n, s, sha384(otherMessage), rsaHintChain(steps.slice(10)));
                else if (how === 'all') code = await cont(10, phases, other.n, otherSig, sha384(otherMessage), rsaHintChain(rsaSteps(other.n, otherSig).slice(10)));
                else if (how === 'replay') code = await cont(10 - phases, phases, k.n, s, sha384(m), rsaHintChain(steps.slice(10 - phases)));
                else code = await cont(10 + phases, 1, k.n, s, sha384(m), rsaHintChain(steps.slice(10 + phases)));
                expect(code).toBe(how === 'replay' || how === 'skip' ? ExitCode.ERR_RSA_WRONG_PHASE : ExitCode.ERR_RSA_WRONG_INPUTS);
                expect(await h.getRsaPhase()).toBe(10n);
            }),
            { numRuns: 30 },
        );
        // The honest continuation completes it; a replay after the end is refused.
        await chain.loadFrom(midway);
        expect(await cont(10, 7, k.n, s, sha384(m), rsaHintChain(steps.slice(10)))).toBe(0);
        expect(await cont(17, 5, k.n, s, sha384(m), null)).toBe(0);
        expect(await h.getRsaValid()).toBe(false);
        expect(await cont(22, 4, k.n, s, sha384(m), null)).toBe(0);
        expect(await h.getRsaPhase()).toBe(BigInt(RSA_PSS_DONE));
        expect(await h.getRsaValid()).toBe(true);
        expect(await cont(22, 4, k.n, s, sha384(m), null)).toBe(ExitCode.ERR_RSA_WRONG_PHASE);
        expect(await cont(RSA_PSS_DONE, 1, k.n, s, sha384(m), null)).toBe(ExitCode.ERR_RSA_WRONG_PHASE);
        // A new verification of a wrong signature fails in its last phase and is never valid.
        await chain.loadFrom(deployed);
        expect(await cont(0, 1, k.n, s, sha384(m), null)).toBe(ExitCode.ERR_RSA_WRONG_PHASE); // nothing begun
        await verifyInTransactions(k.n, s, sha384(m), [11, 6, 5, 4]);
        expect(await h.getRsaValid()).toBe(true);
        const wrong = sha384(otherMessage);
        const stepsWrong = rsaSteps(k.n, s);
        expect(await begin(k.n, s, wrong, 11, rsaHintChain(stepsWrong))).toBe(0);
        expect(await h.getRsaValid()).toBe(false);
        expect(await cont(11, 6, k.n, s, wrong, rsaHintChain(stepsWrong.slice(11)))).toBe(0);
        // the checks of PS do not involve the message
        expect(await cont(17, 4, k.n, s, wrong, null)).toBe(0);
        expect(await cont(21, 4, k.n, s, wrong, null)).toBe(0);
        expect(await cont(25, 1, k.n, s, wrong, null)).toBe(ExitCode.ERR_RSA_PSS_INCONSISTENT);
        expect(await h.getRsaPhase()).toBe(25n);
        expect(await h.getRsaValid()).toBe(false);
    }, 300_000);

    describe('real AMD SEV-SNP certificates', () => {
        const pairs: [string, string][] = [
            ['ark-milan.pem', 'ark-milan.pem'],
            ['ark-milan.pem', 'ask-milan.pem'],
            ['ask-milan.pem', 'vcek-milan.der'],
            ['ark-genoa.pem', 'ask-genoa.pem'],
            ['ark-turin.pem', 'ask-turin.pem'],
        ];
        for (const [issuerFile, subjectFile] of pairs) {
            it(`${issuerFile} signs ${subjectFile} (TBS hashed in place on chain)`, async () => {
                const issuer = sevCertificate(issuerFile);
                const subject = sevCertificate(subjectFile);
                const n = issuer.modulus!;
                const s = bytesToBigInt(subject.signature);
                const digest: Sha384Digest = await h.getHashRange(bytesToChain(subject.der), BigInt(subject.tbsStart), BigInt(subject.tbsLength));
                expect(digestBytes(digest).equals(createHash('sha384').update(subject.tbs).digest())).toBe(true);
                expect(await getterExit(h.getVerify(rsaNumberCell(n), rsaNumberCell(s), digest, rsaHintChain(rsaSteps(n, s))!))).toBeNull();
            });
        }

        it('reads moduli and signatures in place in the certificates as the RsaNumbers the hints use', async () => {
            for (const file of ['ark-milan.pem', 'ask-milan.pem', 'ask-genoa.pem', 'ark-turin.pem']) {
                const cert = sevCertificate(file);
                const der = bytesToChain(cert.der);
                const sig = await h.getNumberFromBytes(der, BigInt(cert.signatureStart));
                expect(sig.equals(rsaNumberCell(bytesToBigInt(cert.signature)))).toBe(true);
                const modulusBytes = Buffer.from(cert.modulus!.toString(16).padStart(1024, '0'), 'hex');
                const at = cert.tbs.indexOf(Buffer.concat([Buffer.from([0x00]), modulusBytes]));
                expect(at).toBeGreaterThan(0);
                const n = await h.getNumberFromBytes(der, BigInt(cert.tbsStart + at + 1));
                expect(n.equals(rsaNumberCell(cert.modulus!))).toBe(true);
            }
            expect(await getterExit(h.getNumberFromBytes(bytesToChain(randomBytes(511)), 0n))).toBe(ExitCode.ERR_SHA384_RANGE);
        });

        it('refuses an ASK against another generation ARK', async () => {
            const ark = sevCertificate('ark-genoa.pem');
            const ask = sevCertificate('ask-milan.pem');
            const s = bytesToBigInt(ask.signature);
            const code = await verdictOf(ark.modulus!, s, sha384(ask.tbs));
            expect(code === ExitCode.ERR_RSA_PSS_INCONSISTENT || code === ExitCode.ERR_RSA_SIGNATURE_RANGE).toBe(true);
        });

        it('verifies ARK -> ASK (Milan) over transactions', async () => {
            await chain.loadFrom(deployed);
            const ark = sevCertificate('ark-milan.pem');
            const ask = sevCertificate('ask-milan.pem');
            await verifyInTransactions(ark.modulus!, bytesToBigInt(ask.signature), sha384(ask.tbs), [11, 6, 5, 4]);
            expect(await h.getRsaValid()).toBe(true);
        });
    });

    const verdictOf = (n: bigint, s: bigint, digest: Buffer) =>
        s >= n ? getterExit(h.getVerify(rsaNumberCell(n), rsaNumberCell(s), sha384Digest(digest), rsaHintChain(rsaSteps(n, s % n))!)) : verdict(n, s, digest);
});
