/**
 * Runs Misti on every Tact project of tact.config.json and fails on findings
 * of medium severity or higher.
 *
 * One suppression, with its reason: shared files (constants.tact,
 * exit-codes.tact, messages.tact) declare constants for every contract, so a
 * project that does not use one of them gets a NeverAccessedVariables
 * warning. Such a warning is dropped when another Tact file of the repository
 * uses the constant; a constant that nothing uses still fails.
 */
import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join, relative } from 'path';

interface MistiWarning {
    detectorId: string;
    severity: number | string;
    description: string;
    location?: { file: string; line: number; column: number };
}

const root = join(__dirname, '..', '..');
const SHARED_FILES = ['contracts/constants.tact', 'contracts/exit-codes.tact', 'contracts/messages.tact'];
const MEDIUM = 3;

function tactFiles(dir: string): string[] {
    return readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) return tactFiles(path);
        return path.endsWith('.tact') ? [path] : [];
    });
}

function usedElsewhere(constant: string, declaredIn: string): boolean {
    const pattern = new RegExp(`\\b${constant}\\b`);
    return tactFiles(join(root, 'contracts')).some((file) => {
        const text = readFileSync(file, 'utf8');
        const rel = relative(root, file);
        if (rel === declaredIn) return text.split(pattern).length > 2;
        return pattern.test(text);
    });
}

function severityOf(w: MistiWarning): number {
    if (typeof w.severity === 'number') return w.severity;
    return ({ INFO: 1, LOW: 2, MEDIUM: 3, HIGH: 4, CRITICAL: 5 } as Record<string, number>)[w.severity.toUpperCase()] ?? 5;
}

const config = JSON.parse(readFileSync(join(root, 'tact.config.json'), 'utf8')) as { projects: { name: string; path: string }[] };
let failures = 0;
for (const project of config.projects) {
    // Misti's report goes to a file: the report of a large contract runs to hundreds of kilobytes, and Misti
    // exits before a pipe has taken all of it.
    const reportFile = join(mkdtempSync(join(tmpdir(), 'cocoon-misti-')), 'report.json');
    try {
        execFileSync('bash', ['-c', 'npx misti --no-souffle --no-colors -o json -m medium "$1" > "$2"', 'misti', project.path, reportFile], {
            cwd: root,
            stdio: ['ignore', 'ignore', 'pipe'],
        });
    } catch {
        // Misti exits non-zero when it reports warnings; the report says what they are.
    }
    const output = readFileSync(reportFile, 'utf8');
    rmSync(dirname(reportFile), { recursive: true, force: true });
    const start = output.indexOf('{');
    const parsed = start >= 0 ? JSON.parse(output.slice(start)) : { kind: 'ok', warnings: [] };
    if (parsed.kind === 'error') {
        console.error(`${project.name}: Misti failed: ${JSON.stringify(parsed.error ?? parsed)}`);
        failures++;
        continue;
    }
    const warnings: MistiWarning[] = (parsed.warnings ?? []).flatMap((w: { warnings?: MistiWarning[] }) => w.warnings ?? [w]);
    const kept = warnings.filter((w) => {
        if (severityOf(w) < MEDIUM) return false;
        const file = w.location ? relative(root, w.location.file.startsWith('/') ? w.location.file : join(root, w.location.file)) : '';
        const constant = /Constant (\w+) is never used/.exec(w.description)?.[1];
        if (w.detectorId === 'NeverAccessedVariables' && constant && SHARED_FILES.includes(file)) {
            return !usedElsewhere(constant, file);
        }
        return true;
    });
    for (const w of kept) {
        const at = w.location ? `${w.location.file}:${w.location.line}:${w.location.column}` : '';
        console.error(`${project.name}: [${w.detectorId}] ${w.description} ${at}`);
    }
    console.log(`${project.name}: ${kept.length} finding(s) of medium severity or higher`);
    failures += kept.length;
}
if (failures > 0) process.exit(1);
