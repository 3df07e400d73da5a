import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * DNS rebinding guard for a server that answers on a loopback address
 * without credentials. A web page can point its own host name at 127.0.0.1
 * and then talk to the server as a same-origin page, its requests naming
 * that host name in `Host`. A request that reached a loopback socket must
 * therefore name a loopback host (or one the operator allowed), else it is
 * refused before any route runs. Requests on other addresses, and servers
 * that require credentials (`open` false), are left to their credentials.
 */

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

function isLoopbackAddress(a: string | undefined): boolean {
    return a !== undefined && (a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.'));
}

/** The host name of a Host header, without its port. */
function hostName(header: string | undefined): string {
    const h = (header ?? '').trim().toLowerCase();
    if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
    return h.split(':')[0];
}

export function loopbackGuard(o: { open: () => boolean; allowedHosts?: readonly string[]; setting: string }) {
    const allowed = new Set([...LOOPBACK_NAMES, ...(o.allowedHosts ?? []).map((h) => h.toLowerCase())]);
    return async (req: FastifyRequest, reply: FastifyReply) => {
        if (!o.open() || !isLoopbackAddress(req.socket.localAddress)) return;
        const name = hostName(req.headers.host);
        if (allowed.has(name) || name.endsWith('.localhost')) return;
        return reply
            .code(403)
            .type('application/json')
            .send({
                error: {
                    message: `host: ${name || '(none)'} is not a name of this machine; this server answers pages of its own host only (set ${o.setting} to allow a name)`,
                    type: 'invalid_request_error',
                    code: 'forbidden_host',
                },
            });
    };
}
