import { Address, SendMode, beginCell, external, internal, openContract, storeMessage, toNano } from '@ton/core';
import { TonClient, WalletContractV4 } from '@ton/ton';
import { internal as sandboxInternal } from '@ton/sandbox';
import { RunningDevnet, startDevnet } from '../../devnet/server';
import { ExtendedRegistry, ProposalKind, decodeProposal } from '../../wrappers/Registry';
import { devnetParams } from '../../wrappers/params';
import { DEV_IMAGE_HASH } from '../../wrappers/devnet';
import { fixContractProvider } from '../../wrappers/toncenter';
import { pollUntil } from '../../helpers/poll';
import { devWallets, post, randomAddress, rpc } from './util';

/**
 * @ton/ton's TonClient against a running devnet, over HTTP: the same code
 * path the worker, the gateway and Blueprint use against toncenter.
 */
describe('devnet: toncenter v2 API for TonClient', () => {
    let devnet: RunningDevnet;
    let client: TonClient;
    let wallets: Awaited<ReturnType<typeof devWallets>>;

    beforeAll(async () => {
        // A block interval makes the asynchronous processing observable.
        devnet = await startDevnet({ port: 0, logLevel: 'silent', blockDelay: 300 });
        client = new TonClient({ endpoint: devnet.endpoint });
        wallets = await devWallets(client);
    });
    afterAll(async () => {
        await devnet?.close();
    });

    it('serves pre-funded V4R2 and V5R1 development wallets', async () => {
        expect(await client.getBalance(wallets.v4.address)).toBe(toNano('100000'));
        expect(await client.getBalance(wallets.v5.address)).toBe(toNano('100000'));
        expect(await client.isContractDeployed(wallets.v4.address)).toBe(true);

        const v4info = await rpc(devnet.endpoint, 'getWalletInformation', { address: wallets.v4.address.toString() });
        expect(v4info.status).toBe(200);
        expect(v4info.body).toMatchObject({ ok: true, id: 7, result: { wallet: true, wallet_type: 'wallet v4 r2', seqno: 0, wallet_id: 698983191, account_state: 'active' } });
        const v5info = await rpc(devnet.endpoint, 'getWalletInformation', { address: wallets.v5.address.toString() });
        expect(v5info.body.result).toMatchObject({ wallet: true, wallet_type: 'wallet v5 r1', seqno: 0 });

        const nobody = randomAddress(1);
        expect(await client.isContractDeployed(nobody)).toBe(false);
        const state = await client.getContractState(nobody);
        expect(state).toMatchObject({ state: 'uninitialized', balance: 0n, lastTransaction: null });
        // Blueprint's getConfig() reads the config contract; the sandbox config is served there.
        const config = await rpc(devnet.endpoint, 'getConfigParam', { config_id: 0 });
        expect(config.body.result.config.bytes).toEqual(expect.any(String));
        const configAccount = await client.getContractState(Address.parse('-1:' + '5'.repeat(64)));
        expect(configAccount.state).toBe('active');

        // Banner and tooling read /devnet/info; the wallets it lists are the ones derived here.
        const info = (await (await fetch(`${devnet.url}/devnet/info`)).json()) as { result: { wallets: { address: string }[] } };
        expect(info.result.wallets.slice(0, 2).map((w: { address: string }) => w.address)).toEqual([wallets.v4.address.toString(), wallets.v5.address.toString()]);
    });

    it('processes a V4 transfer after sendBoc returns; seqno advances and a replay is dropped', async () => {
        const dest = randomAddress(2);
        const seqno = await wallets.v4.getSeqno();
        const body = wallets.v4.createTransfer({
            seqno,
            secretKey: wallets.keyPair.secretKey,
            sendMode: SendMode.PAY_GAS_SEPARATELY,
            messages: [internal({ to: dest, value: toNano('2'), bounce: false })],
        });
        const raw = WalletContractV4.create({ workchain: 0, publicKey: wallets.keyPair.publicKey });
        await client.sendExternalMessage(raw, body);
        // Accepted, not yet in a block: like a real network, the client has to poll.
        expect(await wallets.v4.getSeqno()).toBe(seqno);
        await pollUntil(
            'the V4 seqno to advance',
            () => wallets.v4.getSeqno(),
            (s) => s === seqno + 1,
        );
        expect(await client.getBalance(dest)).toBe(toNano('2'));

        // The same signed message again: the wallet refuses it (seqno), nothing moves.
        await client.sendExternalMessage(raw, body);
        await devnet.chain.idle();
        expect(await wallets.v4.getSeqno()).toBe(seqno + 1);
        expect(await client.getBalance(dest)).toBe(toNano('2'));
    });

    it('processes a V5R1 transfer with seqno', async () => {
        const dest = randomAddress(3);
        const seqno = await wallets.v5.getSeqno();
        await wallets.v5.sendTransfer({
            seqno,
            secretKey: wallets.keyPair.secretKey,
            sendMode: SendMode.PAY_GAS_SEPARATELY,
            messages: [internal({ to: dest, value: toNano('3'), bounce: false })],
        });
        await pollUntil(
            'the V5 seqno to advance',
            () => wallets.v5.getSeqno(),
            (s) => s === seqno + 1,
        );
        expect(await client.getBalance(dest)).toBe(toNano('3'));
        const info = await rpc(devnet.endpoint, 'getWalletInformation', { address: wallets.v5.address.toString() });
        expect(info.body.result.seqno).toBe(seqno + 1);
    });

    it('lists transactions newest first with lt/hash paging, and locates message results', async () => {
        const dest = randomAddress(4);
        for (let i = 0; i < 4; i++) {
            const seqno = await wallets.v4.getSeqno();
            await wallets.v4.sendTransfer({
                seqno,
                secretKey: wallets.keyPair.secretKey,
                sendMode: SendMode.PAY_GAS_SEPARATELY,
                messages: [internal({ to: dest, value: toNano('0.1') * BigInt(i + 1), bounce: false })],
            });
            await pollUntil(
                'seqno',
                () => wallets.v4.getSeqno(),
                (s) => s === seqno + 1,
            );
        }
        const all = await client.getTransactions(wallets.v4.address, { limit: 50 });
        expect(all.length).toBeGreaterThanOrEqual(5);
        for (let i = 1; i < all.length; i++) expect(all[i].lt).toBeLessThan(all[i - 1].lt);
        // The newest one sent 0.4 TON to dest.
        const newestOut = [...all[0].outMessages.values()][0];
        expect(newestOut.info.type === 'internal' && newestOut.info.value.coins).toBe(toNano('0.4'));

        const page1 = await client.getTransactions(wallets.v4.address, { limit: 2 });
        expect(page1.map((t) => t.lt)).toEqual(all.slice(0, 2).map((t) => t.lt));
        const last = page1[1];
        const page2 = await client.getTransactions(wallets.v4.address, { limit: 2, lt: last.lt.toString(), hash: last.hash().toString('base64') });
        expect(page2.map((t) => t.lt)).toEqual(all.slice(2, 4).map((t) => t.lt));
        const inclusive = await client.getTransactions(wallets.v4.address, { limit: 2, lt: last.lt.toString(), hash: last.hash().toString('base64'), inclusive: true });
        expect(inclusive[0].hash().equals(last.hash())).toBe(true);
        const bounded = await client.getTransactions(wallets.v4.address, { limit: 50, to_lt: all[3].lt.toString() });
        expect(bounded.map((t) => t.lt)).toEqual(all.slice(0, 3).map((t) => t.lt));
        expect((await client.getTransaction(wallets.v4.address, last.lt.toString(), last.hash().toString('base64')))?.lt).toBe(last.lt);

        const wrongHash = await rpc(devnet.endpoint, 'getTransactions', { address: wallets.v4.address.toString(), lt: last.lt.toString(), hash: '00'.repeat(32), limit: 1 });
        expect(wrongHash.status).toBe(404);
        expect(wrongHash.body).toMatchObject({ ok: false, code: 404 });

        if (newestOut.info.type !== 'internal') throw new Error('expected an internal message');
        const result = await client.tryLocateResultTx(wallets.v4.address, dest, newestOut.info.createdLt.toString());
        expect(result.inMessage?.info.type === 'internal' && result.inMessage.info.value.coins).toBe(toNano('0.4'));
        const source = await client.tryLocateSourceTx(wallets.v4.address, dest, newestOut.info.createdLt.toString());
        expect(source.hash().equals(all[0].hash())).toBe(true);

        // Blocks: the latest shard block lists the last transaction.
        const mc = await client.getMasterchainInfo();
        const shards = await client.getWorkchainShards(mc.latestSeqno);
        const inBlock = await client.getShardTransactions(0, shards[0].seqno, shards[0].shard);
        expect(inBlock.some((t) => t.account.equals(dest))).toBe(true);
    });

    it('answers malformed input with toncenter-style 4xx errors and keeps serving', async () => {
        const cases: [string, unknown, number, RegExp][] = [
            ['sendBoc', { boc: 'not base64 !!' }, 400, /not base64/],
            ['sendBoc', { boc: 'AAAAAAAA' }, 400, /failed to parse boc/],
            ['sendBoc', { boc: beginCell().storeUint(1, 8).endCell().toBoc().toString('base64') }, 400, /not a valid message/],
            ['sendBoc', {}, 400, /boc is required/],
            [
                'sendBoc',
                {
                    boc: beginCell()
                        .store(storeMessage(sandboxInternal({ from: wallets.v5.address, to: wallets.v4.address, value: 1n })))
                        .endCell()
                        .toBoc()
                        .toString('base64'),
                },
                400,
                /external inbound/,
            ],
            ['sendBocReturnHash', { boc: 'te6cckEBAQEAAgAAAEysuc0=' }, 400, /not a valid message/],
            ['getAddressInformation', { address: 'EQnot-an-address' }, 400, /Incorrect address/],
            ['runGetMethod', { address: wallets.v4.address.toString(), method: 'seqno', stack: [['num', 'xyz']] }, 400, /must be an integer/],
            ['runGetMethod', { address: wallets.v4.address.toString(), method: 'seqno', stack: [['tvm.Tuple', []]] }, 400, /unsupported stack entry/],
            ['getTransactions', { address: wallets.v4.address.toString(), limit: 0 }, 400, /limit/],
            ['noSuchMethod', {}, 404, /not supported/],
        ];
        for (const [method, params, status, message] of cases) {
            const res = await rpc(devnet.endpoint, method, params);
            expect({ method, status: res.status }).toEqual({ method, status });
            expect(res.body).toMatchObject({ ok: false, code: status, id: 7 });
            expect(res.body.error).toMatch(message);
        }
        const badJson = await rpc(devnet.endpoint, '', null, '{"id": 1, "method": ');
        expect(badJson.status).toBe(400);
        expect(badJson.body).toMatchObject({ ok: false, code: 400 });
        const rest = await fetch(`${devnet.url}/api/v2/getAddressInformation?address=bad`);
        expect(rest.status).toBe(400);
        expect(await rest.json()).toMatchObject({ ok: false, code: 400 });

        await expect(client.sendFile(Buffer.from('definitely not a boc'))).rejects.toThrow(/400/);

        // A well-formed external with a bad signature is accepted for processing and dropped by the wallet.
        const seqno = await wallets.v4.getSeqno();
        const forged = wallets.v4.createTransfer({
            seqno,
            secretKey: Buffer.alloc(64, 1),
            messages: [internal({ to: randomAddress(5), value: toNano('1') })],
        });
        const hash = await rpc(devnet.endpoint, 'sendBocReturnHash', {
            boc: beginCell()
                .store(storeMessage(external({ to: wallets.v4.address, body: forged })))
                .endCell()
                .toBoc()
                .toString('base64'),
        });
        expect(hash.body).toMatchObject({ ok: true, result: { '@type': 'raw.extMessageInfo' } });
        await devnet.chain.idle();
        expect(await wallets.v4.getSeqno()).toBe(seqno);
        expect(await client.getBalance(randomAddress(5))).toBe(0n);

        expect((await fetch(`${devnet.url}/ready`)).status).toBe(200);
    });

    it('runs get methods of a deployed Registry, and timelocks under admin time travel', async () => {
        const owner = wallets.v4.address;
        const sender = wallets.v4.sender(wallets.keyPair.secretKey);
        const registry = client.open(await ExtendedRegistry.fromInit(owner, devnetParams(owner)));
        await registry.sendDeploy(sender);
        await pollUntil(
            'the Registry to deploy',
            () => client.isContractDeployed(registry.address),
            (d) => d,
        );
        expect((await registry.getOwner()).equals(owner)).toBe(true);
        expect((await registry.getParams()).timelockDelay).toBe(60n);
        // A get method with an argument: the stack travels as [["num", ...]].
        expect(await registry.getImageAllowed(DEV_IMAGE_HASH)).toBe(false);

        let seqno = await wallets.v4.getSeqno();
        const id = await registry.getNextProposalId();
        await registry.sendProposeImage(sender, DEV_IMAGE_HASH);
        await pollUntil(
            'the proposal',
            () => registry.getNextProposalId(),
            (n) => n === id + 1n,
        );
        await pollUntil(
            'seqno',
            () => wallets.v4.getSeqno(),
            (s) => s === seqno + 1,
        );

        // Optional-struct getters return tuples; TonClient needs the tuple fix to read them.
        const raw = await client.runMethod(registry.address, 'proposal', [{ type: 'int', value: id }]);
        expect(raw.stack.peek().type).toBe('tuple');
        const fixed = openContract(ExtendedRegistry.fromAddress(registry.address), (p) => fixContractProvider(client.provider(p.address)));
        const proposal = await fixed.getProposal(id);
        expect(proposal && decodeProposal(proposal)).toMatchObject({ kind: ProposalKind.AddImage, imageHash: DEV_IMAGE_HASH });
        expect(await registry.getProposalReady(id)).toBe(false);

        const before = (await client.getMasterchainInfo()).latestSeqno;
        const advanced = await post(`${devnet.url}/admin/advance-time`, { seconds: 3600 });
        expect(advanced.body.ok).toBe(true);
        expect(await registry.getProposalReady(id)).toBe(true);
        expect(before).toBeGreaterThan(0);

        // Wallets signed with the wall clock (valid_until = now + 60 s) still work an hour "later".
        seqno = await wallets.v4.getSeqno();
        await registry.sendExecute(sender, id);
        await pollUntil(
            'the image to be allowed',
            () => registry.getImageAllowed(DEV_IMAGE_HASH),
            (a) => a,
        );
        await pollUntil(
            'seqno',
            () => wallets.v4.getSeqno(),
            (s) => s === seqno + 1,
        );
        // ...including after the wallet received the Registry's excess at the advanced time.
        seqno = await wallets.v4.getSeqno();
        await wallets.v4.sendTransfer({ seqno, secretKey: wallets.keyPair.secretKey, messages: [internal({ to: randomAddress(6), value: toNano('1'), bounce: false })] });
        await pollUntil(
            'seqno',
            () => wallets.v4.getSeqno(),
            (s) => s === seqno + 1,
        );

        const badAdvance = await post(`${devnet.url}/admin/advance-time`, { seconds: -5 });
        expect(badAdvance.status).toBe(400);
    });

    it('funds addresses from the faucet and estimates fees', async () => {
        const to = randomAddress(7);
        const res = await post(`${devnet.url}/admin/faucet`, { address: to.toString(), amount: '5.5' });
        expect(res.status).toBe(200);
        expect(res.body.result).toMatchObject({ amount: toNano('5.5').toString() });
        expect(await client.getBalance(to)).toBe(toNano('5.5'));
        const txs = await client.getTransactions(to, { limit: 5 });
        expect(txs).toHaveLength(1);

        for (const bad of [{ address: 'x', amount: '1' }, { address: to.toString(), amount: 'lots' }, { address: to.toString(), amount: '2000000' }, { address: to.toString() }]) {
            const r = await post(`${devnet.url}/admin/faucet`, bad);
            expect(r.status).toBe(400);
            expect(r.body).toMatchObject({ ok: false, code: 400 });
        }

        const body = wallets.v4.createTransfer({
            seqno: await wallets.v4.getSeqno(),
            secretKey: wallets.keyPair.secretKey,
            messages: [internal({ to, value: toNano('1') })],
        });
        const fees = await client.estimateExternalMessageFee(wallets.v4.address, { body, initCode: null, initData: null, ignoreSignature: true });
        expect(fees.source_fees.gas_fee).toBeGreaterThan(0);
        expect(fees.source_fees.fwd_fee).toBeGreaterThan(0);
        // Estimation changes nothing.
        expect(await client.getBalance(to)).toBe(toNano('5.5'));
    });
});
