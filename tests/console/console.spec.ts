import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Address, Cell } from '@ton/core';
import { TonClient } from '@ton/ton';
import OpenAI from 'openai';
import { Browser, Page, chromium } from 'playwright-core';
import { pollUntil } from '../../helpers/poll';
import { ROOT } from '../../scripts/lib/daemon';
import { DEVNET_MNEMONIC } from '../../wrappers/devnet';
import { ChannelStatus, ExtendedPaymentChannel } from '../../wrappers/PaymentChannel';
import { openSignedReceipt, parseReceipt } from '../../wrappers/receipt';
import { tonClientOpener } from '../../wrappers/toncenter';
import { OperatorWallet } from '../../wrappers/wallet';
import { cleanUp, npmStart, untilReady } from '../helpers/npmStart';

/**
 * The three pages, in a real headless Chromium (Debian's chromium, driven by
 * playwright-core), against `npm start` as a user runs it: after a paid
 * request, the gateway console shows the worker, the channel's balance down
 * by the receipt's cost, the request with its receipt verified and a point
 * on the spend chart; its playground streams an answer and shows the cost;
 * its close button closes the channel on chain. The worker dashboard shows
 * the earnings, the attestation's expiry and a claim; the devnet explorer
 * shows the claim's message chain by name and a failed transaction's exit
 * code by name. Every page is checked for console errors and with axe-core
 * (WCAG 2 A and AA: labels, contrast...), and photographed under
 * temp/test-output/console/.
 */
jest.setTimeout(600_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'temp', 'test-output', 'console');
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** 1.5 TON and the like, as the pages write nanoTON. */
function ton(nano: bigint): string {
    const frac = (nano % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
    return `${nano / 1_000_000_000n}${frac ? '.' + frac : ''} TON`;
}

interface Watched {
    page: Page;
    errors: string[];
}

async function open(browser: Browser, url: string): Promise<Watched> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    return { page, errors };
}

/** axe-core's WCAG 2 A/AA violations on the page as it is now. */
async function accessibility(page: Page): Promise<string[]> {
    await page.addScriptTag({ content: AXE });
    // Evaluated as text: the test is not compiled with the DOM's types.
    const violations = (await page.evaluate(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } }).then((r) =>
        r.violations.map((v) => v.id + ': ' + v.help + ' (' + v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ') + ')'))`)) as string[];
    return violations;
}

async function done(w: Watched, name: string) {
    expect(await accessibility(w.page)).toEqual([]);
    await w.page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    expect(w.errors).toEqual([]);
}

