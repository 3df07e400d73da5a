import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT } from '../scripts/lib/daemon';

/**
 * The fault and fuzz suites (tests/faults, tests/fuzz) in their long
 * variants, for the results: CI runs them at their default sizes in
 * `npm test`; here `FAULT_LONG=1` holds the chain outage for the full
 * minute and `FUZZ_RUNS` raises every property's number of runs.
 */

export interface SuiteFile {
    file: string;
    passed: number;
    failed: number;
    seconds: number;
    /** Each failed test's title and the start of its failure message (a failure in the results says what failed). */
    failures?: Array<{ test: string; message: string }>;
}

export interface SuitesResult {
    env: Record<string, string>;
    files: SuiteFile[];
    passed: number;
    failed: number;
    seconds: number;
}

export async function runSuites(o: { fuzzRuns: number; faultLong: boolean; log?: (l: string) => void }): Promise<SuitesResult> {
    const env: Record<string, string> = { FUZZ_RUNS: String(o.fuzzRuns), ...(o.faultLong ? { FAULT_LONG: '1' } : {}) };
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-bench-suites-'));
    const report = join(dir, 'jest.json');
    const t0 = Date.now();
    try {
        o.log?.(
            `jest tests/faults tests/fuzz with ${Object.entries(env)
                .map(([k, v]) => `${k}=${v}`)
                .join(' ')}`,
        );
        const child = spawn('npx', ['jest', '-i', 'tests/faults', 'tests/fuzz', '--json', `--outputFile=${report}`], {
            cwd: ROOT,
            env: { ...process.env, ...env },
            stdio: ['ignore', 'ignore', 'pipe'],
        });
        let err = '';
        child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
        const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
        let json: any;
        try {
            json = JSON.parse(readFileSync(report, 'utf8'));
        } catch {
            throw new Error(`jest wrote no report (exit ${code}):\n${err}`);
        }
        const files: SuiteFile[] = json.testResults.map((r: any) => ({
            file: relative(ROOT, r.name),
            passed: r.assertionResults.filter((a: any) => a.status === 'passed').length,
            failed: r.assertionResults.filter((a: any) => a.status === 'failed').length,
            seconds: (r.endTime - r.startTime) / 1000,
            failures: r.assertionResults
                .filter((a: any) => a.status === 'failed')
                .map((a: any) => ({
                    test: a.fullName,
                    message: String(a.failureMessages?.[0] ?? '')
                        // eslint-disable-next-line no-control-regex -- the escape starts the terminal colour codes being stripped
                        .replace(/\u001b\[[0-9;]*m/g, '')
                        .slice(0, 1500),
                })),
        }));
        return { env, files, passed: json.numPassedTests, failed: json.numFailedTests, seconds: (Date.now() - t0) / 1000 };
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}
