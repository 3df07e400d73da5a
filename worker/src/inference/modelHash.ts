import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';

export interface HashProgress {
    bytesRead: number;
    totalBytes: number;
}

/**
 * SHA-256 over a model file, streamed (GGUF files are many gigabytes, so never
 * read whole). The hex digest is the model id a worker advertises and signs
 * into receipts: it names the exact weights, not a marketing name.
 * `onProgress` is called at most every `progressEveryBytes` and once at the end.
 */
export async function hashModelFile(path: string, onProgress?: (p: HashProgress) => void, progressEveryBytes = 64 * 1024 * 1024): Promise<string> {
    const totalBytes = statSync(path).size;
    const hash = createHash('sha256');
    let bytesRead = 0;
    let lastReported = 0;
    const stream = createReadStream(path, { highWaterMark: Math.min(4 * 1024 * 1024, Math.max(64 * 1024, progressEveryBytes)) });
    for await (const chunk of stream) {
        hash.update(chunk as Buffer);
        bytesRead += (chunk as Buffer).length;
        if (onProgress && bytesRead - lastReported >= progressEveryBytes) {
            lastReported = bytesRead;
            onProgress({ bytesRead, totalBytes });
        }
    }
    if (bytesRead !== totalBytes) throw new Error(`model file changed while hashing: ${path}`);
    onProgress?.({ bytesRead, totalBytes });
    return hash.digest('hex');
}
