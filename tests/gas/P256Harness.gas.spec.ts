import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { toNano } from '@ton/core';
import '@ton/test-utils';
import { P256Harness } from '../../build/P256Harness/P256Harness_P256Harness';
import { mustOf } from '../../bench/economics';
import { checkGas, computeGas } from '../../bench/lib/gas';
import { G, bytesToChain, mul, pairBytes, sha256, signDigest } from '../helpers/p256';
import { p256Hint, p256HintCell } from '../../wrappers/p256Hints';

// Fixed inputs so the measured gas is reproducible run to run.
const D = 0x1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988n;
const K = 0x0badc0ffee0badc0ffee0badc0ffee0badc0ffee0badc0ffee0badc0ffee0bn;
const E = 0x9a3c6e0f5b7d2a4c8e1f3b5d7a9c2e4f6b8d0a1c3e5f7b9d1a3c5e7f9b1d3f5an;

describe('P256Harness gas', () => {
    let chain: Blockchain;
    let user: SandboxContract<TreasuryContract>;
    let h: SandboxContract<P256Harness>;

    beforeAll(async () => {
        chain = await Blockchain.create();
        user = await chain.treasury('user');
        h = chain.openContract(await P256Harness.fromInit(0n));
        await h.send(user.getSender(), { value: toNano('1') }, null);
    });

    it('one ECDSA P-256 verification in a transaction', async () => {
        const Q = mul(D, G)!;
        const [r, s] = signDigest(E, D, K);
        const res = await h.send(
            user.getSender(),
            { value: toNano('1') },
            {
                $$type: 'P256VerifyDigest',
                queryId: 1n,
                digest: E,
                signature: pairBytes(r, s),
                publicKey: pairBytes(Q[0], Q[1]),
                hint: p256HintCell(p256Hint(E, r, s, { x: Q[0], y: Q[1] })),
            },
        );
        expect(res.transactions).toHaveTransaction({ to: h.address, success: true });
        expect(await h.getLastValid()).toBe(true);
        const tx = res.transactions[1];
        // The cap: a verification with its hint stays within its must (the
        // sandbox's gas is deterministic, so this is a hard number).
        expect(computeGas(tx)).toBeLessThanOrEqual(mustOf('P256.verify'));
        checkGas('P256.verify', tx, res.transactions);
    });

    it('SHA-256 of a 1,200-byte cell chain in a transaction', async () => {
        const data = Buffer.from(Array.from({ length: 1200 }, (_, i) => i & 0xff));
        const res = await h.send(
            user.getSender(),
            { value: toNano('1') },
            {
                $$type: 'P256HashData',
                queryId: 2n,
                data: bytesToChain(data),
            },
        );
        expect(res.transactions).toHaveTransaction({ to: h.address, success: true });
        expect(await h.getLastHash()).toBe(sha256(data));
        checkGas('P256Harness.hashData1200', res.transactions[1], res.transactions);
    });
});
