import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { httpPost } from '../helpers/httpPost';

/** A server whose handler each test sets; it records the client ports it saw and the connections closed under it. */
let server: Server;
let base = '';
let handler: (req: IncomingMessage, res: ServerResponse, body: string) => void;
const ports: number[] = [];
let hangUps = 0;

beforeAll(async () => {
    server = createServer((req, res) => {
        ports.push(req.socket.remotePort!);
        res.on('close', () => {
            if (!res.writableFinished) hangUps++;
        });
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => handler(req, res, body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
});
const settle = () => new Promise((r) => setTimeout(r, 50));

beforeEach(async () => {
    await settle(); // the test before's closed connections reach the server first
    ports.length = 0;
    hangUps = 0;
});

describe('httpPost (helpers/httpPost.ts)', () => {
    it('sends the body and headers, hands each piece over as it arrives, and reuses the connection', async () => {
        let next: () => void = () => undefined;
        handler = (req, res, body) => {
            res.writeHead(200, { 'content-type': 'text/event-stream', 'x-echo': `${req.headers['content-type']} ${body}` });
            res.write('one');
            // The second piece is written only once the client asks for more: a buffered body would deadlock here.
            next = () => res.end('two');
        };
        const a = await httpPost(`${base}/x`, { headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
        expect(a.status).toBe(200);
        expect(a.header('X-Echo')).toBe('application/json {"a":1}');
        expect((await a.read())!.toString()).toBe('one');
        next();
        expect((await a.read())!.toString()).toBe('two');
        expect(await a.read()).toBeNull();

        handler = (_req, res) => res.end('again');
        const b = await httpPost(`${base}/y`, { body: Buffer.from('z') });
        expect(await b.text()).toBe('again');
        expect(ports[1]).toBe(ports[0]); // kept alive
    });

    it('gives a refusal status and its JSON body, and follows no redirect', async () => {
        handler = (_req, res) => res.writeHead(402, { 'content-type': 'application/json' }).end('{"error":{"code":"insufficient_deposit"}}');
        const a = await httpPost(`${base}/x`, { body: '' });
        expect(a.status).toBe(402);
        expect(await a.json()).toEqual({ error: { code: 'insufficient_deposit' } });

        handler = (_req, res) => res.writeHead(307, { location: 'http://127.0.0.1:1/elsewhere' }).end();
        const r = await httpPost(`${base}/x`, { body: '' });
        expect(r.status).toBe(307);
        expect(r.header('location')).toBe('http://127.0.0.1:1/elsewhere');
        await r.bytes();
    });

    it('rejects when nothing listens, and refuses a URL that is not http(s)', async () => {
        const closed = createServer();
        await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
        const port = (closed.address() as AddressInfo).port;
        await new Promise((r) => closed.close(r));
        await expect(httpPost(`http://127.0.0.1:${port}/x`, { body: '' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
        await expect(httpPost('ftp://127.0.0.1/x', { body: '' })).rejects.toThrow('not an http(s) URL');
    });

    it('aborts with the signal reason: before the answer, and mid-body (closing the connection)', async () => {
        handler = () => undefined; // never answers
        const early = new AbortController();
        const pending = httpPost(`${base}/x`, { body: '', signal: early.signal });
        await settle();
        early.abort(new Error('no answer in time'));
        await expect(pending).rejects.toThrow('no answer in time');
        await expect(httpPost(`${base}/x`, { body: '', signal: early.signal })).rejects.toThrow('no answer in time');

        handler = (_req, res) => res.writeHead(200).write('first');
        const late = new AbortController();
        const a = await httpPost(`${base}/x`, { body: '', signal: late.signal });
        expect((await a.read())!.toString()).toBe('first');
        const reading = a.read();
        late.abort(new Error('caller gone'));
        await expect(reading).rejects.toThrow('caller gone');
        await settle();
        expect(hangUps).toBe(2);
    });

    it('a connection broken mid-body rejects the read rather than ending the body', async () => {
        handler = (req, res) => {
            res.writeHead(200).write('partial');
            setTimeout(() => req.socket.destroy(), 20);
        };
        const a = await httpPost(`${base}/x`, { body: '' });
        expect((await a.read())!.toString()).toBe('partial');
        await expect(a.read()).rejects.toThrow();
        await expect(a.read()).rejects.toThrow(); // still broken, never an end
    });

    it('release reads the rest of the body in the background and the connection serves the next request', async () => {
        handler = (_req, res) => {
            res.writeHead(200).write('data: [DONE]\n\n');
            setTimeout(() => res.end(), 30); // the body's end comes in a write of its own, as uvicorn sends it
        };
        const a = await httpPost(`${base}/x`, { body: '' });
        expect((await a.read())!.toString()).toBe('data: [DONE]\n\n');
        a.release();
        await settle();
        handler = (_req, res) => res.end('next');
        expect(await (await httpPost(`${base}/y`, { body: '' })).text()).toBe('next');
        expect(ports[1]).toBe(ports[0]);
        expect(hangUps).toBe(0);
    });

    it('cancel closes the connection', async () => {
        handler = (_req, res) => res.writeHead(200).write('first');
        const a = await httpPost(`${base}/x`, { body: '' });
        expect((await a.read())!.toString()).toBe('first');
        a.cancel();
        await settle();
        expect(hangUps).toBe(1);
    });
});
