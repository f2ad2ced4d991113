export * from './settings';
export * from './step';
export * from './plan';
export * from './pkiNames';
export * from './cidr';
export * from './mysqlHardening';
export { passwordInput, managedAccounts } from './steps/accounts';
export { PKI_INPUTS } from './steps/pki';
export { PASSWORD_ALPHABET, PASSWORD_SPECIALS } from './inputs';
