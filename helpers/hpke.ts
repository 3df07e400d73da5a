import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, timingSafeEqual } from 'node:crypto';
import { generateX25519, setupBaseR, setupBaseS } from './hpkeNative';

/**
 * End-to-end encryption between a Cocoon client and a worker's attested
 * X25519 key (HPKE, RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256) /
 * HKDF-SHA256 / AES-128-GCM; on Node's native crypto, helpers/hpkeNative.ts).
 * Shared by worker/ and client/.
 *
 * The client seals the request body to the worker's key. The worker answers
 * in frames sealed with a key exported from the same HPKE context, so only
 * the client that sent the request can read the answer, and the answer cannot
 * be spliced into another request's stream. Every frame's AEAD nonce is the
 * frame's sequence number XOR a base nonce, and its header (kind, sequence)
 * is authenticated: a reordered, replayed or dropped frame fails to decrypt,
 * and a stream cut before its final frame is detected by `finish()`.
 *
 * ## Wire format (version 1; all integers big-endian)
 *
 * Request envelope (binary, the HTTP body):
 *
 *     offset size
 *     0      1    version = 0x01
 *     1      1    kind    = 0x01 (request)
 *     2      8    key id  = SHA-256(worker X25519 public key)[0..8]
 *     10     32   enc     (the client's ephemeral X25519 public key)
 *     42     ...  HPKE ciphertext (plaintext + 16-byte tag), AAD = bytes 0..10
 *
 * Response frame (binary; over SSE each frame is one `data:` line in base64):
 *
 *     0      1    version = 0x01
 *     1      1    kind    = 0x02 (data) | 0x03 (final)
 *     2      4    seq     (0, 1, 2, ... per response)
 *     6      ...  AES-128-GCM ciphertext + 16-byte tag, AAD = bytes 0..6,
 *                 key/nonce from HPKE export(EXPORT_LABEL, 28): key = [0..16),
 *                 base nonce = [16..28), nonce = base XOR seq (right-aligned)
 *
 * A non-streaming response is a single final frame; a stream is any number
 * of data frames and then exactly one final frame (typically the receipt).
 */

export const HPKE_WIRE_VERSION = 0x01;
export const KIND_REQUEST = 0x01;
export const KIND_DATA = 0x02;
export const KIND_FINAL = 0x03;
export const KEY_ID_BYTES = 8;
export const ENC_BYTES = 32;
export const TAG_BYTES = 16;
export const REQUEST_HEADER_BYTES = 2 + KEY_ID_BYTES;
export const FRAME_HEADER_BYTES = 6;
/** HPKE `info`: binds the context to this protocol and version. */
export const HPKE_INFO = Buffer.from('cocoon/hpke/v1 request', 'utf8');
/** Exporter context for the response channel's key and base nonce. */
export const EXPORT_LABEL = Buffer.from('cocoon/hpke/v1 response', 'utf8');
/** AES-GCM with 96-bit nonces; this bounds one response, far above any real stream. */
const MAX_FRAMES = 0xffffffff;

export type HpkeErrorCode = 'malformed' | 'version' | 'wrong-key' | 'decrypt' | 'order' | 'truncated' | 'after-final';

export class EnvelopeError extends Error {
    constructor(
        readonly code: HpkeErrorCode,
        message: string,
    ) {
        super(message);
        this.name = 'EnvelopeError';
    }
}

export interface X25519KeyPair {
    publicKey: Buffer; // 32 bytes
    privateKey: Buffer; // 32 bytes; keep it in the TEE / a 0600 file
}

export async function generateKeyPair(): Promise<X25519KeyPair> {
    return generateX25519();
}

/** Public key of a raw X25519 private key (to check a stored key pair). */
export function publicKeyOf(privateKey: Buffer): Buffer {
    if (privateKey.length !== 32) throw new EnvelopeError('malformed', 'an X25519 private key is 32 bytes');
    // PKCS#8 wrapping of a raw X25519 scalar (RFC 8410).
    const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), privateKey]);
    const jwk = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
    return Buffer.from(jwk.x as string, 'base64url');
}

export function keyId(publicKey: Buffer): Buffer {
    if (publicKey.length !== 32) throw new EnvelopeError('malformed', 'an X25519 public key is 32 bytes');
    return createHash('sha256').update(publicKey).digest().subarray(0, KEY_ID_BYTES);
}

