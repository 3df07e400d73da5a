import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Transaction, toNano } from '@ton/core';
import '@ton/test-utils';
import { mustOf } from '../../bench/economics';
import { P384Harness } from '../../build/P384Harness/P384Harness_P384Harness';
import { checkGasSum, computeGas } from '../../bench/lib/gas';
import { P384_G, P384_N, p384MultiMul } from '../../wrappers/p384Hints';
import { p384Inputs } from '../helpers/p384';

// Fixed inputs so the measured gas is reproducible run to run: a signature
// made here from a fixed key, nonce and digest (ECDSA: r = x(kG) mod n,
// s = (e + r d) / k mod n).
const D = 0x0badc0ffee0badc0ffee0badc0ffee0badc0ffee0badc0ffee0badc0ffee0badc0ffee0badc0ffee0badc0ffee01n;
const K = 0x1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6an;
const E = 0x9a3c6e0f5b7d2a4c8e1f3b5d7a9c2e4f6b8d0a1c3e5f7b9d1a3c5e7f9b1d3f5a9a3c6e0f5b7d2a4c8e1f3b5d7a9c2e4fn;

// windows per transaction (49 in all); the first also runs every check but the ladder
const PLAN = [16, 18, 15];
// a basechain transaction's gas limit, and the cost target of one verification
const TX_GAS_LIMIT = 1_000_000;

function modInv(a: bigint, m: bigint): bigint {
    let [r0, r1, t0, t1] = [m, ((a % m) + m) % m, 0n, 1n];
    while (r1 !== 0n) {
        const q = r0 / r1;
        [r0, r1] = [r1, r0 - q * r1];
        [t0, t1] = [t1, t0 - q * t1];
    }
    return ((t0 % m) + m) % m;
}

describe('P384Harness gas', () => {
    let chain: Blockchain;
    let user: SandboxContract<TreasuryContract>;
    let h: SandboxContract<P384Harness>;

    beforeAll(async () => {
        chain = await Blockchain.create();
        user = await chain.treasury('user');
        h = chain.openContract(await P384Harness.fromInit(0n));
        await h.send(user.getSender(), { value: toNano('1') }, null);
    });

    it('one ECDSA P-384 verification, split over transactions', async () => {
        const q = p384MultiMul([[D, P384_G]])!;
        const r = p384MultiMul([[K, P384_G]])!.x % P384_N;
        const s = (modInv(K, P384_N) * (E + r * D)) % P384_N;
        const inputs = p384Inputs(E, q, r, s);
        const verification = await h.getInputHash(inputs.digest.beginParse(), inputs.publicKey.beginParse(), inputs.signature.beginParse(), inputs.hint);
        const steps: Transaction[] = [];
        const all: Transaction[] = [];
        let next = 0;
        for (const [k, windows] of PLAN.entries()) {
            const slopes = inputs.slopesFor(next, windows);
            const from = BigInt(next);
            next += windows;
            const res =
                k === 0
                    ? await h.send(user.getSender(), { value: toNano('2') }, { $$type: 'P384VerifyStart', queryId: 1n, windows: BigInt(windows), ...inputs, slopes })
                    : await h.send(user.getSender(), { value: toNano('2') }, { $$type: 'P384VerifyContinue', queryId: 1n, windows: BigInt(windows), verification, from, ...inputs, slopes });
            expect(res.transactions).toHaveTransaction({ to: h.address, success: true });
            const tx = res.transactions[1];
            expect(Number(computeGas(tx))).toBeLessThan(TX_GAS_LIMIT);
            steps.push(tx);
            all.push(...res.transactions);
        }
        expect(await h.getResult(verification)).toBe(true);
        const entry = checkGasSum('P384.verify', steps, all);
        expect(BigInt(entry.gasUsed)).toBeLessThanOrEqual(mustOf('P384.verify'));
    });
});
