import { ENC_BYTES, EnvelopeError, FRAME_HEADER_BYTES, REQUEST_HEADER_BYTES, TAG_BYTES, frameFromText, frameToText, generateKeyPair, openRequest, publicKeyOf, sealRequest } from '../../helpers/hpke';
import { Aes128Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';

const hex = (s: string) => Buffer.from(s, 'hex');
const ab = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** RFC 9180 Appendix A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode. */
const A11 = {
    info: hex('4f6465206f6e2061204772656369616e2055726e'),
    ikmE: hex('7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234'),
    pkEm: hex('37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431'),
    skRm: hex('4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8'),
    pkRm: hex('3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d'),
    pt: hex('4265617574792069732074727574682c20747275746820626561757479'),
    encryptions: [
        { aad: '436f756e742d30', ct: 'f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a' },
        { aad: '436f756e742d31', ct: 'af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84' },
        { aad: '436f756e742d32', ct: '498dfcabd92e8acedc281e85af1cb4e3e31c7dc394a1ca20e173cb72516491588d96a19ad4a683518973dcc180' },
    ],
    exports: [
        { ctx: '', value: '3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee' },
        { ctx: '00', value: '2e8f0b54673c7029649d4eb9d5e33bf1872cf76d623ff164ac185da9e88c21a5' },
        { ctx: '54657374436f6e74657874', value: 'e9e43065102c3836401bed8c3c3c75ae46be1639869391d62c61f1ec7af54931' },
    ],
};

describe('RFC 9180 test vectors (the HPKE library this module uses)', () => {
    const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes128Gcm() });

    it('A.1.1: sender with the vector ephemeral key reproduces enc, ciphertexts and exports', async () => {
        const ctx = await suite.createSenderContext({
            recipientPublicKey: await suite.kem.deserializePublicKey(ab(A11.pkRm)),
            info: ab(A11.info),
            ekm: ab(A11.ikmE),
        });
        expect(Buffer.from(ctx.enc).toString('hex')).toBe(A11.pkEm.toString('hex'));
        for (const e of A11.encryptions) expect(Buffer.from(await ctx.seal(ab(A11.pt), ab(hex(e.aad)))).toString('hex')).toBe(e.ct);
        for (const x of A11.exports) expect(Buffer.from(await ctx.export(ab(hex(x.ctx)), 32)).toString('hex')).toBe(x.value);
    });

    it('A.1.1: recipient with skRm opens the vector ciphertexts', async () => {
        const ctx = await suite.createRecipientContext({
            recipientKey: await suite.kem.deserializePrivateKey(ab(A11.skRm)),
            enc: ab(A11.pkEm),
            info: ab(A11.info),
        });
        for (const e of A11.encryptions) expect(Buffer.from(await ctx.open(ab(hex(e.ct)), ab(hex(e.aad))))).toEqual(A11.pt);
        expect(publicKeyOf(A11.skRm)).toEqual(A11.pkRm);
    });

    it('the envelope carries the RFC sender key schedule (vector ephemeral key -> vector enc)', async () => {
        const { envelope } = await sealRequest(A11.pkRm, A11.pt, A11.ikmE);
        expect(envelope.subarray(REQUEST_HEADER_BYTES, REQUEST_HEADER_BYTES + ENC_BYTES)).toEqual(A11.pkEm);
        const opened = await openRequest(envelope, { publicKey: A11.pkRm, privateKey: A11.skRm });
        expect(opened.plaintext).toEqual(A11.pt);
    });
});

