import {
    SNP_P384_WINDOWS_PER_STEP,
    SnpTestChain,
    amdCertificateSteps,
    amdRsaKeyId,
    generateSnpTestChain,
    parseAmdCertificate,
    snpImageHashOf,
    snpPolicy,
    snpTestReport,
    vcekKeyId,
} from '../../wrappers/snp';
import '@ton/test-utils';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sender, SenderArguments, toNano } from '@ton/core';
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { ExtendedAttestationVerifier } from '../../wrappers/AttestationVerifier';
import { ExtendedStaking } from '../../wrappers/Staking';
import { ExtendedWorkerStake, WorkerStatus } from '../../wrappers/WorkerStake';
import { INTEL_TD_QE_IDENTITY, derToPem, keyIdOf, TEST_QE_MRSIGNER, TEST_QE_PRODID, TEST_QE_SVN, TestCa, buildTestQuote, createTestCa, imageHashOf, parseQuote } from '../../wrappers/tdx';
import { keyToInt } from '../../wrappers/voucher';
import { SevSnpProvider, TdxProvider } from '../../worker/src/attestation';
import { createLogger } from '../../worker/src/log';
import { RegisterOptions, register } from '../../worker/src/register';
import { RegistryFixture, deployRegistry, linkContracts, passProposal } from '../helpers/registry';
import { MODEL, PRICES, workerKeys } from '../helpers/staking';
import { fakeTsm, sandboxOpener } from './helpers';
import { noAttestationPolicy } from '../helpers/attestation';
import { SandboxNetworkProvider } from '../../scripts/lib/sandboxProvider';
import { run as revokeAttestationKey } from '../../scripts/revokeAttestationKey';
import { run as revokeAmdChip } from '../../scripts/revokeAmdChip';
import { run as endRevokedAttestations } from '../../scripts/endRevokedAttestations';
import { hex256 } from '../../helpers/bytes';
import { Discovery } from '../../client/src/discovery';

jest.setTimeout(120_000);

/** What `register` takes for `operator`'s worker on `staking`; the opcode of every message it sends is added to `sent`. */
function registerOptions(o: {
    f: RegistryFixture;
    operator: SandboxContract<TreasuryContract>;
    staking: SandboxContract<ExtendedStaking>;
    sent: string[];
    stake: bigint;
    keyName: string;
    encryptionKey: Buffer;
    provider: RegisterOptions['provider'];
}): RegisterOptions {
    const sender: Sender = {
        address: o.operator.address,
        send: async (args: SenderArguments) => {
            o.sent.push(args.body ? args.body.beginParse().loadUint(32).toString(16) : 'empty');
            await o.operator.send(args);
        },
    };
    return {
        opener: sandboxOpener(o.f.blockchain),
        sender,
        owner: o.operator.address,
        staking: o.staking.address,
        receiptPublicKey: workerKeys(o.keyName).publicKey,
        encryptionPublicKey: o.encryptionKey,
        modelId: MODEL,
        endpoint: 'http://127.0.0.1:8090',
        prices: PRICES,
        stake: o.stake,
        provider: o.provider,
        lifetimeSec: 86_400,
        now: async () => o.f.blockchain.now ?? Math.floor(Date.now() / 1000),
        logger: createLogger({ level: 'silent' }),
    };
}

