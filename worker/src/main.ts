/** Entry for `node -r ts-node/register worker/src/main.ts <command>` (the bin shim does the same). */
import { main } from './cli';

main().catch((e: unknown) => {
    const err = e as { code?: string; exitCode?: number; message?: string };
    if (err?.code?.startsWith('commander.')) process.exit(err.exitCode ?? 1);
    console.error(err?.message ?? e);
    process.exit(1);
});
