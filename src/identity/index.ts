/// <reference types="node" preserve="true" />
// Kept in the published .d.ts so that TypeScript 6 and later load @types/node for it (see src/index.ts).
/**
 * Node identities: a small CA (create, issue, renew, revoke, list; its index and CRL), checks of
 * key/certificate/CA material, atomic installation into a cert dir, and loading it back for TLS.
 * Imports nothing from the pipe, client, server, gateway or CLI layers.
 */
export {
  createCa,
  issueCertificate,
  DEFAULT_CA_CN_PREFIX,
  DEFAULT_CA_DAYS,
  DEFAULT_CERT_DAYS,
  LOOPBACK_SANS,
  type CertUsage,
  type CreateCaOptions,
  type IssueCertificateOptions,
  type IssuedCertificate,
} from './ca.js';
export type { PemPair, CaMaterial, KeyType } from './ca-keys.js';
export {
  createCrl,
  readCrl,
  normalizeSerialHex,
  parseRevocationReason,
  DEFAULT_CRL_DAYS,
  REVOCATION_REASONS,
  type RevokedEntry,
  type CreateCrlOptions,
  type CrlContents,
  type RevocationReason,
} from './crl.js';
export { CA_INDEX_FILE, type CaIndex, type IndexedCertificate } from './ca-index.js';
export {
  initCaDir,
  issueInCaDir,
  renewInCaDir,
  revokeInCaDir,
  resignCaCrl,
  listCaDir,
  CRL_FILE,
  type CrlSummary,
  type IssuedInCaDir,
  type RevokeResult,
} from './ca-dir.js';
export { IP_NAME_PROBLEM, NODE_NAME_PATTERN, NODE_NAME_RULE, isHostname, isIpLiteral, isValidNodeName, nodeNameProblem } from '../names.js';
export {
  verifyIdentity,
  peerCertificateSummary,
  formatCertTime,
  type IdentityFile,
  type IdentityFiles,
  type IdentityInfo,
  type IdentityPurpose,
  type VerifyIdentityOptions,
  type PeerCertificateSummary,
} from './verify.js';
export {
  installIdentity,
  writeKeyPair,
  identityFileNames,
  SERVER_KEY_FILE,
  SERVER_CERT_FILE,
  CLIENT_KEY_FILE,
  CLIENT_CERT_FILE,
  CA_CERT_FILE,
  KEY_FILE_MODE,
  CERT_FILE_MODE,
  CERT_DIR_MODE,
  type IdentityRole,
  type IdentitySource,
  type InstallResult,
} from './install.js';
export {
  resolveCertDir,
  userStateDir,
  SYSTEM_CERT_DIR,
  CERT_DIR_ENV,
  type CertDirSource,
  type ResolveCertDirOptions,
} from './cert-dir.js';
export {
  loadIdentity,
  loadCrl,
  type LoadedIdentity,
  type LoadIdentityOptions,
  type LoadedCrl,
  type LoadCrlOptions,
} from './load.js';
export { revocationChecker } from './revocation.js';
export type { Logger } from '../log.js';
export { ErrorCode, IdentityError, RestpipeError } from '../errors.js';
