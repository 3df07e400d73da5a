import { compileCommands } from '../scripts/local/build';

/**
 * Suites start the commands as operators do, from their compiled dist/; an
 * incremental compile first (a few seconds when nothing changed) keeps a
 * direct `npx jest` from running yesterday's code. Its errors fail the run.
 */
export default async function compileCommandsFirst(): Promise<void> {
    await compileCommands(() => undefined);
}
