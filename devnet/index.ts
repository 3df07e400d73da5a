export { startDevnet, buildServer, toncenterMethods, type RunningDevnet } from './server';
export { DevnetChain, ChainClock } from './chain';
export { type DevnetConfig, type DevnetConfigInput, DevnetConfigSchema, parseDevnetConfig } from './config';
export { deriveDevWallets, type DevWallet } from './wallets';
export { loadStateFile, saveStateFile } from './state';
