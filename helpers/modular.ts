/** Modular arithmetic on bigints, for the curve and RSA code that computes hints off chain. */

/** x mod m in [0, m). */
export function mod(x: bigint, m: bigint): bigint {
    const r = x % m;
    return r < 0n ? r + m : r;
}

/** The inverse of a mod m (extended Euclid); throws when there is none. */
export function modInv(a: bigint, m: bigint): bigint {
    let [r0, r1, t0, t1] = [m, mod(a, m), 0n, 1n];
    while (r1 !== 0n) {
        const q = r0 / r1;
        [r0, r1] = [r1, r0 - q * r1];
        [t0, t1] = [t1, t0 - q * t1];
    }
    if (r0 !== 1n) throw new Error('not invertible');
    return mod(t0, m);
}

/** b^e mod m, for e >= 0. */
export function modPow(b: bigint, e: bigint, m: bigint): bigint {
    let r = 1n;
    b = mod(b, m);
    while (e > 0n) {
        if (e & 1n) r = (r * b) % m;
        b = (b * b) % m;
        e >>= 1n;
    }
    return r;
}
