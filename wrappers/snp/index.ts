export * from './report';
export * from './amdCertificates';
export * from './testChain';
export * from './amd';
export * from './steps';
export * from './devChain';
