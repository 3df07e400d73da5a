/**
 * Calls `onOrphaned` once if this process's parent goes away (the process
 * is re-parented). A program started by another (`npm start`'s children,
 * `npm start` itself under the shell npm runs it with, which does not pass
 * signals on) stops with it even when the parent was killed outright and
 * could not stop its children.
 */
export function whenOrphaned(onOrphaned: () => void, intervalMs = 500): void {
    const parent = process.ppid;
    const timer = setInterval(() => {
        if (process.ppid !== parent) {
            clearInterval(timer);
            onOrphaned();
        }
    }, intervalMs);
    timer.unref();
}

/** The environment variable with which a parent asks its child command to stop when the parent goes away. */
export const STOP_WITH_PARENT_ENV = 'COCOON_STOP_WITH_PARENT';

/** `whenOrphaned` if this command's parent asked for it (STOP_WITH_PARENT_ENV=1): an operator's daemon under nohup must outlive its shell. */
export function stopWithParentIfAsked(stop: () => void, env: NodeJS.ProcessEnv = process.env): void {
    if (env[STOP_WITH_PARENT_ENV] === '1') whenOrphaned(stop);
}
