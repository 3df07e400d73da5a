#!/usr/bin/env node
// Runs the TypeScript devnet without a build step (ts-node, type-checking
// left to `npm run typecheck`).
const path = require('path');
require('ts-node').register({ transpileOnly: true, project: path.join(__dirname, '..', '..', 'tsconfig.json') });
require('../cli').main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
});