/** The response channel's AEAD keys, derived from the request's HPKE context. */
interface ChannelKeys {
    key: Buffer;
    baseNonce: Buffer;
}

function channelKeys(ctx: { export(exporterContext: Buffer, length: number): Buffer }): ChannelKeys {
    const secret = ctx.export(EXPORT_LABEL, 28);
    return { key: secret.subarray(0, 16), baseNonce: secret.subarray(16, 28) };
}

function frameNonce(baseNonce: Buffer, seq: number): Buffer {
    const nonce = Buffer.from(baseNonce);
    // seq < 2^32 occupies the last four bytes; XOR them in.
    const tail = nonce.readUInt32BE(8) ^ seq;
    nonce.writeUInt32BE(tail >>> 0, 8);
    return nonce;
}

export interface SealedRequest {
    /** The request envelope (binary) to send to the worker. */
    envelope: Buffer;
    /** Opens the worker's response frames, in order. */
    response: ResponseOpener;
}

/**
 * Client side: seal `plaintext` (the request JSON) to the worker's attested
 * X25519 public key. `ephemeralSeed` is for test vectors only.
 */
export async function sealRequest(workerPublicKey: Buffer, plaintext: Buffer, ephemeralSeed?: Buffer): Promise<SealedRequest> {
    const kid = keyId(workerPublicKey);
    const header = Buffer.alloc(REQUEST_HEADER_BYTES);
    header[0] = HPKE_WIRE_VERSION;
    header[1] = KIND_REQUEST;
    kid.copy(header, 2);
    // Native HPKE (helpers/hpkeNative.ts): the worker's key is imported once and cached.
    const { enc, ctx } = setupBaseS(workerPublicKey, HPKE_INFO, ephemeralSeed);
    const ct = ctx.seal(plaintext, header);
    const envelope = Buffer.concat([header, enc, ct]);
    return { envelope, response: new ResponseOpener(channelKeys(ctx)) };
}

export interface OpenedRequest {
    plaintext: Buffer;
    /** Seals this request's response frames, in order. */
    response: ResponseSealer;
}

/** Parses a request envelope's header without decrypting (to route or refuse early). */
export function parseRequestHeader(envelope: Buffer): { version: number; keyId: Buffer } {
    if (envelope.length < REQUEST_HEADER_BYTES + ENC_BYTES + TAG_BYTES) throw new EnvelopeError('malformed', 'request envelope too short');
    if (envelope[0] !== HPKE_WIRE_VERSION) throw new EnvelopeError('version', `unsupported envelope version ${envelope[0]}`);
    if (envelope[1] !== KIND_REQUEST) throw new EnvelopeError('malformed', 'not a request envelope');
    return { version: envelope[0], keyId: envelope.subarray(2, REQUEST_HEADER_BYTES) };
}

/**
 * Worker side: open a request envelope with the worker's X25519 key pair.
 * Throws EnvelopeError('wrong-key') when it was sealed to another key (for
 * example the worker's previous, rotated key) and 'decrypt' when tampered.
 */
export async function openRequest(envelope: Buffer, worker: X25519KeyPair): Promise<OpenedRequest> {
    const { keyId: kid } = parseRequestHeader(envelope);
    if (!timingSafeEqual(kid, keyId(worker.publicKey))) throw new EnvelopeError('wrong-key', 'request is sealed to a different worker key');
    const header = envelope.subarray(0, REQUEST_HEADER_BYTES);
    const enc = envelope.subarray(REQUEST_HEADER_BYTES, REQUEST_HEADER_BYTES + ENC_BYTES);
    const ct = envelope.subarray(REQUEST_HEADER_BYTES + ENC_BYTES);
    let plaintext: Buffer;
    let ctx;
    try {
        ctx = setupBaseR(Buffer.from(enc), worker.privateKey, worker.publicKey, HPKE_INFO);
        plaintext = ctx.open(Buffer.from(ct), Buffer.from(header));
    } catch {
        throw new EnvelopeError('decrypt', 'request envelope does not decrypt (tampered or wrong key)');
    }
    return { plaintext, response: new ResponseSealer(channelKeys(ctx)) };
}