describe('register with the tdx provider (sandbox: Staking, AttestationVerifier pinned to a test CA, fake configfs-tsm)', () => {
    let f: RegistryFixture;
    let ca: TestCa;
    let operator: SandboxContract<TreasuryContract>;
    let staking: SandboxContract<ExtendedStaking>;
    let tsmDir: string;
    let tsm: ReturnType<typeof fakeTsm>;
    let sent: string[];

    beforeAll(async () => {
        ca = createTestCa();
        const image = imageHashOf(parseQuote(buildTestQuote(ca, { reportData: Buffer.alloc(64) })).body);
        f = await deployRegistry({ allowSimulatedAttestation: false });
        operator = await f.blockchain.treasury('operator', { balance: toNano('100000') });
        staking = f.blockchain.openContract(await ExtendedStaking.fromInit(f.registry.address));
        await staking.sendDeploy(f.owner.getSender());
        const verifier = f.blockchain.openContract(await ExtendedAttestationVerifier.fromInit(f.registry.address));
        await verifier.sendDeploy(f.owner.getSender(), toNano('1'));
        await passProposal(f, () => f.registry.sendProposeImage(f.owner.getSender(), image));
        await passProposal(f, () => f.registry.sendProposeModel(f.owner.getSender(), MODEL, 'tiny-model'));
        await passProposal(f, () =>
            f.registry.sendProposeAttestationPolicy(f.owner.getSender(), {
                rootKeyX: ca.root.publicKey.x,
                rootKeyY: ca.root.publicKey.y,
                qeMrSigner: BigInt('0x' + TEST_QE_MRSIGNER.toString('hex')),
                qeIsvProdId: BigInt(TEST_QE_PRODID),
                qeMinIsvSvn: BigInt(TEST_QE_SVN),
                ...INTEL_TD_QE_IDENTITY,
                simulatedKey: 0n,
                ...snpPolicy(),
            }),
        );
        await linkContracts(f, { staking: staking.address, verifier: verifier.address });
        tsmDir = mkdtempSync(join(tmpdir(), 'cocoon-tsm-register-'));
        tsm = fakeTsm(tsmDir, (reportData) => buildTestQuote(ca, { reportData }));
    });

    afterAll(async () => {
        await tsm.close();
        rmSync(tsmDir, { recursive: true, force: true });
    });

    function options(stake: bigint): RegisterOptions {
        sent = [];
        return registerOptions({ f, operator, staking, sent, stake, keyName: 'tdx-worker', encryptionKey: Buffer.alloc(32, 0xe5), provider: new TdxProvider(tsmDir, { timeoutMs: 10_000 }) });
    }

    it('stakes, submits the certificate chain, QE report and quote, and the WorkerStake becomes active', async () => {
        const r = await register(options(f.params.minWorkerStake));
        expect(r.staked).toBe('deployed');
        expect(r.status).toBe('active');
        expect(r.evidence.provider).toBe('tdx');
        // Stake, two certificates (platform CA, PCK), QE report, quote.
        expect(sent).toHaveLength(5);
        const ws = f.blockchain.openContract(ExtendedWorkerStake.fromAddress(r.workerStake));
        expect(Number(await ws.getStatus())).toBe(WorkerStatus.Active);
        const att = (await ws.getAttestation())!;
        expect(att.encryptionKey).toBe(keyToInt(Buffer.alloc(32, 0xe5)));
        expect(att.modelId).toBe(MODEL);
        expect(att.imageHash).toBe(r.evidence.imageHash);
        // What discovery tells app developers of its hardware.
        expect(await new Discovery(sandboxOpener(f.blockchain), staking.address).evidenceTee(att.evidenceKeyId)).toBe('intel-tdx');
    });

    it('re-running tops up the stake and re-attests with one signature step (cached keys are skipped)', async () => {
        f.blockchain.now = (f.blockchain.now ?? Math.floor(Date.now() / 1000)) + 60;
        const r = await register(options(f.params.minWorkerStake + toNano('5')));
        expect(r.staked).toBe('topped-up');
        expect(r.stake).toBe(f.params.minWorkerStake + toNano('5'));
        // Top-up and the quote only.
        expect(sent).toHaveLength(2);
        expect(r.status).toBe('active');
    });

    it('after governance revokes its PCK key, endRevokedAttestations ends the registered attestation and the worker leaves the index', async () => {
        const r = await register(options(f.params.minWorkerStake + toNano('5')));
        expect(r.status).toBe('active');
        const worker = f.blockchain.openContract(ExtendedWorkerStake.fromAddress(r.workerStake));
        const pckKeyId = keyIdOf(ca.pck.publicKey);
        const owner = new SandboxNetworkProvider(f.blockchain, f.owner);
        const anyone = new SandboxNetworkProvider(f.blockchain, operator);
        // Only the owner revokes; nothing is ended while nothing is revoked.
        await expect(revokeAttestationKey(anyone, [f.registry.address.toString(), hex256(pckKeyId)])).rejects.toThrow(/owner/i);
        expect(await endRevokedAttestations(anyone, [staking.address.toString(), hex256(MODEL)])).toBe(0);
        // Chip and key revocations share one list: a "chip id" that is the PCK's x || y would revoke the PCK, and is refused.
        const xy = hex256(ca.pck.publicKey.x) + hex256(ca.pck.publicKey.y);
        await expect(revokeAmdChip(owner, [f.registry.address.toString(), xy])).rejects.toThrow(/not of a chip/);

        await revokeAttestationKey(owner, [f.registry.address.toString(), hex256(pckKeyId)]);
        await expect(revokeAttestationKey(owner, [f.registry.address.toString(), hex256(pckKeyId)])).rejects.toThrow(/already revoked/);
        expect(await endRevokedAttestations(anyone, [staking.address.toString(), hex256(MODEL)])).toBe(1);
        expect(Number(await worker.getStatus())).toBe(WorkerStatus.Pending);
        expect(await staking.getAllActiveWorkers(MODEL)).toHaveLength(0);
        expect(await endRevokedAttestations(anyone, [staking.address.toString(), hex256(MODEL)])).toBe(0);
    });
});

