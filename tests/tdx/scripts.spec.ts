import { AMD_ARK_IDS, snpPolicy, snpPolicyOf } from '../../wrappers/snp/amd';
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import '@ton/test-utils';
import { SandboxNetworkProvider } from '../../scripts/lib/sandboxProvider';
import { hex256 } from '../../helpers/bytes';
import { run as setAttestationPolicy, applyPolicyOverrides } from '../../scripts/setAttestationPolicy';
import { run as attestWorker } from '../../scripts/attestWorker';
import { run as executeProposal } from '../../scripts/executeProposal';
import { ExtendedAttestationVerifier } from '../../wrappers/AttestationVerifier';
import {
    AttestationClaims,
    INTEL_SGX_ROOT_CA_KEY,
    INTEL_TD_QE_IDENTITY,
    INTEL_TD_QE_MRSIGNER,
    TEST_QE_MRSIGNER,
    TEST_QE_PRODID,
    TEST_QE_SVN,
    TestCa,
    buildTestQuote,
    claimsReportData,
    createTestCa,
    imageHashOf,
    parseQuote,
} from '../../wrappers/tdx';
import { VerifierFixture, deployVerifier, intelRootKey, loadIntelFixture, noAttestationPolicy, u256 } from '../helpers/attestation';

const MODEL = 0x2222222222222222222222222222222222222222222222222222222222222222n;

describe('Intel identity constants', () => {
    it('are those of the real quote', () => {
        const { quote } = loadIntelFixture();
        expect(INTEL_SGX_ROOT_CA_KEY).toEqual(intelRootKey());
        expect(INTEL_TD_QE_MRSIGNER).toBe(u256(quote.qe.mrSigner));
    });
});

