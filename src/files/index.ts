/** The atomic certificate-set writer: the one module the rest of the agent imports for files. */
export {
  CERTIFICATE_FILE_ROLES,
  type CertificateFileRole,
  type CertificateSetFiles,
  type CertificateSetProblem,
  type CertificateSetReading,
  type RollbackResult,
  readCertificateSet,
  recoverCertificateDir,
  rollbackCertificateSet,
  type WriteCertificateSetResult,
  type WriterOptions,
  writeCertificateSet,
} from './atomic-writer.js';
export { type Ownership, parseGroup, parsePasswd, resolveOwnership } from './owners.js';
export { assertSafeTarget } from './safety.js';
