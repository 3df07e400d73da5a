/**
 * Blueprint's CLI reports a script that failed by printing the error object:
 * its whole stack trace. The scripts' errors are written for the user (what
 * happened and what to do), so under the CLI they are shown as one line;
 * COCOON_VERBOSE=1 shows the trace. Installed by blueprint.config.ts, which
 * only Blueprint's CLI loads.
 */
export function reportErrorsInOneLine(env: NodeJS.ProcessEnv = process.env, write: (text: string) => void = (t) => process.stderr.write(t)): void {
    if (env.COCOON_VERBOSE === '1') return;
    const original = console.error.bind(console);
    console.error = (...args: unknown[]) => {
        if (args.length === 1 && args[0] instanceof Error) {
            write(`Error: ${args[0].message}\n(COCOON_VERBOSE=1 shows the stack trace)\n`);
            return;
        }
        original(...args);
    };
}
