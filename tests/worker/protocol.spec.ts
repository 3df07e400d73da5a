import { createHash } from 'node:crypto';
import { Address, beginCell } from '@ton/core';
import { chatRequestSchema, decodeVoucher, describeIssues, encodeVoucher, modelIdOf, paidRequestSchema, responseDigest } from '../../protocol/paidRequest';
import { DEV_MODEL_ID } from '../../wrappers/devnet';
import { signVoucher, verifyVoucher, voucherCell } from '../../wrappers/voucher';
import { testKeys } from '../helpers/channel';

describe('paid-request protocol (protocol/paidRequest.ts)', () => {
    const channel = new Address(0, Buffer.alloc(32, 5));
    const client = testKeys('client');

    it('round-trips a signed voucher through its wire form', () => {
        const v = signVoucher(channel, 123_456_789n, client.secretKey);
        const back = decodeVoucher(encodeVoucher(v));
        expect(back.channel.equals(channel)).toBe(true);
        expect(back.total).toBe(123_456_789n);
        expect(verifyVoucher(back.channel, back.total, back.signature, client.publicKey)).toBe(true);
    });

    it('refuses malformed voucher cells', () => {
        expect(() => decodeVoucher('%%%')).toThrow(/base64 BOC|voucher/);
        const noRef = beginCell().storeBuffer(Buffer.alloc(64)).endCell().toBoc().toString('base64');
        expect(() => decodeVoucher(noRef)).toThrow(/one reference/);
        const trailing = beginCell()
            .storeBuffer(Buffer.alloc(64))
            .storeRef(beginCell().storeSlice(voucherCell(channel, 1n).beginParse()).storeUint(1, 1).endCell())
            .endCell()
            .toBoc()
            .toString('base64');
        expect(() => decodeVoucher(trailing)).toThrow(/trailing/);
    });

    it('validates OpenAI chat requests and describes failures without echoing values', () => {
        expect(chatRequestSchema.safeParse({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], max_tokens: 5, stream: true }).success).toBe(true);
        const bad = paidRequestSchema.safeParse({ version: 1, channel: 'x', request: { model: 'm', messages: [{ role: 'secret-role', content: 'secret text' }], temperature: 9 } });
        expect(bad.success).toBe(false);
        const msg = describeIssues(bad.error!);
        expect(msg).toContain('request.messages.0.role');
        expect(msg).toContain('request.temperature');
        expect(msg).not.toContain('secret');
        // Images and other non-text parts are refused.
        expect(chatRequestSchema.safeParse({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }).success).toBe(false);
        expect(chatRequestSchema.safeParse({ model: 'm', messages: [{ role: 'user', content: 'x' }], n: 2 }).success).toBe(false);
    });

    it('maps model names to on-chain ids: a GGUF hash is itself, a name is hashed', () => {
        const hash = createHash('sha256').update('weights').digest('hex');
        expect(modelIdOf(hash)).toBe(BigInt('0x' + hash));
        expect(modelIdOf('cocoon-demo')).toBe(DEV_MODEL_ID);
    });

    it('commits the response digest to reasoning and content separately', () => {
        expect(responseDigest('ab', '').equals(responseDigest('b', 'a'))).toBe(false);
        expect(responseDigest('x', 'y').equals(responseDigest('x', 'y'))).toBe(true);
    });
});
