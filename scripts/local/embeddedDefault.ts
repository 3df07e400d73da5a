/**
 * `npm start`: the embedded default. Runs the whole Cocoon network on this
 * machine (scripts/local/localNetwork.ts): a devnet, the contracts, a worker
 * with the embedded engine on a generated demo model and simulated
 * attestation, and the OpenAI-compatible gateway; prints how to call it and
 * serves until Ctrl-C, then stops every child cleanly.
 *
 * Environment (all optional):
 *   COCOON_LOCAL_DIR      working directory (temp/local): chain, worker, gateway ledger
 *   COCOON_DEVNET_STATE   chain file (<dir>/devnet-state.json); "memory" keeps none
 *   COCOON_DEVNET_PORT    8081    COCOON_WORKER_PORT 8090    COCOON_GATEWAY_PORT 8080
 *   COCOON_MODEL_PATH     serve this GGUF file instead of the demo model
 *   COCOON_UPSTREAM_URL   serve through this OpenAI-compatible server instead
 *   COCOON_UPSTREAM_MODEL its model name        COCOON_MODEL_NAME the name apps use
 *   COCOON_PRICES         prompt,cached,completion,reasoning in nanoTON per million tokens
 *   COCOON_THREADS        inference threads of the embedded engine (1)
 */
import { defaultOptions, describeLocalNetwork, startLocalNetwork } from './localNetwork';

async function main() {
    const options = defaultOptions(process.env, (line) => console.log(line));
    // Ctrl-C while starting stops whatever has started.
    const startup = new AbortController();
    const abortStartup = () => {
        console.log('\ninterrupted: stopping what has started...');
        startup.abort();
    };
    process.once('SIGINT', abortStartup);
    process.once('SIGTERM', abortStartup);
    const network = await startLocalNetwork({ ...options, signal: startup.signal });
    process.off('SIGINT', abortStartup);
    process.off('SIGTERM', abortStartup);
    console.log(describeLocalNetwork(network, options.model));
    let stopping = false;
    const stop = () => {
        if (stopping) {
            console.log('already stopping; a second Ctrl-C is ignored while the children finish (the worker may wait for a claim to confirm)');
            return;
        }
        stopping = true;
        console.log('\nstopping the gateway, the worker and the devnet...');
        network.stop().then(
            () => {
                console.log('stopped');
                process.exit(0);
            },
            (e) => {
                console.error(e instanceof Error ? e.message : e);
                process.exit(1);
            },
        );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
}

main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
});
