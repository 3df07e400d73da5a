export { startDevnet, buildServer, toncenterMethods, RunningDevnet } from './server';
export { DevnetChain, ChainClock } from './chain';
export { DevnetConfig, DevnetConfigInput, DevnetConfigSchema, parseDevnetConfig } from './config';
export { deriveDevWallets, DevWallet } from './wallets';
export { loadStateFile, saveStateFile } from './state';
