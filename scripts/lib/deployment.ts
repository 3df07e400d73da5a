import { promises as fs } from 'fs';
import * as path from 'path';
import { z } from 'zod';

/**
 * The addresses file that deployNetwork writes and the worker, the gateway
 * and the client read: `deployments/<network>.json`, or the path in
 * COCOON_DEPLOYMENT.
 */
export const DeploymentSchema = z.object({
    /** devnet, testnet, mainnet or custom. */
    network: z.string().min(1),
    /** toncenter v2 endpoint used for the deployment, when known. */
    endpoint: z.string().optional(),
    updatedAt: z.string(),
    /** Wallet that deployed and owns the contracts. */
    owner: z.string(),
    /** Contract name (camelCase) to address; grows as contracts land. */
    contracts: z.object({ registry: z.string() }).catchall(z.string()),
    devImageHash: z.string().regex(/^[0-9a-f]{64}$/),
    /** The model allow-listed with the network: its id and name. */
    devModelId: z.string().regex(/^[0-9a-f]{64}$/),
    devModelName: z.string(),
    /** Timelocked proposals still to execute (testnet/mainnet), with the command to do it. */
    pendingProposals: z.array(z.object({ id: z.string(), what: z.string(), executeAfter: z.number(), command: z.string() })),
});

export type Deployment = z.infer<typeof DeploymentSchema>;

export function deploymentPath(network: string, env: NodeJS.ProcessEnv = process.env): string {
    if (env.COCOON_DEPLOYMENT) return path.resolve(env.COCOON_DEPLOYMENT);
    if (!/^[a-z0-9-]+$/i.test(network)) throw new Error(`unusable network name "${network}"`);
    return path.resolve('deployments', `${network}.json`);
}

/** The deployment at `file`, undefined when there is none; a malformed file is an error. */
export async function readDeployment(file: string): Promise<Deployment | undefined> {
    let text: string;
    try {
        text = await fs.readFile(file, 'utf8');
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
    }
    const parsed = DeploymentSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${file} is not a valid deployment file: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return parsed.data;
}

/** Writes atomically (temp file, then rename), so readers never see half a file. */
export async function writeDeployment(file: string, deployment: Deployment): Promise<void> {
    const checked = DeploymentSchema.parse(deployment);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    await fs.writeFile(tmp, JSON.stringify(checked, null, 2) + '\n');
    await fs.rename(tmp, file);
}
