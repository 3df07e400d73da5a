import { api, every, h, say, short, ton, when } from '/assets/console.js';

// The devnet's message chains (one block each), decoded with the project's wrappers.

const main = document.getElementById('main');
const status = document.getElementById('status');
const messages = h('div');

function accountHash(address) {
    return `#account=${encodeURIComponent(address)}`;
}

function accountRef(address, accounts) {
    if (!address) return h('span', { class: 'muted' }, 'outside');
    const a = accounts[address];
    const name = a?.label ?? a?.kind;
    return h('a', { href: accountHash(address), title: address }, name ? `${name} ` : '', h('code', {}, short(address, 6)));
}

function bodyText(body) {
    switch (body.kind) {
        case 'message':
            return h('strong', { class: 'op' }, body.name);
        case 'comment':
            return h('span', {}, 'comment ', h('q', {}, body.text));
        case 'bounced':
            return h('span', { class: 'warn' }, `bounced ${body.name ?? (body.op === null ? '' : '0x' + body.op.toString(16))}`);
        case 'empty':
            return h('span', { class: 'muted' }, 'no body');
        default:
            return h('span', { class: 'muted' }, body.op === null ? 'unreadable body' : `op 0x${body.op.toString(16).padStart(8, '0')}`);
    }
}

function exitText(tx) {
    const c = tx.compute;
    if (!c) return h('span', { class: 'muted' }, 'no compute phase');
    if (c.skipped) return h('span', { class: 'muted' }, `skipped (${c.reason})`);
    const ok = c.success && !tx.aborted && (!tx.action || tx.action.success);
    const parts = [h('span', { class: ok ? 'ok exit' : 'bad exit' }, c.exitName ? `${c.exitName} (${c.exitCode})` : ok ? 'success' : `exit ${c.exitCode}`)];
    if (tx.action && !tx.action.success) parts.push(h('span', { class: 'bad' }, ` action ${tx.action.resultName ?? tx.action.resultCode}`));
    return parts;
}

function fields(body) {
    if (body.kind !== 'message' || Object.keys(body.fields).length === 0) return null;
    return h(
        'details',
        {},
        h('summary', {}, `${body.name} fields`),
        h(
            'dl',
            { class: 'mono' },
            Object.entries(body.fields).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))]),
        ),
    );
}

function transaction(tx, accounts) {
    const m = tx.in;
    return h(
        'li',
        { class: 'tx', 'data-hash': tx.hash },
        h(
            'div',
            {},
            accountRef(tx.account, accounts),
            ' ← ',
            m ? bodyText(m.body) : 'no message',
            m?.value ? ` · ${ton(m.value)}` : '',
            m?.type === 'internal' ? [' from ', accountRef(m.from, accounts)] : m?.type === 'external-in' ? ' (external)' : '',
            ' · ',
            exitText(tx),
            h('span', { class: 'muted' }, ` · fee ${ton(tx.fees)} · lt ${tx.lt}`),
        ),
        m ? fields(m.body) : null,
        tx.out.length
            ? h(
                  'ul',
                  { class: 'chain' },
                  tx.out.map((o) => h('li', {}, '→ ', bodyText(o.body), o.value ? ` · ${ton(o.value)}` : '', ' to ', accountRef(o.to, accounts))),
              )
            : null,
    );
}

// Redrawn only when something changed, so an opened detail stays open.
let shown = '';
function changed(key) {
    if (key === shown) return false;
    shown = key;
    return true;
}

async function showChains() {
    const data = await api('/explorer/api/blocks?limit=30');
    status.textContent = `block ${data.seqno} · chain time ${when(data.now)}`;
    if (!changed(`chains ${data.seqno}`)) return;
    main.replaceChildren(
        h(
            'section',
            { class: 'card wide' },
            h('h2', {}, 'Recent message chains'),
            messages,
            data.blocks.map((b) =>
                h(
                    'article',
                    { class: 'block', 'data-seqno': b.seqno },
                    h('h3', {}, `Block ${b.seqno} · ${when(b.time)} · ${b.transactions.length} transaction${b.transactions.length === 1 ? '' : 's'}`),
                    h(
                        'ol',
                        {},
                        b.transactions.map((t) => transaction(t, data.accounts)),
                    ),
                ),
            ),
        ),
    );
}

async function showAccount(address) {
    const data = await api(`/explorer/api/accounts/${encodeURIComponent(address)}`);
    const a = data.account;
    status.textContent = '';
    if (!changed(`account ${a.address} ${a.balance} ${data.transactions[0]?.lt}`)) return;
    main.replaceChildren(
        h(
            'section',
            { class: 'card wide' },
            h('h2', {}, a.label ?? a.kind ?? 'Account'),
            messages,
            h(
                'dl',
                {},
                h('dt', {}, 'Address'),
                h('dd', {}, h('code', { id: 'account-address' }, a.address)),
                h('dt', {}, 'Contract'),
                h('dd', {}, a.kind ?? 'unknown code'),
                h('dt', {}, 'State'),
                h('dd', {}, a.state),
                h('dt', {}, 'Balance'),
                h('dd', { id: 'account-balance' }, ton(a.balance)),
            ),
            h('h3', {}, `Transactions (newest first, ${data.transactions.length})`),
            h(
                'ol',
                {},
                data.transactions.map((t) => transaction(t, { ...data.accounts, [a.address]: a })),
            ),
        ),
    );
}

function route() {
    const m = /^#account=(.+)$/.exec(location.hash);
    return m ? () => showAccount(decodeURIComponent(m[1])) : showChains;
}

let timer;
function start() {
    clearInterval(timer);
    shown = '';
    const show = route();
    timer = every(2000, show, (e) => say(messages, e.message, 'error'));
}

document.getElementById('search').addEventListener('submit', (e) => {
    e.preventDefault();
    const address = e.target.elements.address.value.trim();
    if (address) location.hash = accountHash(address);
});
window.addEventListener('hashchange', start);
start();
