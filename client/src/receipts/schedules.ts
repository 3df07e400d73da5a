import { ExtendedWorkerStake } from '../../../wrappers/WorkerStake';
import type { PriceSchedule } from '../../../wrappers/receipt';
import type { ContractOpener } from '../../../wrappers/toncenter';
import type { WorkerInfo } from '../discovery';

/** How long a price schedule read from chain is trusted (well under PRICE_CUT_GRACE; see PriceSchedules.cached). */
const SCHEDULE_TTL_MS = 60_000;

/**
 * The price schedules receipts are judged by, read from each worker's
 * WorkerStake. The terms discovery saw in force are never used: they say
 * nothing of a receipt's own time.
 */
export class PriceSchedules {
    /** By WorkerStake, with when it was read (Date.now()). */
    private readonly byWorker = new Map<string, { at: number; schedule: PriceSchedule }>();

    constructor(private readonly opener: ContractOpener) {}

    /**
     * The schedule receipts are first judged by: the one last read from chain
     * while it is under a minute old (a cut binds only after the grace, and an
     * announced raise may be replaced, so an old copy must not be trusted
     * long); none, and the price rule reads the chain.
     */
    cached(w: WorkerInfo): PriceSchedule | undefined {
        const hit = this.byWorker.get(w.workerStake.toString());
        if (hit && Date.now() - hit.at < SCHEDULE_TTL_MS) return hit.schedule;
        return undefined;
    }

    /** The worker's price schedule read from chain now (and cached). */
    async fresh(w: WorkerInfo): Promise<PriceSchedule> {
        const schedule = await this.opener.open(ExtendedWorkerStake.fromAddress(w.workerStake)).getPriceSchedule();
        this.byWorker.set(w.workerStake.toString(), { at: Date.now(), schedule });
        return schedule;
    }
}
