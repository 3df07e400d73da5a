import '@ton/test-utils';
import { Address, Sender, SenderArguments, SendMode, Transaction, internal, toNano } from '@ton/core';
import { KeyPair } from '@ton/crypto';
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { findTransactionRequired } from '@ton/test-utils';
import { WalletContractV4, WalletContractV5R1 } from '@ton/ton';
import { mustOf } from '../../bench/economics';
import { checkFees, checkGas } from '../../bench/lib/gas';
import { ExtendedAttestationVerifier } from '../../wrappers/AttestationVerifier';
import { DEV_IMAGE_HASH, DEV_MODEL_ID, devSimulatedAttestationKey } from '../../wrappers/devnet';
import { ExtendedEscrow } from '../../wrappers/Escrow';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { NetworkParams } from '../../wrappers/Registry';
import { ExtendedStaking } from '../../wrappers/Staking';
import { claimsStruct, signSimulated } from '../../wrappers/tdx';
import { keyToInt, signCloseApproval, signVoucher } from '../../wrappers/voucher';
import { ExtendedWorkerStake } from '../../wrappers/WorkerStake';
import { testKeys } from '../helpers/channel';
import { deployNetworkByScript } from '../helpers/network';

/**
 * What each payment operation costs its sender, over the whole message chain
 * through the real network contracts deployed by deployNetwork (no stand-in
 * WorkerStake or treasury): `Network.<operation>` sent as the sandbox sends
 * (no wallet transaction), `Network.<operation>.v4r2` / `.v5r1` sent from a
 * real wallet of that version, its own transaction included.
 */

type SenderKind = 'sandbox' | 'v4r2' | 'v5r1';

interface Party {
    address: Address;
    /** Sends one message as this party; resolves with every transaction it caused. */
    send(args: SenderArguments): Promise<Transaction[]>;
}

/** Captures what a wrapper would send, so a wallet can send exactly that. */
function captured(address: Address): { sender: Sender; args: () => SenderArguments } {
    let last: SenderArguments | undefined;
    return {
        sender: {
            address,
            send: async (args) => {
                last = args;
            },
        },
        args: () => {
            if (!last) throw new Error('the wrapper sent nothing');
            return last;
        },
    };
}

async function party(blockchain: Blockchain, kind: SenderKind, name: string, funder: SandboxContract<TreasuryContract>): Promise<Party> {
    if (kind === 'sandbox') {
        const t = await blockchain.treasury(name, { balance: toNano('1000') });
        return {
            address: t.address,
            send: async (args) => {
                const r = await t.send(args);
                return r.transactions;
            },
        };
    }
    const keys: KeyPair = testKeys(`${name}-${kind}`);
    const contract = kind === 'v4r2' ? WalletContractV4.create({ workchain: 0, publicKey: keys.publicKey }) : WalletContractV5R1.create({ workchain: 0, publicKey: keys.publicKey });
    const wallet = blockchain.openContract(contract as WalletContractV5R1);
    await funder.send({ to: wallet.address, value: toNano('500'), bounce: false });
    const transfer = async (args: SenderArguments) => {
        const seqno = await wallet.getSeqno();
        const r = await wallet.sendTransfer({
            seqno,
            secretKey: keys.secretKey,
            // Valid for a minute of chain time (the sandbox clock is not the host's).
            timeout: blockchain.now! + 60,
            messages: [internal({ to: args.to, value: args.value, body: args.body ?? undefined, bounce: args.bounce ?? true, init: args.init ?? undefined })],
            sendMode: SendMode.PAY_GAS_SEPARATELY | SendMode.IGNORE_ERRORS,
        });
        return r.transactions;
    };
    // The wallet's own deployment is not part of any operation.
    await transfer({ to: funder.address, value: toNano('0.01'), bounce: false });
    return { address: wallet.address, send: transfer };
}

/** The payment operations whose whole chain, as the sandbox sends it, has a cap (bench/economics.ts). */
const CAPPED = ['claim', 'openChannel', 'topUp', 'cooperativeClose', 'stake', 'topUpStake'];

const measured: Record<string, bigint> = {};

/** checkGas, remembering the fees for the caps. */
function measure(name: string, tx: Transaction, chain: Transaction[]) {
    measured[name] = BigInt(checkGas(name, tx, chain).fees);
}

