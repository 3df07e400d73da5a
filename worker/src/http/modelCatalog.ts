import { modelIdOf } from '../../../protocol/paidRequest';
import type { InferenceBackend, ModelInfo } from '../inference/types';

/**
 * The models the backend serves, asked at most every 30 s (a request burst
 * costs one listing), and the id each has on chain (what receipts name).
 */
export class ModelCatalog {
    private cache?: { at: number; models: ModelInfo[] };
    /** The advertised model's id on chain. */
    readonly chainId: (model: ModelInfo) => bigint;

    constructor(
        private readonly backend: InferenceBackend,
        chainId?: (model: ModelInfo) => bigint,
    ) {
        this.chainId = chainId ?? ((m) => modelIdOf(m.id));
    }

    async list(): Promise<ModelInfo[]> {
        if (this.cache && Date.now() - this.cache.at < 30_000) return this.cache.models;
        const models = await this.backend.listModels();
        this.cache = { at: Date.now(), models };
        return models;
    }
}
