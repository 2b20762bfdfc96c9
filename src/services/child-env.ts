/**
 * The environment of every program the agent starts (exec actions, health-check commands,
 * systemctl, getent): the agent's own, minus the Vault credentials in it. A token given to the agent through
 * VAULT_TOKEN is the agent's alone; a restart hook would otherwise inherit it and keep it readable in
 * /proc/<pid>/environ for as long as that child, or anything it forks, lives.
 */

/** VAULT_TOKEN, BAO_TOKEN and any other VAULT_ or BAO_ variable named like a credential. */
const CREDENTIAL_VAR = /^(VAULT|BAO)_\w*(TOKEN|SECRET|PASSWORD|PASSPHRASE)/i;

/** Use with execa's `extendEnv: false`: this is the whole environment the child gets. */
export function childEnvironment(
  extra: Record<string, string> = {},
  parent: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value !== undefined && !CREDENTIAL_VAR.test(name)) env[name] = value;
  }
  return { ...env, ...extra };
}
