/**
 * Entry point: parse argv, run the command, set process.exitCode (the only place that sets it).
 * `--version` answers before the CLI parser is even loaded: it is what health probes and humans run most.
 */
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  const { versionText } = await import('./cli/version.js');
  process.stdout.write(`${versionText()}\n`);
} else {
  const { runCli } = await import('./cli/run-cli.js');
  process.exitCode = await runCli(argv);
}
