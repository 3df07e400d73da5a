import { endianness } from 'node:os';
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';

/**
 * A tiny, valid GGUF model generated in code, for demos and tests (no weights
 * can be downloaded where this runs, and a real model would be gigabytes).
 *
 * It is a real `llama`-architecture transformer that llama.cpp loads and runs:
 * two layers of attention (grouped-query, RoPE) and SwiGLU feed-forward with
 * seeded random weights, a character-level SentencePiece vocabulary with byte
 * fallback, and a ChatML chat template.
 *
 * Random weights alone would emit random bytes (often invalid UTF-8). To make
 * the output readable, the embedding dimension is at least the vocabulary size
 * and token t embeds as the unit vector e_t; the blocks' output projections are
 * tiny, so after the final RMS norm the residual stream is ~sqrt(n_embd)*e_t,
 * and the output matrix is set so that its logits are a character bigram model
 * estimated from a short corpus. The network therefore computes everything a
 * llama does, but its next-token distribution is dominated by the bigram head:
 * it "writes" English-like gibberish and ends its answer with <|im_end|>.
 */

export interface DemoModelOptions {
    /** Seeds the random layer weights; the same seed gives the same file, byte for byte. */
    seed?: number;
    /** Transformer blocks (default 2). */
    layers?: number;
    /** Trained context length written into the metadata (default 2048). */
    contextLength?: number;
}

export interface DemoModelInfo {
    path: string;
    bytes: number;
    vocabSize: number;
    embeddingLength: number;
    layers: number;
}

// GGUF value types (ggml/include/gguf.h).
const GGUF_UINT32 = 4;
const GGUF_INT32 = 5;
const GGUF_FLOAT32 = 6;
const GGUF_BOOL = 7;
const GGUF_STRING = 8;
const GGUF_ARRAY = 9;
// ggml tensor types.
const GGML_F32 = 0;
const GGML_F16 = 1;
const ALIGNMENT = 32;

// Vocabulary layout (ids are positions in this list).
const SPECIALS = ['<unk>', '<s>', '</s>', '<|im_start|>', '<|im_end|>'];
const UNK = 0;
const BOS = 1;
const EOS_TOKEN = 2;
const IM_START = 3;
const IM_END = 4;
const BYTE_BASE = SPECIALS.length; // 256 byte-fallback tokens <0x00>..<0xFF>
const SPACE = BYTE_BASE + 256; // "▁", SentencePiece's word boundary
const CHAR_BASE = SPACE + 1; // printable ASCII 0x21..0x7E
const PRINTABLE_FIRST = 0x21;
const PRINTABLE_LAST = 0x7e;
const N_VOCAB = CHAR_BASE + (PRINTABLE_LAST - PRINTABLE_FIRST + 1);

// Token types (llama.cpp llama_token_type).
const TT_NORMAL = 1;
const TT_UNKNOWN = 2;
const TT_CONTROL = 3;
const TT_BYTE = 6;

const N_HEAD = 6;
const HEAD_DIM = 64;
const N_EMBD = N_HEAD * HEAD_DIM; // 384 >= N_VOCAB (356), so one-hot embeddings fit
const N_HEAD_KV = 1;
const N_FF = 128;

const CHATML_TEMPLATE =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

// The bigram head is estimated from this text. Any ASCII prose works.
const CORPUS = [
    'Cocoon is a market for private inference on the open network.',
    'A worker runs a model inside a trusted machine and proves what it runs.',
    'The client pays for each answer with a signed voucher, and the worker signs a receipt.',
    'Tokens are counted as they are made, so nobody pays for words that were never sent.',
    'The stake of a worker is at risk if it lies about its work.',
    'Keys stay inside the enclave, and the prompt is never written to disk.',
    'Small models are fast, and this one is very small indeed.',
    'Hello there! How can I help you today? I am a tiny demo model with no knowledge at all.',
].join(' ');