it('the gateway console, the worker dashboard and the devnet explorer show what happened, and act on chain', async () => {
    mkdirSync(SHOTS, { recursive: true });
    const s = await npmStart();
    let browser: Browser | undefined;
    try {
        const baseUrl = await untilReady(s);
        const out = s.output();
        const consoleUrl = /gateway console\s+(http:\S+)/.exec(out)![1];
        const dashboardUrl = /worker dashboard\s+(http:\S+)/.exec(out)![1];
        const explorerUrl = /devnet explorer\s+(http:\S+)/.exec(out)![1];
        expect(consoleUrl).toBe(`http://127.0.0.1:${s.ports.gateway}/`);
        expect(dashboardUrl).toBe(`http://127.0.0.1:${s.ports.operator}/`);
        expect(explorerUrl).toBe(`http://127.0.0.1:${s.ports.devnet}/explorer/`);
        const endpoint = /toncenter API\s+(http:\S+)/.exec(out)![1];

        // A paid request, as an app makes it.
        const openai = new OpenAI({ baseURL: baseUrl, apiKey: 'none', maxRetries: 0, timeout: 120_000 });
        const r: any = await openai.chat.completions.create({ model: 'cocoon-demo', messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 8 });
        const receipt = parseReceipt(openSignedReceipt(Cell.fromBase64(r.receipt.boc)).receipt);
        const channel = receipt.channel.toString();
        const ton4 = new TonClient({ endpoint });
        const paymentChannel = tonClientOpener(ton4).open(ExtendedPaymentChannel.fromAddress(receipt.channel));
        const deposit = await paymentChannel.getDeposit();

        browser = await chromium.launch({
            executablePath: CHROMIUM,
            args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
        });

        // The gateway console.
        const gw = await open(browser, consoleUrl);
        const p = gw.page;
        await p.getByText('verified, expires in').first().waitFor();
        await p.locator('#workers').getByText('cocoon-demo').first().waitFor();
        const row = p.locator('#channels tbody tr').first();
        await row.locator('.balance').waitFor();
        expect(await row.locator('.balance').getAttribute('data-nano')).toBe((deposit - receipt.cost).toString());
        expect(await row.locator('.balance').textContent()).toBe(ton(deposit - receipt.cost));
        const request = p.locator('#requests tbody tr', { hasText: r.receipt.requestId });
        await request.waitFor();
        expect(await request.locator('.verified').textContent()).toBe('verified');
        expect(await request.textContent()).toContain(ton(receipt.cost));
        expect(Number(await p.locator('#spend-chart .chart').getAttribute('data-points'))).toBeGreaterThanOrEqual(1);
        await done(gw, 'gateway-console');

        // The playground streams an answer through the gateway and shows what it cost.
        await p.fill('#pg-prompt', 'Tell me about TON.');
        await p.fill('#pg-max-tokens', '8');
        await p.click('#pg-send');
        await p.locator('#pg-cost-value').waitFor({ timeout: 120_000 });
        expect(BigInt((await p.locator('#pg-cost-value').getAttribute('data-nano'))!)).toBeGreaterThan(0n);
        expect((await p.locator('#pg-answer').textContent())!.length).toBeGreaterThan(0);
        expect((await p.locator('#pg-receipt').textContent())!).toMatch(/^\d+$/);
        await done(gw, 'gateway-playground');

        // The worker dashboard: earnings and the attestation's expiry; a claim once the operator claims.
        const wd = await open(browser, dashboardUrl);
        await wd.page.locator('#earned').waitFor();
        await pollUntil(
            'the dashboard to show both requests earned',
            async () => wd.page.locator('#earned').textContent(),
            (t) => t !== null && t !== '0 TON',
        );
        expect(await wd.page.locator('#attestation-expiry').textContent()).toMatch(/^\d+ (d|h|min)/);
        expect(await wd.page.locator('#stake-status').textContent()).toBe('active');
        const claimed = execFileSync('npm', ['run', '-s', 'worker', '--', 'claim', '-c', join(s.dir, 'worker', 'config.json')], { cwd: ROOT, encoding: 'utf8' });
        expect(claimed).toContain(`${channel}: claimed`);
        await wd.page.locator('#claims tbody tr', { hasText: 'TON' }).first().waitFor({ timeout: 30_000 });
        await done(wd, 'worker-dashboard');

        // Closing the channel from the console lands on chain.
        // The console asks first (a click alone closes nothing).
        const asked: string[] = [];
        p.once('dialog', (d) => {
            asked.push(d.message());
            void d.accept();
        });
        await p.locator('#channels tbody tr').first().getByRole('button', { name: 'Close' }).click();
        await p.getByText('close: done').waitFor({ timeout: 120_000 });
        expect(asked).toEqual([expect.stringContaining(`Close channel ${channel}?`)]);
        expect((await paymentChannel.getState()).status).toBe(ChannelStatus.Closed);
        await p.locator('#channels [data-state="closed"]').waitFor();

        // A transaction that fails: a top-up of the closed channel, refused by name.
        const wallet = await OperatorWallet.open(ton4, DEVNET_MNEMONIC.split(' '), 'v4');
        await paymentChannel.sendTopUp(wallet.sender(), 100_000_000n);

        // The devnet explorer: the claim's chain by name, and the failure's exit code by name.
        const ex = await open(browser, `${explorerUrl}#account=${encodeURIComponent(channel)}`);
        await pollUntil(
            'the explorer to show the refused top-up',
            async () => (await ex.page.locator('.tx', { hasText: 'TopUp' }).allTextContents()).join('\n'),
            (t) => t.includes('ERR_CHANNEL_NOT_OPEN'),
            { timeoutMs: 60_000 },
        );
        const claim = ex.page.locator('li.tx', { has: ex.page.locator('strong.op', { hasText: /^Claim$/ }) }).first();
        await claim.waitFor();
        expect(await claim.locator('.exit').first().getAttribute('class')).toContain('ok');
        // The claim's chain goes on: the channel pays the worker (its outgoing messages, decoded).
        expect(await claim.locator('.chain').textContent()).toMatch(/WorkerPaid|ProtocolFee/);
        expect(await ex.page.getByText('CooperativeClose').count()).toBeGreaterThan(0);
        expect(await ex.page.locator('#account-address').textContent()).toBe(Address.parse(channel).toString());
        await done(ex, 'devnet-explorer');
        await ex.page.goto(explorerUrl);
        await ex.page.locator('article.block').first().waitFor();
        await done(ex, 'devnet-explorer-chains');
    } finally {
        await browser?.close();
        await cleanUp(s);
    }
});
