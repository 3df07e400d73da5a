import { account, api, countdown, refresher, figures, h, perMillion, say, short, table, timeChart, ton, when } from '/assets/console.js';

// The gateway console: what this gateway sees of the network, spends and serves.

const $ = (id) => document.getElementById(id);
const status = $('status');
let explorer = null;

const { failed, every } = refresher($('status'), $('main'));

function setExplorer(url) {
    explorer = url;
    const link = $('explorer-link');
    if (url) {
        link.href = url;
        link.hidden = false;
    }
}

// Spend and requests per minute.
const spendChart = { plot: null };
async function refreshActivity() {
    const a = await api('/console/api/activity');
    setExplorer(a.explorer);
    const total = a.spend.reduce((s, p) => s + BigInt(p.cost), 0n);
    const requests = a.spend.reduce((s, p) => s + p.requests, 0);
    $('totals').replaceChildren(
        figures([
            ['Spent, last 24 h', ton(total), 'total-spent'],
            ['Paid requests, last 24 h', String(requests), 'total-requests'],
            ['Receipts refused', String(a.refused.length), 'total-refused'],
        ]),
    );
    spendChart.plot ??= timeChart($('spend-chart'), 'Spend per minute in TON, and requests per minute', [
        { label: 'TON spent', stroke: '#0b5cad' },
        { label: 'requests', stroke: '#a4161a', scale: 'n' },
    ]);
    spendChart.plot.update([a.spend.map((p) => p.at), a.spend.map((p) => Number(BigInt(p.cost)) / 1e9), a.spend.map((p) => p.requests)]);
    $('requests').replaceChildren(
        table(
            'Newest first; each receipt was verified (signature, prices, cumulative order) before its voucher was signed',
            [{ label: 'Time' }, { label: 'Model' }, { label: 'Worker' }, { label: 'Channel' }, { label: 'Cost', num: true }, { label: 'Receipt' }],
            [
                ...a.refused.map((r) => [when(r.at), '–', account(r.workerStake, explorer), account(r.channel, explorer), '–', h('span', { class: 'bad' }, `refused: ${r.reason}`)]),
                ...a.requests.map((r) => [
                    when(r.at),
                    short(r.model, 12),
                    account(r.workerStake, explorer),
                    account(r.channel, explorer),
                    ton(r.cost),
                    h(
                        'details',
                        { class: 'receipt' },
                        h('summary', {}, h('span', { class: 'ok verified' }, 'verified'), ` request ${r.requestId}`),
                        h('div', { class: 'mono' }, `cumulative ${ton(r.cumulative)}; receipt BoC ${r.receipt}`),
                    ),
                ]),
            ],
            'no paid request yet: try the playground',
        ),
    );
}

// Channels, with their actions.
async function channelAction(path, body, what, question) {
    if (!window.confirm(question)) return;
    const box = $('channels-message');
    say(box, `${what}…`);
    try {
        const r = await api(path, { method: 'POST', body });
        say(box, `${what}: done ${JSON.stringify(r)}`);
        await refreshChannels();
    } catch (e) {
        say(box, `${what} failed: ${e.message}`, 'error');
    }
}

async function refreshChannels() {
    const c = await api('/console/api/channels');
    setExplorer(c.explorer);
    $('channels').replaceChildren(
        table(
            'Deposit, paid (vouchers signed) and balance left, in TON',
            [
                { label: 'Channel' },
                { label: 'Worker' },
                { label: 'State' },
                { label: 'Deposit', num: true },
                { label: 'Paid', num: true },
                { label: 'Balance', num: true },
                { label: 'Receipts', num: true },
                { label: 'Actions' },
            ],
            c.channels.map((ch, i) => {
                const id = `top-up-${i}`;
                const amount = h('input', { id, size: 6, value: '1', inputmode: 'decimal' });
                return [
                    account(ch.address, explorer),
                    account(ch.workerStake, explorer),
                    h('span', { class: ch.state === 'open' ? 'ok' : 'muted', 'data-state': ch.state }, ch.state),
                    ton(ch.deposit),
                    ton(ch.paid),
                    h('span', { class: 'balance', 'data-nano': ch.balance }, ton(ch.balance)),
                    String(ch.receipts),
                    ch.state === 'open'
                        ? h(
                              'div',
                              { class: 'row' },
                              h('label', { for: id }, 'TON'),
                              amount,
                              h(
                                  'button',
                                  {
                                      class: 'secondary',
                                      onclick: () =>
                                          channelAction(
                                              `/console/api/channels/${encodeURIComponent(ch.address)}/top-up`,
                                              { amount: amount.value },
                                              'top-up',
                                              `Add ${amount.value} TON to the deposit of channel ${ch.address}?`,
                                          ),
                                  },
                                  'Top up',
                              ),
                              h(
                                  'button',
                                  {
                                      onclick: () =>
                                          channelAction(
                                              `/console/api/channels/${encodeURIComponent(ch.address)}/close`,
                                              {},
                                              'close',
                                              `Close channel ${ch.address}? The worker is paid what the receipts say and the rest comes back to this gateway's wallet.`,
                                          ),
                                  },
                                  'Close',
                              ),
                          )
                        : '',
                ];
            }),
            'no channel yet: the first paid request opens one',
        ),
    );
}

