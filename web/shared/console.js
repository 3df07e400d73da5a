// What every Cocoon page shares: talking to its own server, formatting TON,
// building the DOM, charts (uPlot, served by the same server) and live updates.

const KEY_STORAGE = 'cocoon-console-key';

/** Thrown when the server wants an API key the page does not have (or has wrong). */
export class NeedsKey extends Error {}

/** GETs or POSTs JSON on this page's server, with the API key the user gave, if any. */
export async function api(path, { method = 'GET', body } = {}) {
    const headers = { accept: 'application/json' };
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (key) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await res.json().catch(() => ({}));
    if (res.status === 401) throw new NeedsKey(data?.error?.message ?? 'an API key is needed');
    if (!res.ok) throw new Error(data?.error?.message ?? `${res.status} ${res.statusText}`);
    return data;
}

/** Asks for the API key (kept for this browser tab only) and reloads. */
export function askForKey(container, why) {
    container.replaceChildren(
        h(
            'section',
            { class: 'card wide' },
            h('h2', {}, 'API key'),
            h('p', {}, `${why}. Enter one of the keys this server was started with; it is kept in this tab only.`),
            h(
                'form',
                {
                    onsubmit: (e) => {
                        e.preventDefault();
                        sessionStorage.setItem(KEY_STORAGE, e.target.elements.key.value);
                        location.reload();
                    },
                },
                h('label', { for: 'api-key' }, 'API key'),
                h('div', { class: 'row' }, h('input', { id: 'api-key', name: 'key', type: 'password', autocomplete: 'off' }), h('button', { type: 'submit' }, 'Use key')),
            ),
        ),
    );
}

/** An element: h('a', { href, class, onclick }, 'text', child, ...). */
export function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
    return el;
}

/** nanoTON (a decimal string or bigint) as TON, exact, without trailing zeros. */
export function ton(nano, unit = ' TON') {
    if (nano === undefined || nano === null) return '–';
    const n = BigInt(nano);
    const neg = n < 0n;
    const a = neg ? -n : n;
    const frac = (a % 1000000000n).toString().padStart(9, '0').replace(/0+$/, '');
    return `${neg ? '-' : ''}${a / 1000000000n}${frac ? '.' + frac : ''}${unit}`;
}

/** A price in nanoTON per million tokens, shown in TON per million tokens. */
export function perMillion(nano) {
    return ton(nano, ' TON/M');
}

/** A long address or hash cut to its ends (the whole in the title). */
export function short(text, keep = 6) {
    const s = String(text ?? '');
    return s.length <= keep * 2 + 1 ? s : `${s.slice(0, keep)}…${s.slice(-keep)}`;
}

/** An address: linked to the devnet explorer when there is one, else plain. */
export function account(address, explorer) {
    if (!address) return '–';
    const text = h('code', { title: address }, short(address, 8));
    return explorer ? h('a', { href: `${explorer}#account=${encodeURIComponent(address)}`, title: `${address} in the devnet explorer` }, text) : text;
}

/** Unix seconds as local date and time. */
export function when(unix) {
    if (!unix) return '–';
    return new Date(Number(unix) * 1000).toLocaleString();
}

/** Seconds from now to `unix` as "3 d 4 h", "12 min 5 s", or "expired". */
export function countdown(unix, now = Date.now() / 1000) {
    let s = Math.floor(Number(unix) - now);
    if (s <= 0) return 'expired';
    const parts = [];
    for (const [n, u] of [
        [86400, 'd'],
        [3600, 'h'],
        [60, 'min'],
        [1, 's'],
    ]) {
        if (s >= n || (u === 's' && parts.length === 0)) {
            parts.push(`${Math.floor(s / n)} ${u}`);
            s %= n;
        }
        if (parts.length === 2) break;
    }
    return parts.join(' ');
}

