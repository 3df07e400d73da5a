import { account, api, countdown, refresher, figures, h, perMillion, short, table, timeChart, ton, when } from '/assets/console.js';

// The worker dashboard: what this worker earned, claimed and served, and whether the chain still trusts it.

const $ = (id) => document.getElementById(id);
let explorer = null;
let expiry = null;

const { every } = refresher($('status'), $('main'));

const dl = (pairs) =>
    h(
        'dl',
        {},
        pairs.flatMap(([k, v, id]) => [h('dt', {}, k), h('dd', { id }, v)]),
    );

async function refreshSummary() {
    const s = await api('/api/summary');
    explorer = s.explorer;
    if (explorer) Object.assign($('explorer-link'), { href: explorer, hidden: false });
    $('public-link').href = `${s.publicUrl}/health`;
    expiry = s.attestation.onChainExpiresAt;
    $('status').textContent = `WorkerStake ${short(s.workerStake, 8)} · updated ${new Date().toLocaleTimeString()}`;
    $('figures').replaceChildren(
        figures([
            ['Earned (receipts issued)', ton(s.money.earned), 'earned'],
            ['Unclaimed (vouchers not redeemed)', ton(s.money.unclaimed), 'unclaimed'],
            ['Claimed on chain', ton(s.money.claimed), 'claimed'],
            ['Served, voucher pending', ton(s.money.unpaid), 'unpaid'],
            ['Attestation expires in', expiry ? countdown(expiry) : 'not attested', 'attestation-expiry'],
        ]),
    );
    const st = s.stake;
    $('stake').replaceChildren(
        dl([
            ['WorkerStake', account(s.workerStake, explorer)],
            ['Status', st ? h('span', { class: st.active ? 'ok' : 'bad' }, st.status) : 'not deployed (run cocoon-worker register)', 'stake-status'],
            ['Stake', st ? ton(st.stake) : '–'],
            ['Slashes', st ? `${st.slashes}${st.slashes !== '0' ? ` (${ton(st.slashedTotal)})` : ''}` : '–'],
            ['Prices in force (prompt / completion)', st ? `${perMillion(st.prices.prompt)} / ${perMillion(st.prices.completion)}` : '–'],
            ['Attestation on chain until', expiry ? when(expiry) : 'none'],
            ['Evidence served until', s.attestation.evidenceNotAfter ? when(s.attestation.evidenceNotAfter) : 'none'],
            ['Image', s.attestation.imageHash ? h('code', { title: s.attestation.imageHash }, short(s.attestation.imageHash, 8)) : '–'],
        ]),
    );
    const b = s.backend;
    $('backend').replaceChildren(
        dl([
            ['Backend', h('span', { class: b.ok ? 'ok' : 'bad', id: 'backend-ok' }, b.ok ? 'healthy' : 'unhealthy')],
            ...Object.entries(b)
                .filter(([k]) => k !== 'ok')
                .map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]),
        ]),
    );
    $('claims').replaceChildren(
        table(
            'Each confirmed rise of a channel’s paid-out total (newest first); the channel’s transactions show the claim',
            [{ label: 'Time' }, { label: 'Channel' }, { label: 'Gained', num: true }, { label: 'Channel total paid', num: true }],
            s.claims.map((c) => [when(c.at), account(c.channel, explorer), ton(c.gained), ton(c.total)]),
            'no claim yet: vouchers are redeemed once a channel’s unclaimed value passes the threshold, at shutdown, or by cocoon-worker claim',
        ),
    );
    $('channels').replaceChildren(
        table(
            'Per channel, in TON',
            [
                { label: 'Channel' },
                { label: 'State' },
                { label: 'Receipts', num: true },
                { label: 'Earned', num: true },
                { label: 'Vouched', num: true },
                { label: 'Claimed', num: true },
                { label: 'Unclaimed', num: true },
            ],
            s.channels.map((c) => [account(c.address, explorer), c.state, String(c.receipts), ton(c.earned), ton(c.vouched), ton(c.claimed), ton(c.unclaimed)]),
            'no channel has paid this worker yet',
        ),
    );
    const counts = Object.entries(s.refusals.byCode);
    $('refusals').replaceChildren(
        h('p', {}, counts.length ? counts.map(([code, n]) => h('span', { class: 'tag' }, `${code}: ${n}`)) : 'none since start'),
        table(
            'Newest first (since this worker started)',
            [{ label: 'Time' }, { label: 'Status', num: true }, { label: 'Reason' }, { label: 'Message' }],
            s.refusals.recent.map((r) => [when(r.at), String(r.status), h('code', {}, r.code), r.message]),
            'nothing refused',
        ),
    );
}

const charts = {};
async function refreshSeries() {
    const s = await api('/api/series');
    charts.money ??= timeChart($('money-chart'), 'Earned, unclaimed and claimed, in TON, over time', [
        { label: 'earned', stroke: '#0b5cad' },
        { label: 'unclaimed', stroke: '#8a5300' },
        { label: 'claimed', stroke: '#146c2e' },
    ]);
    const tonOf = (n) => Number(BigInt(n)) / 1e9;
    charts.money.update([s.samples.map((p) => p.at), s.samples.map((p) => tonOf(p.earned)), s.samples.map((p) => tonOf(p.unclaimed)), s.samples.map((p) => tonOf(p.claimed))]);
    charts.rates ??= timeChart($('rates-chart'), 'Requests per second and tokens per second', [
        { label: 'requests/s', stroke: '#a4161a', scale: 'n' },
        { label: 'tokens/s', stroke: '#0b5cad' },
    ]);
    charts.rates.update([s.rates.map((p) => p.at), s.rates.map((p) => p.requestsPerSec), s.rates.map((p) => p.tokensPerSec)]);
    charts.minute ??= timeChart($('minute-chart'), 'TON earned per minute', [{ label: 'TON earned', stroke: '#0b5cad' }]);
    charts.minute.update([s.earnedPerMinute.map((p) => p.at), s.earnedPerMinute.map((p) => tonOf(p.earned))]);
}

every(3000, refreshSummary);
every(5000, refreshSeries);
// The countdown moves every second between refreshes.
setInterval(() => {
    const el = $('attestation-expiry');
    if (el && expiry) el.textContent = countdown(expiry);
}, 1000);