describe('attestation scripts', () => {
    let ca: TestCa;
    let f: VerifierFixture;
    let image: bigint;
    let dir: string;

    beforeEach(async () => {
        ca = createTestCa();
        image = imageHashOf(parseQuote(buildTestQuote(ca, { reportData: Buffer.alloc(64) })).body);
        f = await deployVerifier({
            policy: {
                rootKeyX: ca.root.publicKey.x,
                rootKeyY: ca.root.publicKey.y,
                qeMrSigner: u256(TEST_QE_MRSIGNER),
                qeIsvProdId: BigInt(TEST_QE_PRODID),
                qeMinIsvSvn: BigInt(TEST_QE_SVN),
                ...INTEL_TD_QE_IDENTITY,
                simulatedKey: 0n,
                ...snpPolicy(),
            },
            images: [image],
            models: [MODEL],
        });
        dir = mkdtempSync(path.join(tmpdir(), 'attest-'));
    });

    function files(claims: AttestationClaims, name: string): [string, string] {
        const quoteFile = path.join(dir, `${name}.bin`);
        const claimsFile = path.join(dir, `${name}.json`);
        writeFileSync(quoteFile, buildTestQuote(ca, { reportData: claimsReportData(claims) }));
        writeFileSync(
            claimsFile,
            JSON.stringify({
                workerStake: claims.workerStake.toString(),
                workerKey: hex256(claims.workerKey),
                encryptionKey: hex256(claims.encryptionKey),
                modelId: hex256(claims.modelId),
                notAfter: String(claims.notAfter),
            }),
        );
        return [quoteFile, claimsFile];
    }

    it('attestWorker sends the whole chain once, then only the quote', async () => {
        const ws = await f.blockchain.treasury('ws');
        const provider = new SandboxNetworkProvider(f.blockchain, f.submitter);
        const claims = { workerStake: ws.address, workerKey: 0x11n, encryptionKey: 0x22n, modelId: MODEL, notAfter: BigInt(f.blockchain.now! + 86400) };
        const first = await attestWorker(provider, [f.verifier.address.toString(), ...files(claims, 'a')]);
        expect(first.sent).toEqual(['Test SGX PCK Platform CA', 'Test SGX PCK Certificate', 'QE report', 'quote']);
        expect(first.imageHash).toBe(image);
        const last = provider.results[provider.results.length - 1];
        expect(last.transactions).toHaveTransaction({ from: f.verifier.address, to: ws.address, op: ExtendedAttestationVerifier.opcodes.AttestationRecorded });

        const again = await attestWorker(provider, [f.verifier.address.toString(), ...files({ ...claims, workerKey: 0x33n }, 'b')]);
        expect(again.skipped).toEqual(['Test SGX PCK Platform CA', 'Test SGX PCK Certificate', 'QE report']);
        expect(again.sent).toEqual(['quote']);
        const l2 = provider.results[provider.results.length - 1];
        expect(l2.transactions).toHaveTransaction({ from: f.verifier.address, to: ws.address, op: ExtendedAttestationVerifier.opcodes.AttestationRecorded });
    });

    it('attestWorker refuses, before sending anything, claims the quote was not made for, a disallowed image or a foreign root', async () => {
        const ws = await f.blockchain.treasury('ws');
        const provider = new SandboxNetworkProvider(f.blockchain, f.submitter);
        const claims = { workerStake: ws.address, workerKey: 0x11n, encryptionKey: 0x22n, modelId: MODEL, notAfter: BigInt(f.blockchain.now! + 86400) };
        const [quoteFile] = files(claims, 'a');
        const [, otherClaims] = files({ ...claims, workerKey: 0x99n }, 'b');
        await expect(attestWorker(provider, [f.verifier.address.toString(), quoteFile, otherClaims])).rejects.toThrow(/REPORTDATA/);
        const foreign = path.join(dir, 'foreign.bin');
        const [, claimsFile] = files(claims, 'c');
        writeFileSync(foreign, buildTestQuote(createTestCa(), { reportData: claimsReportData(claims) }));
        await expect(attestWorker(provider, [f.verifier.address.toString(), foreign, claimsFile])).rejects.toThrow(/not the root/);
        const otherImage = path.join(dir, 'image.bin');
        writeFileSync(otherImage, buildTestQuote(ca, { reportData: claimsReportData(claims), mrTd: Buffer.alloc(48, 0x99) }));
        await expect(attestWorker(provider, [f.verifier.address.toString(), otherImage, claimsFile])).rejects.toThrow(/not allowed/);
        expect(provider.results).toHaveLength(0);
    });

    it('setAttestationPolicy queues the change behind the timelock and the verifier receives it', async () => {
        const owner = new SandboxNetworkProvider(f.blockchain, f.owner);
        const id = await setAttestationPolicy(owner, [f.registry.address.toString(), 'intel', 'qeMinIsvSvn=6']);
        const proposal = (await f.registry.getProposal(id))!;
        f.blockchain.now = Number(proposal.executeAfter);
        await executeProposal(owner, [f.registry.address.toString(), String(id)]);
        const policy = (await f.verifier.getAttestationPolicy())!;
        expect(policy.rootKeyX).toBe(INTEL_SGX_ROOT_CA_KEY.x);
        expect(policy.qeMrSigner).toBe(INTEL_TD_QE_MRSIGNER);
        expect(policy.qeMinIsvSvn).toBe(6n);
        expect(await f.verifier.getRootKeyId()).not.toBe(0n);
    });

    it('setAttestationPolicy refuses strangers, unknown fields and no-op changes', async () => {
        const stranger = new SandboxNetworkProvider(f.blockchain, f.stranger);
        await expect(setAttestationPolicy(stranger, [f.registry.address.toString(), 'intel'])).rejects.toThrow(/not the Registry owner/);
        const owner = new SandboxNetworkProvider(f.blockchain, f.owner);
        await expect(setAttestationPolicy(owner, [f.registry.address.toString(), 'colour=blue'])).rejects.toThrow(/unknown policy field/);
        await expect(setAttestationPolicy(owner, [f.registry.address.toString(), `qeIsvProdId=${TEST_QE_PRODID}`])).rejects.toThrow(/nothing to propose/);
        const zero = noAttestationPolicy();
        expect(() => applyPolicyOverrides(zero, ['rootKey=12'])).toThrow(/128 hex/);
        expect(applyPolicyOverrides(noAttestationPolicy({ simulatedKey: 5n }), ['simulatedKey=none']).simulatedKey).toBe(0n);
        // SEV-SNP: AMD's roots pinned by the preset, one more by id, all of them dropped; the TCB minimums as four numbers.
        const amd = applyPolicyOverrides(zero, ['amd', `snpArk=${'ab'.repeat(32)}`, 'snpMinTcb=3,0,8,115', `snpMinTcb=${AMD_ARK_IDS.Genoa.toString(16)}:4,0,22,84`]);
        const snp = snpPolicyOf(amd)!;
        expect([...snp.keys()].sort()).toEqual([...Object.values(AMD_ARK_IDS), BigInt('0x' + 'ab'.repeat(32))].sort());
        // One floor for every root, then Genoa's own: security versions are counted per generation.
        expect(snp.get(AMD_ARK_IDS.Milan)).toEqual({ bootloader: 3, tee: 0, snp: 8, microcode: 115 });
        expect(snp.get(AMD_ARK_IDS.Genoa)).toEqual({ bootloader: 4, tee: 0, snp: 22, microcode: 84 });
        expect(() => applyPolicyOverrides(amd, [`snpMinTcb=${'cd'.repeat(32)}:1,2,3,4`])).toThrow(/not a pinned SEV-SNP root/);
        expect(applyPolicyOverrides(amd, ['snpArks=none']).snp).toBeNull();
        // Turin's reports put the FMC's version first: its floor has five parts, and four-part floors leave it alone.
        expect(snp.get(AMD_ARK_IDS.Turin)).toEqual({ fmc: 0, bootloader: 0, tee: 0, snp: 0, microcode: 0 });
        const turin = snpPolicyOf(applyPolicyOverrides(amd, ['snpMinTcb=1,3,4,5,70']))!;
        expect(turin.get(AMD_ARK_IDS.Turin)).toEqual({ fmc: 1, bootloader: 3, tee: 4, snp: 5, microcode: 70 });
        expect(turin.get(AMD_ARK_IDS.Milan)).toEqual({ bootloader: 3, tee: 0, snp: 8, microcode: 115 });
        expect(() => applyPolicyOverrides(amd, [`snpMinTcb=${AMD_ARK_IDS.Turin.toString(16)}:3,0,8,115`])).toThrow(/Turin root: its minimum has five parts/);
        expect(() => applyPolicyOverrides(amd, [`snpMinTcb=${AMD_ARK_IDS.Milan.toString(16)}:1,3,0,8,115`])).toThrow(/Milan or Genoa root: its minimum has four parts/);
        expect(() => applyPolicyOverrides(amd, ['snpMinTcb=1,2,3'])).toThrow(/four numbers/);
        expect(() => applyPolicyOverrides(amd, ['snpMinTcb=1,2,3,256'])).toThrow();
        expect(() => applyPolicyOverrides(zero, ['snpMinTcb=1,2,3,4'])).toThrow(/root pinned first/);
    });
});
