import { ResponseOpener, frameFromText } from '../../../helpers/hpke';
import type { HttpAnswer } from '../../../helpers/httpPost';
import { textLogprobsOf } from '../../../protocol/completions';
import { DeliveredToolCall, TokenLogprob, mergeToolCallDeltas, tokenLogprobsOf } from '../../../protocol/paidRequest';

/** What a worker's answer has delivered so far; kept current while frames arrive, so an answer that breaks off still tells what reached the caller. */
export interface Answer {
    /** The final frame: a chat.completion (non-streaming) or the last chunk (streaming). */
    final: any;
    content: string;
    reasoning: string;
    /** The tools the model called, their streamed pieces joined. */
    toolCalls: DeliveredToolCall[];
    /** Log probabilities of the tokens delivered (when the request asked for them). */
    logprobs: TokenLogprob[];
    /** A streamed chunk reached the caller. */
    delivered: boolean;
}

/**
 * Reads and opens a worker's sealed answer into `answer`: the SSE frames of
 * a streamed one (each chunk passed to `onChunk` as it is opened), or the
 * single frame of one that is not. A worker that sends nothing for
 * `idleMs` mid-answer is cut (`onIdle`): its receipt never comes, so nothing
 * is paid for it. Throws when a frame does not open or the answer ends
 * early.
 */
export async function readFrames(
    res: HttpAnswer,
    opener: ResponseOpener,
    stream: boolean,
    answer: Answer,
    /** chat: chat.completion(.chunk) objects; text: text_completion objects, whose choices carry `text`. */
    shape: 'chat' | 'text',
    idle: { ms: number; onIdle: () => void },
    onChunk?: (chunk: any) => void | Promise<void>,
): Promise<void> {
    // One timer, re-armed at every read: cheaper than a new one per frame.
    const timer = setTimeout(idle.onIdle, idle.ms);
    const touch = () => void timer.refresh();
    try {
        if (stream) {
            const decoder = new TextDecoder();
            let buf = '';
            for (;;) {
                const piece = await res.read();
                touch();
                if (piece) buf += decoder.decode(piece, { stream: true });
                let i: number;
                while ((i = buf.indexOf('\n\n')) >= 0) {
                    const block = buf.slice(0, i);
                    buf = buf.slice(i + 2);
                    const line = block.split('\n').find((l) => l.startsWith('data:'));
                    if (!line) continue;
                    const f = opener.open(frameFromText(line.slice(5)));
                    const json = JSON.parse(f.plaintext.toString('utf8'));
                    if (f.final) answer.final = json;
                    else if (shape === 'text') {
                        const piece = json.choices?.[0]?.text;
                        answer.content += typeof piece === 'string' ? piece : '';
                        answer.logprobs.push(...textLogprobsOf(json.choices?.[0]?.logprobs));
                        answer.delivered = true;
                        await onChunk?.(json);
                    } else {
                        const d = json.choices?.[0]?.delta ?? {};
                        answer.content += d.content ?? '';
                        answer.reasoning += d.reasoning_content ?? '';
                        mergeToolCallDeltas(answer.toolCalls, d.tool_calls);
                        answer.logprobs.push(...tokenLogprobsOf(json.choices?.[0]?.logprobs));
                        answer.delivered = true;
                        await onChunk?.(json);
                    }
                }
                if (piece === null) break;
            }
            opener.finish();
        } else {
            const f = opener.open(await res.bytes());
            opener.finish();
            answer.final = JSON.parse(f.plaintext.toString('utf8'));
            if (shape === 'text') {
                const whole = answer.final.choices?.[0]?.text;
                answer.content = typeof whole === 'string' ? whole : '';
                answer.logprobs = textLogprobsOf(answer.final.choices?.[0]?.logprobs);
                return;
            }
            const m = answer.final.choices?.[0]?.message ?? {};
            answer.content = m.content ?? '';
            answer.reasoning = m.reasoning_content ?? '';
            answer.logprobs = tokenLogprobsOf(answer.final.choices?.[0]?.logprobs);
            // Whole calls, each in its own place: the same join as a stream's pieces.
            if (Array.isArray(m.tool_calls))
                mergeToolCallDeltas(
                    answer.toolCalls,
                    m.tool_calls.map((c: any, index: number) => ({ ...c, index })),
                );
        }
    } finally {
        clearTimeout(timer);
    }
}
