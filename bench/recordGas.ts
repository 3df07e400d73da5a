/**
 * `npm run bench:gas [pattern]`: runs the gas suites (tests/gas/*.gas.spec.ts)
 * in recording mode and merges what they measured into bench/gas.json.
 * Entries not measured by this run are kept, so one contract's suite can be
 * re-recorded alone: `npm run bench:gas -- Registry`.
 */
import { execFileSync } from 'child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'fs';
import { join } from 'path';
import { GAS_FRAGMENTS, GAS_TABLE, GasEntry, readGasTable } from './lib/gas';

const pattern = process.argv[2] ?? '';
rmSync(GAS_FRAGMENTS, { recursive: true, force: true });
// The gas suites (tests/gas/Network.gas.spec.ts measures whole operations over the real network contracts).
const suites = [`tests/gas/.*${pattern}.*\\.gas\\.spec\\.ts$`];
execFileSync('npx', ['jest', '--testPathPatterns', ...suites], {
    stdio: 'inherit',
    env: { ...process.env, GAS_RECORD: '1' },
});
if (!existsSync(GAS_FRAGMENTS)) throw new Error('the gas suites recorded nothing');

const table: Record<string, GasEntry> = readGasTable();
let changed = 0;
for (const file of readdirSync(GAS_FRAGMENTS)) {
    const name = file.replace(/\.json$/, '');
    const entry: GasEntry = JSON.parse(readFileSync(join(GAS_FRAGMENTS, file), 'utf8'));
    const old = table[name];
    if (!old || old.gasUsed !== entry.gasUsed || old.fees !== entry.fees) {
        console.log(`${name}: gas ${old?.gasUsed ?? '-'} -> ${entry.gasUsed}, fees ${old?.fees ?? '-'} -> ${entry.fees}`);
        changed++;
    }
    table[name] = entry;
}
const sorted = Object.fromEntries(
    Object.keys(table)
        .sort()
        .map((k) => [k, table[k]]),
);
writeFileSync(GAS_TABLE, JSON.stringify(sorted, null, 2) + '\n');
rmSync(GAS_FRAGMENTS, { recursive: true, force: true });
console.log(`bench/gas.json: ${Object.keys(sorted).length} operations, ${changed} changed`);
