import type { WorkerConfig } from '../config';
import { EmbeddedBackend } from './embedded';
import type { HashProgress } from './modelHash';
import { OpenAiBackend } from './openai';
import type { InferenceBackend } from './types';

export * from './types';
export { EmbeddedBackend } from './embedded';
export type { EmbeddedOptions } from './embedded';
export { OpenAiBackend } from './openai';
export type { OpenAiOptions } from './openai';
export { hashModelFile } from './modelHash';
export { writeDemoModel, buildDemoModel } from './demoModel';

/** Builds the configured backend (the embedded one loads its model first). */
export async function createBackend(config: WorkerConfig['backend'], hooks: { onHashProgress?: (p: HashProgress) => void } = {}): Promise<InferenceBackend> {
    if (config.kind === 'embedded') {
        return EmbeddedBackend.start({
            modelPath: config.modelPath,
            alias: config.alias,
            gpu: config.gpu,
            threads: config.threads,
            contextSize: config.contextSize,
            sequences: config.sequences,
            maxQueued: config.maxQueued,
            queueTimeoutMs: config.queueTimeoutMs,
            onHashProgress: hooks.onHashProgress,
        });
    }
    return new OpenAiBackend({
        baseUrl: config.baseUrl,
        apiKey: config.apiKey,
        modelMap: config.modelMap,
        connectTimeoutMs: config.connectTimeoutMs,
        idleTimeoutMs: config.idleTimeoutMs,
    });
}