/** A table: columns [{ label, num? }], rows of cells (text or elements). */
export function table(caption, columns, rows, empty = 'nothing yet') {
    return h(
        'table',
        {},
        h('caption', {}, caption),
        h(
            'thead',
            {},
            h(
                'tr',
                {},
                columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : undefined }, c.label)),
            ),
        ),
        h(
            'tbody',
            {},
            rows.length === 0
                ? h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, empty))
                : rows.map((r) =>
                      h(
                          'tr',
                          {},
                          r.map((cell, i) => h('td', { class: columns[i]?.num ? 'num' : undefined }, cell)),
                      ),
                  ),
        ),
    );
}

/** Big labelled figures. */
export function figures(list) {
    return h(
        'div',
        { class: 'figures' },
        list.map(([label, value, id]) => h('div', { class: 'figure' }, h('div', { class: 'label' }, label), h('div', { class: 'value', id }, value))),
    );
}

/**
 * A time chart (uPlot): `series` [{ label, stroke }], data set by update([[unix...], [y...], ...]).
 * The chart is described for screen readers by its label and its last values.
 */
export function timeChart(container, label, series, { yLabel } = {}) {
    const holder = h('div', { class: 'chart', role: 'img', 'aria-label': label });
    container.replaceChildren(holder);
    let plot;
    let lastWidth = 0;
    return {
        update(data) {
            const width = Math.max(300, holder.clientWidth || container.clientWidth || 400);
            if (!plot || width !== lastWidth) {
                plot?.destroy();
                lastWidth = width;
                // A series may have a scale of its own (a count beside an amount): its axis is on the right.
                const second = series.find((s) => s.scale);
                plot = new window.uPlot(
                    {
                        width,
                        height: 200,
                        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, scale: s.scale ?? 'y', width: 2, points: { show: true, size: 5 } }))],
                        axes: [{}, { scale: 'y', label: yLabel, size: 70 }, ...(second ? [{ scale: second.scale, side: 1, size: 50, grid: { show: false } }] : [])],
                        scales: {
                            // Set from the data on every update (below): a lone point gets a few minutes around it, not years.
                            x: { time: true, auto: false },
                            y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
                            ...(second ? { [second.scale]: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } } : {}),
                        },
                    },
                    data,
                    holder,
                );
            } else plot.setData(data);
            const xs = data[0];
            const now = Date.now() / 1000;
            const min = xs.length ? xs[0] : now - 300;
            const max = xs.length ? xs[xs.length - 1] : now;
            plot.setScale('x', max - min < 60 ? { min: min - 300, max: max + 60 } : { min, max });
            const last = series.map((s, i) => `${s.label} ${data[i + 1]?.at(-1) ?? 'none'}`).join(', ');
            holder.setAttribute('aria-label', `${label}: ${data[0].length} points; latest ${last}`);
            holder.dataset.points = String(data[0].length);
        },
    };
}

/**
 * Keeps a page's refreshes going: each runs every few seconds, an error shows in `status`,
 * and a missing or wrong API key stops them all and asks for one in `main`.
 */
export function refresher(status, main) {
    let stopped = false;
    const failed = (e) => {
        if (e instanceof NeedsKey) {
            stopped = true;
            askForKey(main, e.message);
        } else status.textContent = `error: ${e.message}`;
    };
    return {
        failed,
        every: (ms, fn) => every(ms, () => (stopped ? undefined : fn()), failed),
    };
}

/** Runs `fn` now and every `ms` (skipping while the tab is hidden); errors go to `onError`. */
export function every(ms, fn, onError) {
    let running = false;
    const tick = async () => {
        if (running || document.hidden) return;
        running = true;
        try {
            await fn();
        } catch (e) {
            onError(e);
        } finally {
            running = false;
        }
    };
    void tick();
    return setInterval(tick, ms);
}

/** A message line (info or error) that replaces the previous one in `box`. */
export function say(box, text, kind = 'info') {
    box.replaceChildren(text ? h('div', { class: `message ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text) : '');
}
