import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/**
 * The browser pages each program serves (the gateway console, the worker
 * dashboard, the devnet explorer): plain HTML, CSS and ES modules under
 * `web/`, the shared part under `web/shared/`, and the chart library from
 * its installed package. Nothing is fetched from anywhere else at run time.
 */

/** The folder holding `web/`: the repository, or an install of the package (from source or from dist/). */
function webRoot(): string {
    for (let dir = __dirname; ; dir = dirname(dir)) {
        if (existsSync(join(dir, 'web', 'shared'))) return join(dir, 'web');
        if (dirname(dir) === dir) throw new Error('the web/ folder of the cocoon package is missing');
    }
}

/** Any server's instance, whatever its logger type. */
export type AnyFastify = FastifyInstance<any, any, any, any>;

/**
 * Serves `web/<page>/` at `prefix` (its index.html at the prefix itself) and,
 * once per server, the shared files and uPlot at `/assets/`. `prefix` ends
 * with a slash; the prefix without it redirects there, so relative links work.
 * Routes are made for the files present at start, so the API's own routes
 * and its not-found answers are untouched. Returns the routes it made: the
 * page's public face, which a server with credentials serves without them.
 */
export function registerWebPage(app: AnyFastify, page: 'gateway' | 'worker' | 'explorer', prefix: string): ReadonlySet<string> {
    const root = webRoot();
    // No page of another site may frame these (a framed button is a click the user did not mean).
    app.addHook('onSend', async (_req, reply, payload) => {
        reply.header('x-frame-options', 'DENY');
        reply.header('content-security-policy', "frame-ancestors 'none'");
        return payload;
    });
    app.register(fastifyStatic, { root: join(root, page), prefix, decorateReply: false, index: 'index.html', wildcard: false });
    if (prefix !== '/') app.get(prefix.slice(0, -1), (_req, reply) => reply.redirect(prefix));
    app.register(fastifyStatic, { root: join(root, 'shared'), prefix: '/assets/', decorateReply: false, wildcard: false });
    // Only the two files the pages load, not the rest of the package's dist/.
    for (const [file, type] of [
        ['uPlot.iife.min.js', 'application/javascript; charset=utf-8'],
        ['uPlot.min.css', 'text/css; charset=utf-8'],
    ]) {
        const body = readFileSync(require.resolve(`uplot/dist/${file}`));
        app.get(`/assets/uplot/${file}`, (_req, reply) => reply.type(type).header('cache-control', 'public, max-age=3600').send(body));
    }
    const files = (dir: string, at: string) => readdirSync(join(root, dir)).map((f) => at + f);
    return new Set([
        prefix,
        ...(prefix === '/' ? [] : [prefix.slice(0, -1)]),
        ...files(page, prefix),
        ...files('shared', '/assets/'),
        '/assets/uplot/uPlot.iife.min.js',
        '/assets/uplot/uPlot.min.css',
    ]);
}
