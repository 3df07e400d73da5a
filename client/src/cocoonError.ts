/**
 * The one error the SDK throws at its callers. It carries the HTTP status
 * and code the gateway answers the app with, so a failure deep in a channel
 * or a receipt reaches the app as what it is.
 */
export class CocoonError extends Error {
    constructor(
        readonly status: number,
        readonly code: string,
        message: string,
        /** True once any token reached the caller: another worker must not be tried. */
        readonly delivered = false,
        /** receipt_rejected: the names of the receipt rules broken (./receipts/rules.ts). */
        readonly rules?: readonly string[],
    ) {
        super(message);
        this.name = 'CocoonError';
    }
}