/** Worker side of the response channel. Not reusable after `final`. */
export class ResponseSealer {
    private seq = 0;
    private closed = false;
    constructor(private readonly keys: ChannelKeys) {}

    /** A data frame (a streamed chunk). */
    data(plaintext: Buffer): Buffer {
        return this.frame(KIND_DATA, plaintext);
    }

    /** The last frame of the response (whole body, or the receipt that ends a stream). */
    final(plaintext: Buffer): Buffer {
        const f = this.frame(KIND_FINAL, plaintext);
        this.closed = true;
        return f;
    }

    get framesSealed(): number {
        return this.seq;
    }

    private frame(kind: number, plaintext: Buffer): Buffer {
        if (this.closed) throw new EnvelopeError('after-final', 'response already finished');
        if (this.seq >= MAX_FRAMES) throw new EnvelopeError('order', 'too many frames in one response');
        const header = Buffer.alloc(FRAME_HEADER_BYTES);
        header[0] = HPKE_WIRE_VERSION;
        header[1] = kind;
        header.writeUInt32BE(this.seq, 2);
        const cipher = createCipheriv('aes-128-gcm', this.keys.key, frameNonce(this.keys.baseNonce, this.seq), { authTagLength: TAG_BYTES });
        cipher.setAAD(header);
        const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
        this.seq++;
        return Buffer.concat([header, body]);
    }
}

export interface OpenedFrame {
    final: boolean;
    plaintext: Buffer;
}

/** Client side of the response channel: accepts frames only in order, exactly once. */
export class ResponseOpener {
    private expected = 0;
    private done = false;
    constructor(private readonly keys: ChannelKeys) {}

    open(frame: Buffer): OpenedFrame {
        if (this.done) throw new EnvelopeError('after-final', 'frame after the final frame');
        if (frame.length < FRAME_HEADER_BYTES + TAG_BYTES) throw new EnvelopeError('malformed', 'response frame too short');
        if (frame[0] !== HPKE_WIRE_VERSION) throw new EnvelopeError('version', `unsupported frame version ${frame[0]}`);
        const kind = frame[1];
        if (kind !== KIND_DATA && kind !== KIND_FINAL) throw new EnvelopeError('malformed', `unknown frame kind ${kind}`);
        const seq = frame.readUInt32BE(2);
        // The clear-text seq only makes the error precise; the nonce is derived
        // from the expected counter, so a lying header fails authentication anyway.
        if (seq !== this.expected) throw new EnvelopeError('order', seq < this.expected ? `frame ${seq} replayed (expected ${this.expected})` : `frames ${this.expected}..${seq - 1} missing`);
        const header = frame.subarray(0, FRAME_HEADER_BYTES);
        const body = frame.subarray(FRAME_HEADER_BYTES, frame.length - TAG_BYTES);
        const tag = frame.subarray(frame.length - TAG_BYTES);
        const decipher = createDecipheriv('aes-128-gcm', this.keys.key, frameNonce(this.keys.baseNonce, this.expected), { authTagLength: TAG_BYTES });
        decipher.setAAD(header);
        decipher.setAuthTag(tag);
        let plaintext: Buffer;
        try {
            plaintext = Buffer.concat([decipher.update(body), decipher.final()]);
        } catch {
            throw new EnvelopeError('decrypt', `response frame ${seq} does not authenticate`);
        }
        this.expected++;
        if (kind === KIND_FINAL) this.done = true;
        return { final: kind === KIND_FINAL, plaintext };
    }

    /** Call when the transport ends: throws unless the final frame arrived. */
    finish(): void {
        if (!this.done) throw new EnvelopeError('truncated', `response ended after ${this.expected} frames without its final frame`);
    }

    get complete(): boolean {
        return this.done;
    }
}

/** A frame as one SSE `data:` payload. */
export function frameToText(frame: Buffer): string {
    return frame.toString('base64');
}

export function frameFromText(text: string): Buffer {
    const t = text.trim();
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t)) throw new EnvelopeError('malformed', 'frame is not base64');
    return Buffer.from(t, 'base64');
}

/** Media type of a request envelope / non-streaming response frame body. */
export const ENVELOPE_MEDIA_TYPE = 'application/vnd.cocoon.hpke.v1';
