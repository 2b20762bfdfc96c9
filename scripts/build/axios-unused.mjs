// Stand-in for axios inside the bundle. node-vault requires axios at load time but uses it only when no
// `request-promise` transport is given; the agent always gives its own (src/vault/transport.ts), so
// loading axios (and with it mime-db and Node's internal undici) would only cost start-up time.
export default {
  create() {
    throw new Error('axios is not bundled: vault-pki-agent passes node-vault its own transport');
  },
};
