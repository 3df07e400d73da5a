import { z } from 'zod';
import { DEVNET_DEFAULT_HOST, DEVNET_DEFAULT_PORT, DEVNET_MNEMONIC } from '../wrappers/devnet';

/** Validated devnet settings (CLI flags and the programmatic API share it). */
export const DevnetConfigSchema = z
    .object({
        host: z.string().min(1).default(DEVNET_DEFAULT_HOST),
        /** 0 picks a free port (tests). */
        port: z.coerce.number().int().min(0).max(65535).default(DEVNET_DEFAULT_PORT),
        /** State file; in-memory chain when absent. */
        state: z.string().min(1).optional(),
        /** Chain seconds per wall-clock second. */
        timeScale: z.coerce.number().positive().max(1_000_000).default(1),
        mnemonic: z
            .string()
            .default(DEVNET_MNEMONIC)
            .refine((m) => m.trim().split(/\s+/).length === 24, 'mnemonic must have 24 words'),
        /** Development accounts per wallet version (V4R2 and V5R1). */
        accounts: z.coerce.number().int().min(1).max(100).default(4),
        /** Initial balance of each development wallet, in TON. */
        walletBalance: z.coerce.number().positive().max(1_000_000_000).default(100_000),
        /** Delay before each queued message chain is processed (a block interval), ms. */
        blockDelay: z.coerce.number().int().min(0).max(60_000).default(0),
        logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** Coalesces state saves after bursts of activity, ms. */
        saveDebounce: z.coerce.number().int().min(0).max(60_000).default(200),
    })
    .strict();

export type DevnetConfig = z.infer<typeof DevnetConfigSchema>;
export type DevnetConfigInput = z.input<typeof DevnetConfigSchema>;

/** Parses settings, with messages naming the offending field. */
export function parseDevnetConfig(input: DevnetConfigInput): DevnetConfig {
    const parsed = DevnetConfigSchema.safeParse(input);
    if (!parsed.success) {
        throw new Error('invalid devnet settings: ' + parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
    }
    return parsed.data;
}
