// Median wall time of `node dist/vault-pki-agent.cjs --version` beside `node -e 0`, alternating runs.
// In the environment a systemd unit gives (PATH and HOME only): a shell's environment can hold variables that change
// Node's own start-up, e.g. NODE_EXTRA_CA_CERTS, which makes every Node process read and parse a CA bundle first
// (~35 ms for Debian's 140 CAs here, where it is set for every process).
import { spawnSync } from 'node:child_process';

export function measureStartup(runs = 41) {
  const cases = {
    'node -e 0': [process.execPath, ['-e', '0']],
    'vault-pki-agent --version': [process.execPath, ['dist/vault-pki-agent.cjs', '--version']],
    'vault-pki-agent --help': [process.execPath, ['dist/vault-pki-agent.cjs', '--help']],
  };
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let i = 0; i < runs; i++) {
    for (const [name, [cmd, args]] of Object.entries(cases)) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(cmd, args, {
        stdio: 'ignore',
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
      });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) throw new Error(`${name} exited ${r.status}`);
      if (i > 0) times[name].push(ms); // first round warms the page cache
    }
  }
  const median = (a) => {
    const s = [...a].sort((x, y) => x - y);
    return s[Math.floor(s.length / 2)];
  };
  return Object.fromEntries(
    Object.entries(times).map(([k, v]) => [k, { median: median(v), runs: v.length }]),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = measureStartup();
  for (const [k, v] of Object.entries(r))
    console.log(`${k.padEnd(28)} median ${v.median.toFixed(1)} ms (${v.runs} runs)`);
}
