import '@ton/test-utils';
import { toNano } from '@ton/core';
import { RefusalCode, encodeVoucher } from '../../protocol/paidRequest';
import { ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { keyToInt, signVoucher } from '../../wrappers/voucher';
import { CooperativeClose } from '../../worker/src/cooperativeClose';
import { PaymentError } from '../../worker/src/payments';
import { WorkerStore } from '../../worker/src/store/store';
import { openChannel } from '../helpers/channel';
import { daemonPayments, deployServing } from '../helpers/serving';

/**
 * A contract that answers the channel getters like a channel of this worker
 * (here: real PaymentChannel code, deployed by an attacker posing as the
 * Escrow, naming the worker's WorkerStake and key and a large deposit) is not
 * a channel the WorkerStake takes payouts from: serving it would be free
 * service, and claiming on it would feed it the operator's gas. The daemon
 * serves only channels whose address derives from its WorkerStake's Escrow.
 */
describe('a look-alike channel gets no service', () => {
    it('is refused at admission, while a genuine channel of the same client is served', async () => {
        const f = await deployServing();
        const attacker = await f.blockchain.treasury('attacker', { balance: toNano('100') });
        const fake = f.blockchain.openContract(await ExtendedPaymentChannel.fromInit(attacker.address, attacker.address, f.workerStake.address, 1n));
        await fake.send(
            attacker.getSender(),
            { value: toNano('1') },
            {
                $$type: 'ChannelOpen',
                queryId: 0n,
                deposit: toNano('0.5'),
                clientKey: keyToInt(f.clientKeys.publicKey),
                workerKey: keyToInt(f.workerKeys.publicKey),
                closeDelay: 3600n,
                feeBps: 0n,
                treasury: attacker.address,
                payee: attacker.address,
            },
        );
        // It looks the part from the outside.
        const looks = await fake.getState();
        expect(looks.workerStake.equals(f.workerStake.address)).toBe(true);
        expect(looks.workerKey).toBe(keyToInt(f.workerKeys.publicKey));
        expect(looks.deposit).toBe(toNano('0.5'));

        const store = WorkerStore.open(':memory:');
        const { chain, payments } = daemonPayments(f, { store });
        try {
            const refused = await payments.admit({ channel: fake.address.toString(), promptBound: 10, maxTokens: 10, modelId: f.modelId }).then(
                () => undefined,
                (e) => e,
            );
            expect(refused).toBeInstanceOf(PaymentError);
            expect(refused).toMatchObject({ status: 403, code: RefusalCode.WrongWorker });
            // Nothing of it reaches the store, so the claimer never sends it a claim.
            expect(store.listChannels()).toEqual([]);
            expect(payments.pending).toBe(0);

            // A valid voucher of the look-alike is not kept either: a stored
            // voucher is what the claimer spends gas redeeming.
            const voucher = encodeVoucher(signVoucher(fake.address, toNano('0.1'), f.clientKeys.secretKey));
            const withVoucher = await payments.admit({ channel: fake.address.toString(), voucher, promptBound: 10, maxTokens: 10, modelId: f.modelId }).then(
                () => undefined,
                (e) => e,
            );
            expect(withVoucher).toMatchObject({ status: 403, code: RefusalCode.WrongWorker });
            expect(store.latestVoucher(fake.address.toString())).toBeUndefined();
            expect(store.listChannels()).toEqual([]);

            // Nor one sent on its own, as the client sends each voucher once it has verified the receipt.
            const alone = signVoucher(fake.address, toNano('0.1'), f.clientKeys.secretKey);
            const aloneRefused = await payments.acceptVoucher({ channel: fake.address, body: { total: alone.total, signature: alone.signature } }).then(
                () => undefined,
                (e) => e,
            );
            expect(aloneRefused).toMatchObject({ status: 403, code: RefusalCode.WrongWorker });
            expect(store.latestVoucher(fake.address.toString())).toBeUndefined();
            expect(store.listChannels()).toEqual([]);

            // Nor does a cooperative close of it: approving would keep its final voucher for the claimer.
            const closer = new CooperativeClose({ store, chain, workerStake: f.workerStake.address, receiptKey: f.workerKeys, inFlight: (k) => payments.inFlight(k), now: () => f.blockchain.now! });
            const closing = signVoucher(fake.address, toNano('0.1'), f.clientKeys.secretKey);
            const closeRefused = await closer.approve({ channel: fake.address.toString(), body: { total: closing.total.toString(), signature: closing.signature.toString('hex') } }).then(
                () => undefined,
                (e) => e,
            );
            expect(closeRefused).toMatchObject({ status: 403, code: RefusalCode.WrongWorker });
            expect(store.latestVoucher(fake.address.toString())).toBeUndefined();
            expect(store.listChannels()).toEqual([]);

            const { channel } = await openChannel(f, { nonce: 1n, deposit: toNano('5') });
            const served = await payments.admit({ channel: channel.address.toString(), promptBound: 10, maxTokens: 10, modelId: f.modelId });
            expect(served.channel.equals(channel.address)).toBe(true);
            payments.release(served);
        } finally {
            store.close();
        }
    });
});