// The network: models and workers.
function priceRange(r) {
    return r.min === r.max ? perMillion(r.min) : `${perMillion(r.min)} – ${perMillion(r.max)}`;
}

const models = new Set();
async function refreshNetwork() {
    const n = await api('/console/api/network');
    setExplorer(n.explorer);
    status.textContent = `${n.workers.filter((w) => w.attestation.verified).length} verified worker(s), ${n.models.length} model(s) served · updated ${new Date().toLocaleTimeString()}`;
    $('models').replaceChildren(
        table(
            'Models with live verified workers; prices in TON per million tokens',
            [{ label: 'Model' }, { label: 'Workers', num: true }, { label: 'Prompt' }, { label: 'Completion' }, { label: 'Context', num: true }],
            n.models.map((m) => [m.id, String(m.workers), priceRange(m.pricing.prompt), priceRange(m.pricing.completion), m.context_length ?? '–']),
            'no model has a live verified worker',
        ),
    );
    $('workers').replaceChildren(
        table(
            'Attestation and stake as the chain records them; success, latency and time to first token as this gateway measured them',
            [
                { label: 'Worker' },
                { label: 'Model' },
                { label: 'Attestation' },
                { label: 'Image' },
                { label: 'Prompt / completion' },
                { label: 'Stake', num: true },
                { label: 'Status' },
                { label: 'Slashes', num: true },
                { label: 'Success', num: true },
                { label: 'Latency', num: true },
                { label: 'First token', num: true },
            ],
            n.workers.map((w) => [
                account(w.workerStake, explorer),
                short(w.model, 12),
                w.attestation.verified
                    ? h('span', { class: 'ok attestation' }, `verified, expires in ${countdown(w.attestation.expiresAt)}`)
                    : h('span', { class: 'bad attestation' }, `not used: ${w.attestation.problem}`),
                h('code', { title: w.imageHash }, short(w.imageHash, 6)),
                w.prices.prompt ? `${perMillion(w.prices.prompt)} / ${perMillion(w.prices.completion)}` : '–',
                w.stake === null ? '–' : ton(w.stake),
                w.status ?? '–',
                w.slashes === null ? '–' : `${w.slashes}${w.slashes !== '0' ? ` (${ton(w.slashedTotal)})` : ''}`,
                w.measured.successRate === null ? '–' : `${Math.round(w.measured.successRate * 100)}% of ${w.measured.ok + w.measured.failed}`,
                w.measured.latencyMs === null ? '–' : `${w.measured.latencyMs} ms`,
                w.measured.ttftMs === null ? '–' : `${w.measured.ttftMs} ms`,
            ]),
            'no worker found on chain',
        ),
    );
    const select = $('pg-model');
    for (const m of n.models)
        if (!models.has(m.id)) {
            models.add(m.id);
            select.append(h('option', { value: m.id }, m.id));
        }
}

// The playground: a streamed chat completion through this gateway's own API.
$('playground').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = e.target.elements;
    const out = $('pg-answer');
    const costBox = $('pg-cost');
    const send = $('pg-send');
    out.textContent = '';
    say(costBox, 'waiting for the first token…');
    send.disabled = true;
    try {
        const headers = { 'content-type': 'application/json' };
        const key = sessionStorage.getItem('cocoon-console-key');
        if (key) headers.authorization = `Bearer ${key}`;
        const res = await fetch('/v1/chat/completions', {
            method: 'POST',
            headers,
            body: JSON.stringify({ model: f.model.value, messages: [{ role: 'user', content: f.prompt.value }], max_tokens: Number(f.maxTokens.value), stream: true }),
        });
        if (!res.ok) throw new Error((await res.json().catch(() => ({})))?.error?.message ?? `${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        let last = null;
        for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            const events = buffer.split('\n\n');
            buffer = events.pop();
            for (const ev of events) {
                const data = ev.replace(/^data: /, '');
                if (data === '[DONE]') continue;
                const chunk = JSON.parse(data);
                if (chunk.error) throw new Error(chunk.error.message);
                out.textContent += chunk.choices?.[0]?.delta?.content ?? '';
                if (chunk.cost !== undefined) last = chunk;
            }
        }
        if (!last) throw new Error('the stream ended without its receipt');
        costBox.replaceChildren(
            h(
                'div',
                { class: 'message info', role: 'status' },
                'Cost ',
                h('strong', { id: 'pg-cost-value', 'data-nano': last.cost }, ton(last.cost)),
                ` for ${last.usage?.prompt_tokens ?? '?'} prompt + ${last.usage?.completion_tokens ?? '?'} completion tokens · receipt `,
                h('code', { id: 'pg-receipt' }, last.receipt?.requestId ?? 'none'),
                ' verified and paid to ',
                account(last.worker, explorer),
            ),
        );
        void refreshActivity().catch(failed);
        void refreshChannels().catch(failed);
    } catch (err) {
        say(costBox, `failed: ${err.message}`, 'error');
    } finally {
        send.disabled = false;
    }
});

every(3000, refreshActivity);
every(3000, refreshChannels);
every(5000, refreshNetwork);
