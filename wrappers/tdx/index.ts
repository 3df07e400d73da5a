export * from './der';
export * from './quote';
export * from './claims';
export * from './cells';
export * from './steps';
export * from './simulated';
export * from './testCa';
export * from './intel';