/** Probability that a sentence end ('.', '!' or '?') is followed by the end of the answer. */
const P_END_AFTER_SENTENCE = 0.35;

function charToken(ch: string): number {
    if (ch === ' ') return SPACE;
    const c = ch.charCodeAt(0);
    if (c >= PRINTABLE_FIRST && c <= PRINTABLE_LAST) return CHAR_BASE + c - PRINTABLE_FIRST;
    return UNK;
}

export function demoVocabulary(): { tokens: string[]; types: number[] } {
    const tokens: string[] = [...SPECIALS];
    const types: number[] = [TT_UNKNOWN, TT_CONTROL, TT_CONTROL, TT_CONTROL, TT_CONTROL];
    for (let b = 0; b < 256; b++) {
        tokens.push('<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>');
        types.push(TT_BYTE);
    }
    tokens.push('\u2581');
    types.push(TT_NORMAL);
    for (let c = PRINTABLE_FIRST; c <= PRINTABLE_LAST; c++) {
        tokens.push(String.fromCharCode(c));
        types.push(TT_NORMAL);
    }
    return { tokens, types };
}

/** Bigram log-probabilities L[prev][next] over the vocabulary. */
function bigramLogits(): Float64Array[] {
    const emittable: number[] = [SPACE];
    for (let t = CHAR_BASE; t < N_VOCAB; t++) emittable.push(t);
    const counts = new Map<number, Map<number, number>>();
    const bump = (a: number, b: number, by = 1) => {
        let row = counts.get(a);
        if (!row) counts.set(a, (row = new Map()));
        row.set(b, (row.get(b) ?? 0) + by);
    };
    const ids = [...CORPUS].map(charToken);
    for (let i = 0; i + 1 < ids.length; i++) bump(ids[i], ids[i + 1]);
    // How answers start: the first letters of the corpus's sentences.
    const starts = new Map<number, number>();
    for (const s of CORPUS.split(/(?<=[.!?]) /)) starts.set(charToken(s[0]), (starts.get(charToken(s[0])) ?? 0) + 1);

    const toLogits = (row: Map<number, number> | undefined, endProb: number): Float64Array => {
        const out = new Float64Array(N_VOCAB).fill(-30); // unreachable: specials, bytes
        const alpha = 0.01; // smoothing over every printable character
        let total = alpha * emittable.length;
        for (const v of row?.values() ?? []) total += v;
        for (const t of emittable) out[t] = Math.log(((row?.get(t) ?? 0) + alpha) / total) + Math.log(1 - endProb);
        if (endProb > 0) out[IM_END] = Math.log(endProb);
        return out;
    };
    const startRow = toLogits(starts, 0);
    const rows: Float64Array[] = [];
    for (let prev = 0; prev < N_VOCAB; prev++) {
        const isEnd = prev === charToken('.') || prev === charToken('!') || prev === charToken('?');
        rows.push(counts.has(prev) ? toLogits(counts.get(prev), isEnd ? P_END_AFTER_SENTENCE : 0) : startRow);
    }
    return rows;
}

/**
 * Deterministic PRNG (xorshift32) with approximately normal samples (sum of
 * four uniforms, rescaled to unit variance). Only bit operations and
 * arithmetic: under jest every Math.* call costs ~0.5 us, which made
 * generating the ~1M weights take seconds.
 */
function rng(seed: number) {
    let x = (seed ^ 0x9e3779b9) | 0 || 1;
    const uniform = () => {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return (x >>> 0) / 4294967296;
    };
    for (let i = 0; i < 8; i++) uniform(); // decorrelate nearby seeds
    const normal = () => (uniform() + uniform() + uniform() + uniform() - 2) * 1.7320508075688772;
    return { uniform, normal };
}

/** IEEE-754 binary16 from a JS number (round to nearest even). */
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

