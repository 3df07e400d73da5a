export * from './report';
export * from './amdCertificates';
export * from './testChain';
