import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Transaction, toNano } from '@ton/core';
import '@ton/test-utils';
import { mustOf } from '../../bench/economics';
import { Sha384RsaHarness } from '../../build/Sha384RsaHarness/Sha384RsaHarness_Sha384RsaHarness';
import { checkGas, checkGasSum, computeGas } from '../../bench/lib/gas';
import { bytesToChain } from '../helpers/p256';
import { digestBytes, harnessInit, sevCertificate, sha384 } from '../helpers/sha384Rsa';
import { bytesToBigInt, rsaHintChain, rsaNumberCell, rsaSteps, sha384Digest } from '../../wrappers/rsaPssHints';

// One transaction's gas limit on the basechain, and the cap on a whole
// verification (all its transactions).
const TX_GAS_LIMIT = 1_000_000n;
// Phases per transaction (each under the limit with ~7% to spare): 14
// squarings; 2 squarings, the multiplication and 5 MGF1 blocks; 3 MGF1
// blocks and the tail (2 more and H').
const SPLIT = [14, 8, 4];

describe('Sha384RsaHarness gas', () => {
    let chain: Blockchain;
    let user: SandboxContract<TreasuryContract>;
    let h: SandboxContract<Sha384RsaHarness>;

    beforeAll(async () => {
        chain = await Blockchain.create();
        user = await chain.treasury('user');
        h = chain.openContract(await harnessInit());
        await h.send(user.getSender(), { value: toNano('1') }, null);
    });

    it('one RSA-4096 PSS verification (the real ARK -> ASK signature) over its transactions', async () => {
        // Fixed inputs: AMD's Milan ARK key and the ASK certificate's signature.
        const ark = sevCertificate('ark-milan.pem');
        const ask = sevCertificate('ask-milan.pem');
        const n = ark.modulus!;
        const s = bytesToBigInt(ask.signature);
        const steps = rsaSteps(n, s);
        const common = { modulus: rsaNumberCell(n), signature: rsaNumberCell(s), messageHash: sha384Digest(sha384(ask.tbs)) };
        const txs: Transaction[] = [];
        const all: Transaction[] = [];
        let phase = 0;
        for (const count of SPLIT) {
            const hints = phase <= 16 ? rsaHintChain(steps.slice(phase)) : null;
            const res =
                phase === 0
                    ? await h.send(user.getSender(), { value: toNano('5') }, { $$type: 'RsaPssBegin', queryId: 1n, ...common, phases: BigInt(count), hints })
                    : await h.send(user.getSender(), { value: toNano('5') }, { $$type: 'RsaPssContinue', queryId: 1n, fromPhase: BigInt(phase), phases: BigInt(count), ...common, hints });
            expect(res.transactions).toHaveTransaction({ to: h.address, success: true });
            txs.push(res.transactions[1]);
            all.push(...res.transactions);
            expect(computeGas(res.transactions[1])).toBeLessThan(TX_GAS_LIMIT);
            phase += count;
        }
        expect(await h.getRsaValid()).toBe(true);
        const entry = checkGasSum('RSA4096PSS.verify', txs, all);
        expect(BigInt(entry.gasUsed)).toBeLessThanOrEqual(mustOf('RSA4096PSS.verify'));
    });

    it('SHA-384 of the real ASK TBS, in place in its certificate, over two transactions', async () => {
        const ask = sevCertificate('ask-milan.pem');
        const der = bytesToChain(ask.der);
        const first = 640;
        const a = await h.send(
            user.getSender(),
            { value: toNano('1') },
            { $$type: 'Sha384HashPart', queryId: 2n, data: der, start: BigInt(ask.tbsStart), length: BigInt(first), restart: true, finish: false },
        );
        const b = await h.send(
            user.getSender(),
            { value: toNano('1') },
            { $$type: 'Sha384HashPart', queryId: 3n, data: der, start: BigInt(ask.tbsStart + first), length: BigInt(ask.tbsLength - first), restart: false, finish: true },
        );
        expect(b.transactions).toHaveTransaction({ to: h.address, success: true });
        expect(digestBytes(await h.getLastDigest()).equals(sha384(ask.tbs))).toBe(true);
        checkGasSum('SHA384.askTbs', [a.transactions[1], b.transactions[1]], [...a.transactions, ...b.transactions]);
    });

    it('SHA-384 of an 800-byte cell chain in a transaction', async () => {
        const data = Buffer.from(Array.from({ length: 800 }, (_, i) => i & 0xff));
        const res = await h.send(user.getSender(), { value: toNano('1') }, { $$type: 'Sha384HashChain', queryId: 4n, data: bytesToChain(data) });
        expect(res.transactions).toHaveTransaction({ to: h.address, success: true });
        expect(digestBytes(await h.getLastDigest()).equals(sha384(data))).toBe(true);
        checkGas('Sha384RsaHarness.sha384_800', res.transactions[1], res.transactions);
    });

    it('SHA-384 of one block in a transaction, and per 128-byte block', async () => {
        const gasOf = async (len: number) => {
            const data = Buffer.alloc(len, 7);
            const res = await h.send(user.getSender(), { value: toNano('1') }, { $$type: 'Sha384HashRange', queryId: 5n, data: bytesToChain(data), start: 0n, length: BigInt(len) });
            expect(res.transactions).toHaveTransaction({ to: h.address, success: true });
            expect(digestBytes(await h.getLastDigest()).equals(sha384(data))).toBe(true);
            return { tx: res.transactions[1], all: res.transactions, gas: computeGas(res.transactions[1]) };
        };
        // 111 bytes: the longest message of one block
        const one = await gasOf(111);
        checkGas('SHA384.block', one.tx, one.all);
        const six = await gasOf(6 * 128 - 17);
        const seven = await gasOf(7 * 128 - 17);
        const perBlock = seven.gas - six.gas;
        expect(perBlock).toBeGreaterThan(0n);
    });
});
