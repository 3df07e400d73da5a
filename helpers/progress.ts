/**
 * Progress of a long operation in numbered phases, for a terminal or a log
 * that may not be a terminal: "[k/n] what, elapsed" at each phase, the
 * detail lines the phases print, and a "still <what>" line whenever nothing
 * was printed for `quietMs`, so the user never watches more than 5 s of
 * silence.
 */
export class Progress {
    private readonly started = Date.now();
    private lastLine = Date.now();
    private phaseIndex = 0;
    private current = '';
    private timer?: NodeJS.Timeout;

    constructor(
        private readonly total: number,
        private readonly write: (line: string) => void,
        /** A "still" line once nothing was printed for this long (checked every 250 ms). */
        private readonly quietMs = 4_500,
    ) {}

    /** Seconds since the start, as printed. */
    elapsed(): string {
        return `${((Date.now() - this.started) / 1000).toFixed(1)} s`;
    }

    /** Starts the next phase. */
    phase(what: string): void {
        this.phaseIndex++;
        this.current = what.replace(/ \(.*$/, '');
        this.line(`[${this.phaseIndex}/${this.total}] ${what}, ${this.elapsed()}`);
        this.timer ??= setInterval(() => {
            if (Date.now() - this.lastLine >= this.quietMs) this.line(`      still ${this.current}, ${this.elapsed()}`);
        }, 250).unref();
    }

    /** A detail line of the current phase. */
    note(text: string): void {
        this.line(`      ${text}`);
    }

    /** The operation is over (done or failed): no more "still" lines. */
    finish(): void {
        clearInterval(this.timer);
        this.timer = undefined;
    }

    private line(text: string): void {
        this.lastLine = Date.now();
        this.write(text);
    }
}
