/**
 * The house has floors, and imports only go down:
 *   helpers/   pure helpers (HPKE, Ed25519, stream writing, polling, ledgers)
 *   wrappers/  the contracts' TypeScript side (with the generated build/)
 *   protocol/  the paid-request protocol between client and worker
 *   worker/ client/ devnet/ scripts/   the programs, each on its own
 *   scripts/local/ bench/   what runs the whole system or measures it
 *   tests/     may use everything; nothing else uses tests/
 * `npm run lint:layers` checks it (CI runs it).
 */
const below = {
    helpers: [],
    wrappers: ['helpers', 'build'],
    protocol: ['helpers', 'build', 'wrappers'],
    worker: ['helpers', 'build', 'wrappers', 'protocol'],
    client: ['helpers', 'build', 'wrappers', 'protocol'],
    devnet: ['helpers', 'build', 'wrappers', 'protocol'],
    scripts: ['helpers', 'build', 'wrappers', 'protocol'],
};
const folders = ['helpers', 'build', 'wrappers', 'protocol', 'worker', 'client', 'devnet', 'scripts', 'bench', 'tests'];

const floorRules = Object.entries(below).map(([floor, allowed]) => ({
    name: `${floor}-imports-only-lower-floors`,
    comment: `${floor}/ may import only ${allowed.length ? allowed.join(', ') : 'packages'}`,
    severity: 'error',
    from: floor === 'scripts' ? { path: '^scripts/', pathNot: '^scripts/local/' } : { path: `^${floor}/` },
    to: { path: `^(${folders.filter((f) => f !== floor && !allowed.includes(f)).join('|')})/` },
}));

module.exports = {
    forbidden: [
        ...floorRules,
        {
            name: 'nothing-imports-tests',
            comment: 'test helpers are for tests only',
            severity: 'error',
            from: { pathNot: '^tests/' },
            to: { path: '^tests/' },
        },
        {
            name: 'no-circular',
            severity: 'error',
            from: {},
            to: { circular: true },
        },
    ],
    options: {
        doNotFollow: { path: 'node_modules' },
        exclude: { path: '^(node_modules|dist|temp)/' },
        tsPreCompilationDeps: true,
        tsConfig: { fileName: 'tsconfig.json' },
        enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
    },
};
