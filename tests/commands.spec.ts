import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { version } from '../package.json';

/** Every command answers --help and --version (from its compiled entry in dist/, as an operator runs it). */
describe('commands', () => {
    const root = join(__dirname, '..');
    for (const bin of ['worker/bin/cocoon-worker.js', 'client/bin/cocoon-client.js', 'devnet/bin/cocoon-devnet.js']) {
        it(`${bin} prints the package's version and its usage`, () => {
            const run = (arg: string) => execFileSync(process.execPath, [bin, arg], { cwd: root, encoding: 'utf8' });
            expect(run('--version').trim()).toBe(version);
            expect(run('--help')).toMatch(/^Usage: cocoon-(worker|client|devnet)/);
        });
    }
});