describe('Cocoon envelope', () => {
    it('round-trips a request and a streamed response', async () => {
        const worker = await generateKeyPair();
        expect(publicKeyOf(worker.privateKey)).toEqual(worker.publicKey);
        const body = Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'secret prompt' }] }));
        const { envelope, response } = await sealRequest(worker.publicKey, body);
        expect(envelope.length).toBe(REQUEST_HEADER_BYTES + ENC_BYTES + body.length + TAG_BYTES);
        expect(envelope.includes(Buffer.from('secret prompt'))).toBe(false);

        const opened = await openRequest(envelope, worker);
        expect(opened.plaintext).toEqual(body);
        const chunks = ['Hel', 'lo', '', ' world'].map((c) => opened.response.data(Buffer.from(c)));
        const receipt = opened.response.final(Buffer.from('{"receipt":1}'));
        for (const c of chunks) expect(c.length).toBeLessThanOrEqual(FRAME_HEADER_BYTES + 6 + TAG_BYTES);

        let text = '';
        for (const c of chunks) {
            const f = response.open(frameFromText(frameToText(c)));
            expect(f.final).toBe(false);
            text += f.plaintext.toString();
        }
        expect(text).toBe('Hello world');
        expect(response.complete).toBe(false);
        const last = response.open(receipt);
        expect(last).toEqual({ final: true, plaintext: Buffer.from('{"receipt":1}') });
        expect(() => response.finish()).not.toThrow();
        expect(() => opened.response.data(Buffer.from('x'))).toThrow(EnvelopeError);
    });

    it('rejects a tampered request (every byte region) and a request to another key', async () => {
        const worker = await generateKeyPair();
        const other = await generateKeyPair();
        const { envelope } = await sealRequest(worker.publicKey, Buffer.from('hello'));
        for (const i of [1, 5, REQUEST_HEADER_BYTES + 3, envelope.length - 20, envelope.length - 1]) {
            const t = Buffer.from(envelope);
            t[i] ^= 0x01;
            const err = await openRequest(t, worker).catch((e) => e);
            expect(err).toBeInstanceOf(EnvelopeError);
            expect(['decrypt', 'wrong-key', 'malformed']).toContain(err.code);
        }
        await expect(openRequest(envelope, other)).rejects.toMatchObject({ code: 'wrong-key' });
        // Even with the key id forged to match, the other key cannot decrypt.
        const forged = Buffer.from(envelope);
        const { keyId } = await import('../../helpers/hpke');
        keyId(other.publicKey).copy(forged, 2);
        await expect(openRequest(forged, other)).rejects.toMatchObject({ code: 'decrypt' });
        const v2 = Buffer.from(envelope);
        v2[0] = 2;
        await expect(openRequest(v2, worker)).rejects.toMatchObject({ code: 'version' });
        await expect(openRequest(envelope.subarray(0, 40), worker)).rejects.toMatchObject({ code: 'malformed' });
    });

    async function stream(n: number) {
        const worker = await generateKeyPair();
        const { envelope, response } = await sealRequest(worker.publicKey, Buffer.from('q'));
        const { response: sealer } = await openRequest(envelope, worker);
        const frames = Array.from({ length: n }, (_, i) => sealer.data(Buffer.from(`chunk ${i}`)));
        frames.push(sealer.final(Buffer.from('end')));
        return { frames, response };
    }

    it('detects a reordered chunk', async () => {
        const { frames, response } = await stream(3);
        response.open(frames[0]);
        expect(() => response.open(frames[2])).toThrow(expect.objectContaining({ code: 'order' }));
    });

    it('detects a replayed chunk', async () => {
        const { frames, response } = await stream(3);
        response.open(frames[0]);
        response.open(frames[1]);
        expect(() => response.open(frames[1])).toThrow(expect.objectContaining({ code: 'order' }));
    });

    it('detects a dropped chunk even when the attacker rewrites the sequence header', async () => {
        const { frames, response } = await stream(3);
        response.open(frames[0]);
        const relabelled = Buffer.from(frames[2]);
        relabelled.writeUInt32BE(1, 2); // claim to be frame 1
        expect(() => response.open(relabelled)).toThrow(expect.objectContaining({ code: 'decrypt' }));
    });

    it('detects a truncated stream, a data frame relabelled final, and frames after the end', async () => {
        const { frames, response } = await stream(2);
        response.open(frames[0]);
        expect(() => response.finish()).toThrow(expect.objectContaining({ code: 'truncated' }));
        const fakeFinal = Buffer.from(frames[1]);
        fakeFinal[1] = 0x03;
        expect(() => response.open(fakeFinal)).toThrow(expect.objectContaining({ code: 'decrypt' }));
        response.open(frames[1]);
        response.open(frames[2]);
        expect(() => response.open(frames[2])).toThrow(expect.objectContaining({ code: 'after-final' }));
    });

    it('does not accept a frame from another request on the same key', async () => {
        const worker = await generateKeyPair();
        const a = await sealRequest(worker.publicKey, Buffer.from('a'));
        const b = await sealRequest(worker.publicKey, Buffer.from('b'));
        const sa = (await openRequest(a.envelope, worker)).response;
        expect(() => b.response.open(sa.data(Buffer.from('for a')))).toThrow(expect.objectContaining({ code: 'decrypt' }));
        expect(() => frameFromText('not base64!')).toThrow(EnvelopeError);
    });

    it('seals and opens many frames in order, each the chunk plus a fixed overhead (speed: npm run bench)', async () => {
        const worker = await generateKeyPair();
        const { envelope, response } = await sealRequest(worker.publicKey, Buffer.from('q'));
        const sealer = (await openRequest(envelope, worker)).response;
        const chunk = Buffer.from('{"choices":[{"delta":{"content":" word"}}]}');
        const sealed = Array.from({ length: 2000 }, () => sealer.data(chunk));
        for (const f of sealed) {
            expect(f.length).toBe(chunk.length + FRAME_HEADER_BYTES + TAG_BYTES);
            expect(response.open(f).plaintext.equals(chunk)).toBe(true);
        }
    });
});
