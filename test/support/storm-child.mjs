// Fleet-storm child: Node is started, then held until SIGUSR2 so that N agents can be released at the
// same moment (spawning 300 Node processes on a small machine takes seconds; the barrier keeps that
// spawn time out of the storm). On release the built agent runs in this process, as if started directly:
// the agent's module load is part of the measured time, like on a booting machine.
// Usage: node storm-child.mjs <dist/vault-pki-agent.cjs> <agent args...>
const [agent, ...args] = process.argv.slice(2);
const hold = setInterval(() => {}, 1 << 30);
process.once('SIGUSR2', () => {
  clearInterval(hold);
  process.argv = [process.argv[0], agent, ...args];
  import(agent).catch((error) => {
    process.stderr.write(`storm-child: cannot load ${agent}: ${error?.message}\n`);
    process.exitCode = 70;
  });
});
// The storm reports CPU and memory per agent: one JSON line on stderr as the process ends.
process.once('exit', () => {
  const u = process.resourceUsage();
  process.stderr.write(
    `${JSON.stringify({ msg: 'storm-child usage', user_us: u.userCPUTime, sys_us: u.systemCPUTime, max_rss_kb: u.maxRSS })}\n`,
  );
});
process.stdout.write('ready\n');
