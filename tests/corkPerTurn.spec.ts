import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { corkPerTurn } from '../helpers/corkPerTurn';

/**
 * The streams' cork: frames written in one turn leave together, and a
 * stream ended in the turn of its last write still delivers that write
 * (on Node.js 24 a response ended while corked drops what the cork holds).
 */
it('delivers every frame, the last ones written in the turn the response ends included', async () => {
    const server = createServer((req, res) => {
        void (async () => {
            for await (const _ of req);
            res.writeHead(200, { 'content-type': 'text/event-stream' });
            const cork = corkPerTurn(res);
            for (let i = 0; i < 3; i++) {
                cork();
                res.write(`data: ${i}\n\n`);
                await new Promise((r) => setTimeout(r, 5));
            }
            cork();
            res.write('data: final\n\n');
            cork.flush();
            res.end('data: [DONE]\n\n');
        })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
        const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { method: 'POST', body: 'x' });
        expect(await r.text()).toBe('data: 0\n\ndata: 1\n\ndata: 2\n\ndata: final\n\ndata: [DONE]\n\n');
    } finally {
        server.close();
    }
});
