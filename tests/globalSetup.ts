import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Suites start the commands as operators do, from their compiled dist/; an
 * incremental compile first (a few seconds when nothing changed) keeps a
 * direct `npx jest` from running yesterday's code.
 */
export default function compileCommands(): void {
    const root = join(__dirname, '..');
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
}
