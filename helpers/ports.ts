import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Whether a TCP port can be listened on, and who holds it when it cannot:
 * commands check their ports before anything slow starts, so a busy port
 * fails in a second with a name rather than minutes later with a bare
 * EADDRINUSE.
 */

/** Resolves with undefined when `port` on `host` is free, or with the listen error's code (EADDRINUSE, EACCES...). */
export function portProblem(port: number, host = '127.0.0.1'): Promise<string | undefined> {
    return new Promise((resolve) => {
        const server = createServer();
        server.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
        server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
    });
}

/** The first free port at or after `from` (up to 100 tried), skipping `taken`. */
export async function nextFreePort(from: number, taken: number[] = [], host = '127.0.0.1'): Promise<number | undefined> {
    for (let port = from; port < from + 100 && port < 65536; port++) {
        if (!taken.includes(port) && (await portProblem(port, host)) === undefined) return port;
    }
    return undefined;
}

/** The process listening on a TCP port, as "pid 123 (node server.js)", when this system says (Linux /proc); undefined otherwise. */
export function portHolder(port: number): string | undefined {
    try {
        const inodes = new Set<string>();
        for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
            let text: string;
            try {
                text = readFileSync(table, 'utf8');
            } catch {
                continue;
            }
            for (const line of text.split('\n').slice(1)) {
                const f = line.trim().split(/\s+/);
                // local_address is ADDR:PORT in hex; state 0A is LISTEN; field 9 is the socket inode.
                if (f.length > 9 && f[3] === '0A' && parseInt(f[1].split(':')[1], 16) === port) inodes.add(f[9]);
            }
        }
        if (inodes.size === 0) return undefined;
        for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
            let fds: string[];
            try {
                fds = readdirSync(`/proc/${pid}/fd`);
            } catch {
                continue;
            }
            for (const fd of fds) {
                let target: string;
                try {
                    target = readlinkSync(`/proc/${pid}/fd/${fd}`);
                } catch {
                    continue;
                }
                const m = /^socket:\[(\d+)\]$/.exec(target);
                if (m && inodes.has(m[1])) {
                    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
                    return `pid ${pid} (${cmd.length > 100 ? cmd.slice(0, 97) + '...' : cmd})`;
                }
            }
        }
        return "another user's process";
    } catch {
        return undefined;
    }
}
