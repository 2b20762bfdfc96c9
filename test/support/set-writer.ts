/**
 * Writes certificate sets in a process of its own (test/files/hostile-owner.test.ts): argv[2] is a JSON file
 * `{ sets: [{ spec: FilesSpec, files: CertificateSetFiles }] }`; each set is written in turn with the real
 * writer. Prints one line per set (`<dir> ok <generation>` or `<dir> error <code> <message>`), then `done`.
 * A writer blocked by something planted in a set directory never prints `done`.
 */
import { readFileSync } from 'node:fs';
import type { FilesSpec } from '../../src/config/types.js';
import { AgentError } from '../../src/errors.js';
import type { CertificateSetFiles } from '../../src/files/set-files.js';
import { writeCertificateSet } from '../../src/files/write-set.js';

const input = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as {
  sets: { spec: FilesSpec; files: CertificateSetFiles }[];
};
for (const { spec, files } of input.sets) {
  try {
    const result = await writeCertificateSet(spec, files);
    console.log(`${spec.dir} ok ${result.generation}`);
  } catch (error) {
    console.log(
      `${spec.dir} error ${AgentError.is(error) ? error.code : 'internal'} ${(error as Error).message}`,
    );
  }
}
console.log('done');