export function toHalf(value: number): number {
    const f32 = f32Scratch;
    const u32 = u32Scratch;
    f32[0] = value;
    const x = u32[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = ((x >>> 23) & 0xff) - 127 + 15;
    let mant = x & 0x7fffff;
    if (((x >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
    if (exp >= 0x1f) return sign | 0x7c00; // overflow -> inf
    if (exp <= 0) {
        if (exp < -10) return sign; // underflow -> signed zero
        mant |= 0x800000;
        const shift = 14 - exp;
        let half = mant >>> shift;
        const rem = mant & ((1 << shift) - 1);
        const mid = 1 << (shift - 1);
        if (rem > mid || (rem === mid && half & 1)) half++;
        return sign | half;
    }
    let half = sign | (exp << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // may carry into the exponent: correct
    return half;
}

interface Tensor {
    name: string;
    dims: number[]; // ggml order: dims[0] is the contiguous one
    type: typeof GGML_F32 | typeof GGML_F16;
    data: Float32Array;
}

/** Growable little-endian byte writer. */
class Writer {
    private buf = Buffer.alloc(1 << 16);
    length = 0;
    private ensure(n: number) {
        if (this.length + n <= this.buf.length) return;
        const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
        this.buf.copy(next, 0, 0, this.length);
        this.buf = next;
    }
    u32(v: number) {
        this.ensure(4);
        this.buf.writeUInt32LE(v, this.length);
        this.length += 4;
    }
    i32(v: number) {
        this.ensure(4);
        this.buf.writeInt32LE(v, this.length);
        this.length += 4;
    }
    u64(v: number) {
        this.ensure(8);
        this.buf.writeBigUInt64LE(BigInt(v), this.length);
        this.length += 8;
    }
    f32(v: number) {
        this.ensure(4);
        this.buf.writeFloatLE(v, this.length);
        this.length += 4;
    }
    u16(v: number) {
        this.ensure(2);
        this.buf.writeUInt16LE(v, this.length);
        this.length += 2;
    }
    u8(v: number) {
        this.ensure(1);
        this.buf[this.length++] = v;
    }
    /** A tensor's payload in one go (per-element calls made generation take seconds). */
    tensor(data: Float32Array, half: boolean) {
        const size = data.length * (half ? 2 : 4);
        this.ensure(size);
        if (half) for (let i = 0; i < data.length; i++) this.buf.writeUInt16LE(toHalf(data[i]), this.length + 2 * i);
        else Buffer.from(data.buffer, data.byteOffset, size).copy(this.buf, this.length); // host is little-endian (x64/arm64)
        this.length += size;
    }
    bytes(b: Buffer) {
        this.ensure(b.length);
        b.copy(this.buf, this.length);
        this.length += b.length;
    }
    str(s: string) {
        const b = Buffer.from(s, 'utf8');
        this.u64(b.length);
        this.bytes(b);
    }
    pad(alignment: number) {
        while (this.length % alignment) this.u8(0);
    }
    result(): Buffer {
        return this.buf.subarray(0, this.length);
    }
}

type Kv =
    | { key: string; type: 'u32'; value: number }
    | { key: string; type: 'f32'; value: number }
    | { key: string; type: 'bool'; value: boolean }
    | { key: string; type: 'str'; value: string }
    | { key: string; type: 'str[]'; value: string[] }
    | { key: string; type: 'f32[]'; value: number[] }
    | { key: string; type: 'i32[]'; value: number[] };

function writeKv(w: Writer, kv: Kv) {
    w.str(kv.key);
    switch (kv.type) {
        case 'u32':
            w.u32(GGUF_UINT32);
            w.u32(kv.value);
            break;
        case 'f32':
            w.u32(GGUF_FLOAT32);
            w.f32(kv.value);
            break;
        case 'bool':
            w.u32(GGUF_BOOL);
            w.u8(kv.value ? 1 : 0);
            break;
        case 'str':
            w.u32(GGUF_STRING);
            w.str(kv.value);
            break;
        case 'str[]':
            w.u32(GGUF_ARRAY);
            w.u32(GGUF_STRING);
            w.u64(kv.value.length);
            kv.value.forEach((s) => w.str(s));
            break;
        case 'f32[]':
            w.u32(GGUF_ARRAY);
            w.u32(GGUF_FLOAT32);
            w.u64(kv.value.length);
            kv.value.forEach((v) => w.f32(v));
            break;
        case 'i32[]':
            w.u32(GGUF_ARRAY);
            w.u32(GGUF_INT32);
            w.u64(kv.value.length);
            kv.value.forEach((v) => w.i32(v));
            break;
    }
}

/** Builds the whole GGUF file in memory (about 2.5 MB). */
export function buildDemoModel(options: DemoModelOptions = {}): Buffer {
    if (endianness() !== 'LE') throw new Error('the demo model writer assumes a little-endian host');
    const seed = options.seed ?? 1;
    const nLayer = options.layers ?? 2;
    const nCtx = options.contextLength ?? 2048;
    if (!Number.isInteger(nLayer) || nLayer < 1 || nLayer > 8) throw new Error('layers must be 1..8');
    const { normal } = rng(seed);
    const { tokens, types } = demoVocabulary();

    const tensors: Tensor[] = [];
    const random = (name: string, dims: number[], std: number) => {
        const data = new Float32Array(dims[0] * dims[1]);
        for (let i = 0; i < data.length; i++) data[i] = normal() * std;
        tensors.push({ name, dims, type: GGML_F16, data });
    };
    const ones = (name: string, n: number) => tensors.push({ name, dims: [n], type: GGML_F32, data: new Float32Array(n).fill(1) });

    const embd = new Float32Array(N_EMBD * N_VOCAB);
    for (let t = 0; t < N_VOCAB; t++) embd[t * N_EMBD + t] = 1;
    tensors.push({ name: 'token_embd.weight', dims: [N_EMBD, N_VOCAB], type: GGML_F16, data: embd });
    ones('output_norm.weight', N_EMBD);
    // After the final RMS norm the residual is ~sqrt(n_embd) * e_prev, so
    // logit[next] = sqrt(n_embd) * out[next][prev]: store L[prev][next] / sqrt(n_embd).
    const logits = bigramLogits();
    const out = new Float32Array(N_EMBD * N_VOCAB);
    const scale = 1 / Math.sqrt(N_EMBD);
    for (let next = 0; next < N_VOCAB; next++) for (let prev = 0; prev < N_VOCAB; prev++) out[next * N_EMBD + prev] = logits[prev][next] * scale;
    tensors.push({ name: 'output.weight', dims: [N_EMBD, N_VOCAB], type: GGML_F16, data: out });

    for (let l = 0; l < nLayer; l++) {
        const p = `blk.${l}.`;
        ones(p + 'attn_norm.weight', N_EMBD);
        random(p + 'attn_q.weight', [N_EMBD, N_EMBD], 0.02);
        random(p + 'attn_k.weight', [N_EMBD, N_HEAD_KV * HEAD_DIM], 0.02);
        random(p + 'attn_v.weight', [N_EMBD, N_HEAD_KV * HEAD_DIM], 0.02);
        // Output projections are tiny so the blocks perturb, not replace, the bigram signal.
        random(p + 'attn_output.weight', [N_EMBD, N_EMBD], 0.0002);
        ones(p + 'ffn_norm.weight', N_EMBD);
        random(p + 'ffn_gate.weight', [N_EMBD, N_FF], 0.02);
        random(p + 'ffn_up.weight', [N_EMBD, N_FF], 0.02);
        random(p + 'ffn_down.weight', [N_FF, N_EMBD], 0.0002);
    }

    const kvs: Kv[] = [
        { key: 'general.architecture', type: 'str', value: 'llama' },
        { key: 'general.name', type: 'str', value: `cocoon-demo-seed${seed}` },
        { key: 'general.description', type: 'str', value: 'Generated demo model: bigram head over a small llama (Cocoon worker tests).' },
        { key: 'general.alignment', type: 'u32', value: ALIGNMENT },
        { key: 'general.file_type', type: 'u32', value: 1 }, // mostly F16
        { key: 'llama.context_length', type: 'u32', value: nCtx },
        { key: 'llama.embedding_length', type: 'u32', value: N_EMBD },
        { key: 'llama.block_count', type: 'u32', value: nLayer },
        { key: 'llama.feed_forward_length', type: 'u32', value: N_FF },
        { key: 'llama.attention.head_count', type: 'u32', value: N_HEAD },
        { key: 'llama.attention.head_count_kv', type: 'u32', value: N_HEAD_KV },
        { key: 'llama.attention.layer_norm_rms_epsilon', type: 'f32', value: 1e-5 },
        { key: 'llama.rope.dimension_count', type: 'u32', value: HEAD_DIM },
        { key: 'llama.rope.freq_base', type: 'f32', value: 10000 },
        { key: 'llama.vocab_size', type: 'u32', value: N_VOCAB },
        { key: 'tokenizer.ggml.model', type: 'str', value: 'llama' },
        { key: 'tokenizer.ggml.tokens', type: 'str[]', value: tokens },
        { key: 'tokenizer.ggml.scores', type: 'f32[]', value: tokens.map(() => 0) },
        { key: 'tokenizer.ggml.token_type', type: 'i32[]', value: types },
        { key: 'tokenizer.ggml.bos_token_id', type: 'u32', value: BOS },
        // ChatML ends a turn with <|im_end|>; making it EOS stops generation there.
        { key: 'tokenizer.ggml.eos_token_id', type: 'u32', value: IM_END },
        { key: 'tokenizer.ggml.eot_token_id', type: 'u32', value: IM_END },
        { key: 'tokenizer.ggml.unknown_token_id', type: 'u32', value: UNK },
        { key: 'tokenizer.ggml.padding_token_id', type: 'u32', value: EOS_TOKEN },
        { key: 'tokenizer.ggml.add_bos_token', type: 'bool', value: true },
        { key: 'tokenizer.ggml.add_eos_token', type: 'bool', value: false },
        { key: 'tokenizer.chat_template', type: 'str', value: CHATML_TEMPLATE },
    ];
    void IM_START;

    const w = new Writer();
    w.bytes(Buffer.from('GGUF', 'ascii'));
    w.u32(3); // GGUF version
    w.u64(tensors.length);
    w.u64(kvs.length);
    kvs.forEach((kv) => writeKv(w, kv));
    let offset = 0;
    const offsets: number[] = [];
    for (const t of tensors) {
        w.str(t.name);
        w.u32(t.dims.length);
        t.dims.forEach((d) => w.u64(d));
        w.u32(t.type);
        w.u64(offset);
        offsets.push(offset);
        const size = t.data.length * (t.type === GGML_F16 ? 2 : 4);
        offset += Math.ceil(size / ALIGNMENT) * ALIGNMENT;
    }
    w.pad(ALIGNMENT);
    const dataStart = w.length;
    tensors.forEach((t, i) => {
        w.pad(ALIGNMENT);
        if (w.length - dataStart !== offsets[i]) throw new Error('GGUF layout bug: tensor offset mismatch');
        w.tensor(t.data, t.type === GGML_F16);
    });
    w.pad(ALIGNMENT);
    return w.result();
}

/**
 * Writes the demo model to `path` atomically (temp file, fsync, rename), so a
 * crash never leaves a truncated model that would later hash to a new id.
 */
export function writeDemoModel(path: string, options: DemoModelOptions = {}): DemoModelInfo {
    const bytes = buildDemoModel(options);
    const tmp = `${path}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w', 0o644);
    try {
        writeSync(fd, bytes);
        fsyncSync(fd);
    } finally {
        closeSync(fd);
    }
    renameSync(tmp, path);
    return { path, bytes: bytes.length, vocabSize: N_VOCAB, embeddingLength: N_EMBD, layers: options.layers ?? 2 };
}
