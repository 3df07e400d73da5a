/**
 * The chat requests a worker is serving now: how many, whether it still
 * takes new ones, and the generations it can cut. Shutdown reads it (drain,
 * wait until idle, cut what is left); /health reports it.
 */
export class ChatTraffic {
    private count = 0;
    private stopping = false;
    private readonly generations = new Set<AbortController>();
    private idleWaiters: Array<() => void> = [];

    /** Requests being served now. */
    get active(): number {
        return this.count;
    }

    /** True once the worker takes no new chat requests. */
    get draining(): boolean {
        return this.stopping;
    }

    drain(): void {
        this.stopping = true;
    }

    enter(): void {
        this.count++;
    }

    leave(): void {
        this.count--;
        if (this.count === 0) {
            const w = this.idleWaiters;
            this.idleWaiters = [];
            w.forEach((f) => f());
        }
    }

    /** A generation `cutAll` ends (it still ends with its receipt); remove it with `untrack`. */
    track(ac: AbortController): void {
        this.generations.add(ac);
    }

    untrack(ac: AbortController): void {
        this.generations.delete(ac);
    }

    cutAll(): void {
        for (const ac of this.generations) ac.abort();
    }

    /** Resolves true when no request is in flight, false if `ms` pass first. */
    idle(ms: number): Promise<boolean> {
        if (this.count === 0) return Promise.resolve(true);
        return new Promise<boolean>((resolve) => {
            const t = setTimeout(() => resolve(false), ms);
            this.idleWaiters.push(() => {
                clearTimeout(t);
                resolve(true);
            });
        });
    }
}
