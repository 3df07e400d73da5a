import { createHash } from 'crypto';

/**
 * Constants shared by the local development network (devnet/), the deploy
 * script and the embedded default. Nothing here is secret: the mnemonic is
 * printed by `cocoon-devnet` on every start and must never hold real funds.
 */

/** Image hash of the development (simulated) enclave image. */
export const DEV_IMAGE_HASH = BigInt('0x' + createHash('sha256').update('cocoon-dev-image').digest('hex'));
/**
 * The one default model name: what `npm start` serves, what every command
 * that asks for a model assumes, and what a worker in front of an
 * OpenAI-compatible server advertises unless told otherwise.
 */
export const DEFAULT_MODEL_NAME = 'cocoon-demo';
/**
 * The model a new network allow-lists under the default name when it is given
 * no other: the hash of the name, the id of a worker serving it through an
 * OpenAI-compatible upstream. (`npm start` allow-lists its demo GGUF's hash
 * under the same name instead.)
 */
export const DEV_MODEL_ID = BigInt('0x' + createHash('sha256').update(DEFAULT_MODEL_NAME).digest('hex'));

/**
 * The fixed development mnemonic (a valid 24-word TON mnemonic). The devnet
 * pre-funds the V4R2 and V5R1 wallets derived from it, so `blueprint run
 * --mnemonic` works against a fresh devnet with no set-up.
 */
export const DEVNET_MNEMONIC =
    'laptop excuse upon system pair faint toilet december police unveil position advance minute title worth lounge enhance various theory weather clump timber crumble sphere';

export const DEVNET_DEFAULT_HOST = '127.0.0.1';
export const DEVNET_DEFAULT_PORT = 8081;
/** Path of the toncenter v2 JSON-RPC endpoint on a devnet (and on toncenter). */
export const JSON_RPC_PATH = '/api/v2/jsonRPC';

/**
 * The development key that signs `simulated` attestation evidence on local
 * networks (DESIGN.md section 4). Derived from a public seed: it proves
 * nothing and the Registry of a production network never trusts it.
 */
export function devSimulatedAttestationKey(): { publicKey: Buffer; secretKey: Buffer } {
    // keyPairFromSeed is synchronous in @ton/crypto.

    const { keyPairFromSeed } = require('@ton/crypto') as typeof import('@ton/crypto');
    return keyPairFromSeed(createHash('sha256').update('cocoon-dev-simulated-attestation-key').digest());
}

/**
 * The explorer of the devnet serving `endpoint` (a toncenter v2 JSON-RPC
 * URL), or undefined when the endpoint is not a Cocoon devnet (a real
 * network has its own explorers): pages link accounts to it.
 */
export async function devnetExplorerOf(endpoint: string): Promise<string | undefined> {
    if (!endpoint.endsWith(JSON_RPC_PATH)) return undefined;
    const base = endpoint.slice(0, -JSON_RPC_PATH.length);
    try {
        const res = await fetch(`${base}/devnet/info`, { signal: AbortSignal.timeout(3000) });
        const body = (await res.json()) as { result?: { devnet?: boolean } };
        return res.ok && body.result?.devnet === true ? `${base}/explorer/` : undefined;
    } catch {
        return undefined;
    }
}