describe('payment operations over the real network contracts', () => {
    let blockchain: Blockchain;
    let params: NetworkParams;
    let staking: SandboxContract<ExtendedStaking>;
    let escrow: SandboxContract<ExtendedEscrow>;
    let verifier: SandboxContract<ExtendedAttestationVerifier>;
    let funder: SandboxContract<TreasuryContract>;

    beforeAll(async () => {
        const network = await deployNetworkByScript();
        ({ blockchain, staking, escrow, verifier } = network);
        params = await network.registry.getParams();
        funder = await blockchain.treasury('funder', { balance: toNano('100000') });
    });

    for (const kind of ['sandbox', 'v4r2', 'v5r1'] as const) {
        const row = (operation: string) => (kind === 'sandbox' ? `Network.${operation}` : `Network.${operation}.${kind}`);

        it(`stake, top up the stake, open, top up, claim and close cooperatively (${kind} sender)`, async () => {
            const owner = await party(blockchain, kind, 'gpu-owner', funder);
            const client = await party(blockchain, kind, 'client', funder);
            const claimer = await party(blockchain, kind, 'claimer', funder);
            const workerKeys = testKeys(`worker-${kind}`);
            const clientKeys = testKeys(`client-${kind}`);
            const workerKey = keyToInt(workerKeys.publicKey);

            // Stake with a listing: Staking deploys the WorkerStake.
            const stake = captured(owner.address);
            await staking.sendStake(stake.sender, await staking.getStakeValue(params.minWorkerStake), workerKey, {
                modelId: DEV_MODEL_ID,
                endpoint: 'http://127.0.0.1:8090',
                encryptionKey: 0xe1n,
                prices: { prompt: 1_000_000_000n, cached: 100_000_000n, completion: 2_000_000_000n, reasoning: 2_000_000_000n },
            });
            const staked = await owner.send(stake.args());
            measure(row('stake'), findTransactionRequired(staked, { to: staking.address, success: true }), staked);
            const worker = blockchain.openContract(ExtendedWorkerStake.fromAddress(await staking.getWorkerAddress(owner.address, workerKey)));
            expect(await worker.getStake()).toBe(params.minWorkerStake);

            // Top the stake up.
            const topUpStake = captured(owner.address);
            await worker.sendTopUpStake(topUpStake.sender, toNano('1'));
            const toppedStake = await owner.send(topUpStake.args());
            measure(row('topUpStake'), findTransactionRequired(toppedStake, { to: worker.address, success: true }), toppedStake);
            expect(await worker.getStake()).toBe(params.minWorkerStake + toNano('1'));

            // Attest, so the worker is active and paid through channels.
            const claims = { workerStake: worker.address, workerKey, encryptionKey: 0xe1n, modelId: DEV_MODEL_ID, notAfter: BigInt(blockchain.now! + 3600) };
            await verifier.sendSubmitSimulated(funder.getSender(), {
                $$type: 'SubmitSimulated',
                queryId: 0n,
                imageHash: DEV_IMAGE_HASH,
                signature: signSimulated(claims, DEV_IMAGE_HASH, devSimulatedAttestationKey().secretKey),
                workerStake: worker.address,
                claims: claimsStruct(claims),
            });
            expect(await worker.getIsActive()).toBe(true);

            // Open a channel.
            const open = captured(client.address);
            await escrow.sendOpenChannel(open.sender, { workerOwner: owner.address, workerKey, nonce: 1n, clientKey: keyToInt(clientKeys.publicKey), deposit: toNano('5') });
            const opened = await client.send(open.args());
            measure(row('openChannel'), findTransactionRequired(opened, { to: escrow.address, success: true }), opened);
            const channel = blockchain.openContract(ExtendedPaymentChannel.fromAddress(await escrow.getChannelAddress(client.address, worker.address, 1n)));
            expect((await channel.getState()).deposit).toBe(toNano('5'));

            // Top it up.
            const topUp = captured(client.address);
            await channel.sendTopUp(topUp.sender, toNano('1'));
            const topped = await client.send(topUp.args());
            measure(row('topUp'), findTransactionRequired(topped, { to: channel.address, success: true }), topped);
            // The amount, and what the overhead did not spend on gas.
            const deposit = (await channel.getState()).deposit;
            expect(deposit).toBeGreaterThanOrEqual(toNano('6'));
            expect(deposit).toBeLessThan(toNano('6') + ExtendedPaymentChannel.TOP_UP_OVERHEAD);

            // Claim a voucher: channel -> owner's wallet; the protocol fee accrues in the channel (sent in bulk).
            const claim = captured(claimer.address);
            await channel.sendClaim(claim.sender, signVoucher(channel.address, toNano('1.5'), clientKeys.secretKey));
            const claimed = await claimer.send(claim.args());
            measure(row('claim'), findTransactionRequired(claimed, { to: channel.address, success: true }), claimed);
            expect(claimed).toHaveTransaction({ from: channel.address, to: owner.address });
            expect((await channel.getState()).paid).toBe(toNano('1.5'));

            // A year of storage rent for the open channel (sandbox sender only: the state is the same).
            if (kind === 'sandbox') {
                const year = 365 * 24 * 3600;
                const snapshot = blockchain.snapshot();
                blockchain.now = blockchain.now! + year;
                const poke = captured(client.address);
                await channel.sendTopUp(poke.sender, toNano('0.1'));
                const poked = await client.send(poke.args());
                const tx = findTransactionRequired(poked, { to: channel.address, success: true });
                const storage = tx.description.type === 'generic' ? (tx.description.storagePhase?.storageFeesCollected ?? 0n) : 0n;
                expect(storage).toBeGreaterThan(0n);
                measured['PaymentChannel.rentPerYear'] = BigInt(checkFees('PaymentChannel.rentPerYear', storage).fees);
                await blockchain.loadFrom(snapshot);
            }

            // Close cooperatively with a final voucher the worker co-signs.
            const final = signVoucher(channel.address, toNano('2'), clientKeys.secretKey);
            const close = captured(client.address);
            await channel.sendCooperativeClose(close.sender, final, signCloseApproval(channel.address, final.total, workerKeys.secretKey));
            const closed = await client.send(close.args());
            measure(row('cooperativeClose'), findTransactionRequired(closed, { to: channel.address, success: true }), closed);
            expect(closed).toHaveTransaction({ from: channel.address, to: client.address });
        });
    }

    it('costs at most the caps: claim, open, top-up, cooperative close, stake and top-up stake, a year of rent', () => {
        for (const name of [...CAPPED.map((operation) => `Network.${operation}`), 'PaymentChannel.rentPerYear']) {
            expect({ name, fees: measured[name] }).toEqual({ name, fees: expect.any(BigInt) });
            const cap = mustOf(name);
            if (measured[name] > cap) throw new Error(`${name} costs ${measured[name]} nanoTON, over its cap of ${cap}`);
        }
    });
});
