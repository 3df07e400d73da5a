/**
 * `npm start`: the embedded default. Starts a local devnet (the toncenter v2
 * API over @ton/sandbox, see devnet/) and deploys the Cocoon network into it
 * through Blueprint's own toncenter network provider and the same
 * `deployNetwork` script used on testnet and mainnet; then prints the
 * addresses and next steps and serves the chain until Ctrl-C.
 *
 * Environment: COCOON_DEVNET_PORT (8081), COCOON_DEVNET_STATE (the chain
 * file, temp/devnet/state.json; "memory" for none), COCOON_LOG_LEVEL (warn),
 * COCOON_DEPLOYMENT (deployments/devnet.json).
 *
 * The development image and model constants moved to wrappers/devnet.ts;
 * they are re-exported here for existing importers.
 */
import { createNetworkProvider } from '@ton/blueprint';
import * as path from 'path';
import { startDevnet } from '../../devnet/server';
import { describeDevnet } from '../../devnet/cli';
import { DEVNET_MNEMONIC, DEV_IMAGE_HASH, DEV_MODEL_ID } from '../../wrappers/devnet';
import { run as deployNetwork } from '../deployNetwork';
import { hex256 } from '../lib/cli';
import { ScriptedUI } from '../lib/sandboxProvider';

export { DEV_IMAGE_HASH, DEV_MODEL_ID };

async function main() {
    const stateEnv = process.env.COCOON_DEVNET_STATE;
    const state = stateEnv === 'memory' ? undefined : path.resolve(stateEnv ?? 'temp/devnet/state.json');
    const devnet = await startDevnet({
        port: Number(process.env.COCOON_DEVNET_PORT ?? 8081),
        state,
        logLevel: (process.env.COCOON_LOG_LEVEL as 'warn' | undefined) ?? 'warn',
    });
    let stopping = false;
    const stop = async (code: number) => {
        if (stopping) return;
        stopping = true;
        await devnet.close();
        process.exit(code);
    };
    process.on('SIGINT', () => void stop(0));
    process.on('SIGTERM', () => void stop(0));
    console.log(describeDevnet(devnet) + '\n');

    try {
        // Exactly what `npx blueprint run deployNetwork --custom <endpoint> --custom-version v2 --custom-type custom --mnemonic` builds.
        process.env.WALLET_MNEMONIC = DEVNET_MNEMONIC;
        process.env.WALLET_VERSION = 'v4r2';
        const args = { _: [], '--custom': devnet.endpoint, '--custom-version': 'v2', '--custom-type': 'custom', '--mnemonic': true };
        const provider = await createNetworkProvider(new ScriptedUI([], true), args as unknown as Parameters<typeof createNetworkProvider>[1], undefined);
        const { registry, deployment, file } = await deployNetwork(provider, []);

        console.log('\nCocoon network (local devnet):');
        console.log(`  toncenter API      ${devnet.endpoint}`);
        console.log(`  owner wallet       ${provider.sender().address?.toString()} (v4r2, development mnemonic)`);
        console.log(`  Registry           ${registry.address.toString()}`);
        console.log(`  Staking            ${deployment.contracts.staking}`);
        console.log(`  Escrow             ${deployment.contracts.escrow}`);
        console.log(`  Verifier           ${deployment.contracts.attestationVerifier}`);
        console.log(`  config version     ${await registry.getConfigVersion()}`);
        console.log(`  dev image allowed  ${hex256(DEV_IMAGE_HASH)}: ${await registry.getImageAllowed(DEV_IMAGE_HASH)}`);
        console.log(`  dev model allowed  ${hex256(DEV_MODEL_ID)}: ${await registry.getModelAllowed(DEV_MODEL_ID)}`);
        console.log(`  addresses file     ${file}`);
        console.log('\nNext steps:');
        console.log('  - stake a worker: npx blueprint run stakeWorker ... (see README), then attest it with simulated');
        console.log('    evidence signed by the development key (wrappers/devnet.ts); this network allows it');
        console.log(`  - point the worker and the gateway at ${devnet.endpoint} and ${file}`);
        console.log(`  - run any script against it: WALLET_MNEMONIC="<mnemonic above>" WALLET_VERSION=v4r2 npx blueprint run <script> --custom ${devnet.endpoint} --custom-version v2 --custom-type custom --mnemonic`);
        console.log(`  - move chain time: curl -X POST ${devnet.url}/admin/advance-time -H 'content-type: application/json' -d '{"seconds":600}'`);
        console.log(`  - fund an address: curl -X POST ${devnet.url}/admin/faucet -H 'content-type: application/json' -d '{"address":"<addr>","amount":"10"}'`);
        console.log(`\nServing the devnet${state ? ` (state in ${state})` : ''}; Ctrl-C to stop.`);
    } catch (error) {
        console.error(error instanceof Error ? error.message : error);
        await stop(1);
    }
}

main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
});
