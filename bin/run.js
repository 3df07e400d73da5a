// Runs a command's compiled entry from dist/ (built by `npm run build`),
// so a start costs no TypeScript compilation.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

module.exports = function run(entry) {
    const compiled = join(__dirname, '..', 'dist', entry);
    if (!existsSync(compiled + '.js')) {
        console.error(`${compiled}.js is missing: run \`npm run build\` first (it compiles the contracts and the commands into dist/)`);
        process.exit(1);
    }
    // Cells hashed with Node's SHA-256 rather than JavaScript (helpers/nativeCellHashing.ts).
    require(join(__dirname, '..', 'dist', 'helpers', 'nativeCellHashing')).useNativeCellHashing();
    require(compiled)
        .main()
        .catch((e) => {
            // commander's own exits (help, version, usage errors) carry their code.
            if (e && e.code && String(e.code).startsWith('commander.')) process.exit(e.exitCode ?? 1);
            console.error(e instanceof Error ? e.message : e);
            process.exit(1);
        });
};