describe('register with the sev-snp provider (sandbox: AttestationVerifier pinned to a simulated AMD root, fake configfs-tsm)', () => {
    let f: RegistryFixture;
    let sim: SnpTestChain;
    let operator: SandboxContract<TreasuryContract>;
    let staking: SandboxContract<ExtendedStaking>;
    let dir: string;
    let tsm: ReturnType<typeof fakeTsm>;
    let sent: string[];
    const measurement = Buffer.alloc(48, 0x6d);

    beforeAll(async () => {
        sim = generateSnpTestChain();
        f = await deployRegistry({ allowSimulatedAttestation: false });
        operator = await f.blockchain.treasury('operator', { balance: toNano('100000') });
        staking = f.blockchain.openContract(await ExtendedStaking.fromInit(f.registry.address));
        await staking.sendDeploy(f.owner.getSender());
        const verifier = f.blockchain.openContract(await ExtendedAttestationVerifier.fromInit(f.registry.address));
        await verifier.sendDeploy(f.owner.getSender(), toNano('1'));
        await passProposal(f, () => f.registry.sendProposeImage(f.owner.getSender(), snpImageHashOf({ measurement })));
        await passProposal(f, () => f.registry.sendProposeModel(f.owner.getSender(), MODEL, 'tiny-model'));
        await passProposal(f, () => f.registry.sendProposeAttestationPolicy(f.owner.getSender(), noAttestationPolicy(snpPolicy([amdRsaKeyId(sim.ark.publicKey)], sim.tcb))));
        await linkContracts(f, { staking: staking.address, verifier: verifier.address });
        dir = mkdtempSync(join(tmpdir(), 'cocoon-snp-register-'));
        mkdirSync(join(dir, 'tsm'));
        writeFileSync(join(dir, 'vcek.der'), sim.vcek.der);
        writeFileSync(join(dir, 'cert_chain.pem'), derToPem(sim.ask.der) + derToPem(sim.ark.der));
        tsm = fakeTsm(join(dir, 'tsm'), (reportData) => snpTestReport(sim, { reportData, measurement }), 'sev_guest');
    });

    afterAll(async () => {
        await tsm.close();
        rmSync(dir, { recursive: true, force: true });
    });

    function options(stake: bigint): RegisterOptions {
        sent = [];
        const provider = new SevSnpProvider(join(dir, 'tsm'), join(dir, 'vcek.der'), join(dir, 'cert_chain.pem'), { timeoutMs: 10_000 });
        return registerOptions({ f, operator, staking, sent, stake, keyName: 'snp-worker', encryptionKey: Buffer.alloc(32, 0xe6), provider });
    }

    it('stakes, verifies the ASK, the VCEK and the report over their transactions, and the WorkerStake becomes active resting on the VCEK', async () => {
        const r = await register(options(f.params.minWorkerStake));
        expect(r.status).toBe('active');
        expect(r.evidence.provider).toBe('sev-snp');
        const ws = f.blockchain.openContract(ExtendedWorkerStake.fromAddress(r.workerStake));
        const att = (await ws.getAttestation())!;
        expect(att.imageHash).toBe(snpImageHashOf({ measurement }));
        expect(att.encryptionKey).toBe(keyToInt(Buffer.alloc(32, 0xe6)));
        expect(await new Discovery(sandboxOpener(f.blockchain), staking.address).evidenceTee(att.evidenceKeyId)).toBe('amd-sev-snp');
        // The stake, then every step: both certificates and the report.
        const ask = amdCertificateSteps(parseAmdCertificate(sim.ask.der), sim.ark.publicKey).messages.length;
        const vcek = amdCertificateSteps(parseAmdCertificate(sim.vcek.der), sim.ask.publicKey).messages.length;
        expect(sent).toHaveLength(1 + ask + vcek + 1 + SNP_P384_WINDOWS_PER_STEP.length);
    });

    it('re-attests with the report alone (the AMD keys are cached); a revoked VCEK ends the attestation and unlists the worker', async () => {
        f.blockchain.now = (f.blockchain.now ?? Math.floor(Date.now() / 1000)) + 60;
        const r = await register(options(f.params.minWorkerStake + toNano('5')));
        expect(r.status).toBe('active');
        expect(sent).toHaveLength(1 + 1 + SNP_P384_WINDOWS_PER_STEP.length);
        const worker = f.blockchain.openContract(ExtendedWorkerStake.fromAddress(r.workerStake));
        const owner = new SandboxNetworkProvider(f.blockchain, f.owner);
        const anyone = new SandboxNetworkProvider(f.blockchain, operator);
        await revokeAttestationKey(owner, [f.registry.address.toString(), hex256(vcekKeyId(sim.vcek.publicKey))]);
        expect(await endRevokedAttestations(anyone, [staking.address.toString(), hex256(MODEL)])).toBe(1);
        expect(Number(await worker.getStatus())).toBe(WorkerStatus.Pending);
        expect(await staking.getAllActiveWorkers(MODEL)).toHaveLength(0);
    });
});
