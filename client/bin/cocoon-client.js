#!/usr/bin/env node
// Runs the TypeScript client without a build step (ts-node, type-checking
// left to `npm run typecheck`).
const path = require('path');
require('ts-node').register({ transpileOnly: true, project: path.join(__dirname, '..', '..', 'tsconfig.json') });
require('../src/cli')
    .main()
    .catch((e) => {
        if (e && e.code && String(e.code).startsWith('commander.')) process.exit(e.exitCode ?? 1);
        console.error(e instanceof Error ? e.message : e);
        process.exit(1);
    });
