/**
 * `npm start`: the embedded default. Builds nothing itself (run after
 * `npm run build`, which `npm start` does first); deploys a Cocoon Registry
 * into an in-process @ton/sandbox chain through the same Blueprint scripts
 * used on testnet and mainnet, runs the timelocked set-up of a development
 * image and model by advancing the chain clock, and prints the result.
 */
import { toNano } from '@ton/core';
import { Blockchain } from '@ton/sandbox';
import { createHash } from 'crypto';
import { SandboxNetworkProvider, ScriptedUI } from '../lib/sandboxProvider';
import { run as deployRegistry } from '../deployRegistry';
import { run as proposeImage } from '../proposeImage';
import { run as proposeModel } from '../proposeModel';
import { run as executeProposal } from '../executeProposal';
import { hex256 } from '../lib/cli';

/** Image hash of the development (simulated) enclave image. */
export const DEV_IMAGE_HASH = BigInt('0x' + createHash('sha256').update('cocoon-dev-image').digest('hex'));
/** Model id of the development model (replaced by a GGUF hash when the worker lands). */
export const DEV_MODEL_ID = BigInt('0x' + createHash('sha256').update('cocoon-dev-model').digest('hex'));

async function main() {
    const blockchain = await Blockchain.create();
    blockchain.now = Math.floor(Date.now() / 1000);
    const governance = await blockchain.treasury('governance', { balance: toNano('1000') });
    const ui = new ScriptedUI([], true);
    const provider = new SandboxNetworkProvider(blockchain, governance, ui);

    const registry = await deployRegistry(provider, []);
    const at = registry.address.toString();
    const imageProposal = await proposeImage(provider, [at, hex256(DEV_IMAGE_HASH)]);
    const modelProposal = await proposeModel(provider, [at, hex256(DEV_MODEL_ID), 'cocoon-dev-model']);

    const params = await registry.getParams();
    ui.write(`Advancing the sandbox clock past the ${params.timelockDelay} s timelock...`);
    blockchain.now! += Number(params.timelockDelay) + 1;
    await executeProposal(provider, [at, imageProposal.toString()]);
    await executeProposal(provider, [at, modelProposal.toString()]);

    console.log('\nCocoon network (in-process sandbox):');
    console.log(`  governance wallet  ${governance.address.toString()}`);
    console.log(`  Registry           ${at}`);
    console.log(`  config version     ${await registry.getConfigVersion()}`);
    console.log(`  dev image allowed  ${hex256(DEV_IMAGE_HASH)}: ${await registry.getImageAllowed(DEV_IMAGE_HASH)}`);
    console.log(`  dev model allowed  ${hex256(DEV_MODEL_ID)}: ${await registry.getModelAllowed(DEV_MODEL_ID)}`);
    console.log(`  fees paid by governance: ${Number(toNano('1000') - (await governance.getBalance())) / 1e9} TON`);
}

main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
});
