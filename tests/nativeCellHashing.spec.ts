import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * helpers/nativeCellHashing.ts as the commands use it (bin/run.js calls it
 * before loading a command), in a plain Node.js process: the test files' own
 * realm already hashes through tests/jest/nativeSha.ts, so only a process of
 * its own shows what a daemon gets.
 */
describe('native cell hashing in the commands (helpers/nativeCellHashing.ts)', () => {
    const root = join(__dirname, '..');

    it("gives @ton/crypto's digests for bytes and strings, and @ton/core's cells hash through it to the same hashes", () => {
        const script = `
            const { randomBytes } = require('node:crypto');
            const crypto = require('@ton/crypto');
            const { beginCell, Cell } = require('@ton/core');
            const jsSha256 = crypto.sha256_sync;
            const cells = () => [
                beginCell().endCell(),
                beginCell().storeUint(0xc0c0, 32).storeCoins(123456789n).storeRef(beginCell().storeBuffer(Buffer.from('cocoon')).endCell()).endCell(),
                Cell.fromBase64('te6cckEBAQEAAgAAAEysuc0='),
            ];
            const before = cells().map((c) => c.hash().toString('hex'));
            const inputs = [Buffer.alloc(0), 'ascii', 'ünïcødé ✓'];
            for (let i = 0; i < 300; i++) inputs.push(randomBytes(i), randomBytes(i).toString('latin1'));
            const expected = inputs.map((x) => jsSha256(x).toString('hex'));
            const { useNativeCellHashing, sha256Native } = require('./dist/helpers/nativeCellHashing');
            const used = useNativeCellHashing();
            let calls = 0;
            const primitives = require('@ton/crypto/dist/primitives/sha256');
            const native = primitives.sha256_sync;
            primitives.sha256_sync = (x) => (calls++, native(x));
            const after = cells().map((c) => c.hash().toString('hex'));
            console.log(JSON.stringify({
                used,
                inPlace: native === sha256Native && crypto.sha256_sync !== jsSha256,
                digestsAgree: inputs.every((x, i) => sha256Native(x).toString('hex') === expected[i]),
                before, after, calls,
            }));
        `;
        const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' }));
        expect(out.used).toBe(true);
        expect(out.inPlace).toBe(true);
        expect(out.digestsAgree).toBe(true);
        expect(out.after).toEqual(out.before);
        // Each cell built or parsed after the switch was hashed through it.
        expect(out.calls).toBeGreaterThanOrEqual(3);
    });

    it('is switched on by bin/run.js before a command loads (every command starts through it)', () => {
        const script = `
            const Module = require('node:module');
            const load = Module._load;
            let seen = false;
            Module._load = function (request, ...rest) {
                const m = load.call(this, request, ...rest);
                if (/nativeCellHashing$/.test(request)) seen = true;
                return m;
            };
            process.argv = [process.argv[0], 'cocoon-worker', '--version'];
            process.on('exit', () => process.stdout.write(seen ? '\\nnative cell hashing: on' : '\\nnative cell hashing: off'));
            require('./worker/bin/cocoon-worker.js');
        `;
        const out = execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        expect(out).toMatch(/^\d+\.\d+\.\d+/);
        expect(out.trim().split('\n').pop()).toBe('native cell hashing: on');
    });
});
