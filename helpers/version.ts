import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The release of this checkout: package.json's version, found from here
 * upwards (the sources and their compiled copy in dist/ sit at different
 * depths), read at run time rather than compiled in.
 */
export function cocoonVersion(from = __dirname): string {
    for (let dir = from; ; dir = dirname(dir)) {
        const file = join(dir, 'package.json');
        if (existsSync(file)) {
            const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
            if (pkg.name === 'cocoon-ton' && pkg.version) return pkg.version;
        }
        if (dirname(dir) === dir) return 'unknown';
    }
}
