/**
 * Amounts in time, added up per minute (each minute by its first second,
 * unix s), oldest first, with how many fell in it: what the pages' charts of
 * spend and earnings plot. Minutes with nothing are left out.
 */
export function perMinute(rows: Iterable<{ at: number; amount: bigint }>): Array<{ at: number; amount: bigint; count: number }> {
    const minutes = new Map<number, { amount: bigint; count: number }>();
    for (const r of rows) {
        const at = Math.floor(r.at / 60) * 60;
        const m = minutes.get(at) ?? { amount: 0n, count: 0 };
        m.amount += r.amount;
        m.count++;
        minutes.set(at, m);
    }
    return [...minutes.entries()].sort((a, b) => a[0] - b[0]).map(([at, m]) => ({ at, ...m }));
}
