/** Reads the config file and the host facts its variables need, then hands both to the pure parser. */

import { needsEc2, parseConfig } from '../config/index.js';
import type { AgentConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { readHostFacts } from '../host/host-facts.js';
import { createImdsClient } from '../host/imds.js';
import type { Ec2Key } from '../types/host-facts.js';
import { readSmallFile, SmallFileError, sizeText } from '../util/small-file.js';

/** A config is a few KB; anything near this is not one (or is /dev/zero). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

const EC2_KEYS: readonly Ec2Key[] = ['local-ipv4', 'local-hostname', 'public-ipv4', 'instance-id'];

export async function loadConfig(
  path: string,
  env: Record<string, string | undefined>,
): Promise<AgentConfig> {
  let text: string;
  try {
    // A FIFO, a device or a huge file at the path is refused, never waited on or read whole.
    text = readSmallFile(path, MAX_CONFIG_BYTES).data.toString('utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      error instanceof SmallFileError
        ? error.code === 'EFBIG'
          ? `it is larger than ${sizeText(MAX_CONFIG_BYTES)} (a config is a few KB)`
          : `it ${error.message}`
        : code === 'ENOENT'
          ? 'no such file (give --config)'
          : code;
    throw new ConfigError(`cannot read config file ${path}: ${why}`, { cause: error });
  }
  // The FQDN costs DNS lookups: only when the config uses it.
  const hostPromise = readHostFacts({ fqdn: text.includes(`\${host.fqdn}`) });
  // Instance metadata only when the config asks for it: off EC2 this would otherwise cost a timeout.
  const wanted = needsEc2(text) ? EC2_KEYS.filter((k) => text.includes(`\${ec2.${k}}`)) : [];
  const [host, ec2] = await Promise.all([
    hostPromise,
    wanted.length > 0 ? createImdsClient().get(wanted) : Promise.resolve(undefined),
  ]);
  return parseConfig(text, { host, ec2, env }, { source: path });
}
