/**
 * The program's entry points, bundled by scripts/build.mjs: `main` runs a command line and sets
 * process.exitCode (the only place that sets it); `preload` loads every command's modules without running
 * anything (for the launcher's `--write-code-cache`). `--version` answers before the CLI parser is loaded.
 */
export async function main(argv: string[]): Promise<void> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    const { versionText } = await import('./cli/version.js');
    process.stdout.write(`${versionText()}\n`);
  } else {
    const { runCli } = await import('./cli/run-cli.js');
    process.exitCode = await runCli(argv);
  }
  // The command is done. Node's orderly teardown of a used heap (V8, OpenSSL, the thread pool) would add
  // 5-10 ms to every start: exit as soon as stdout and stderr are flushed.
  const drained = (s: NodeJS.WriteStream) =>
    s.writableLength === 0 ? undefined : new Promise((resolve) => s.once('drain', resolve));
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit();
}

export async function preload(): Promise<void> {
  await import('./cli/run-cli.js');
  await (await import('./cli/preload.js')).preloadAll();
  // Only an optimisation: an install must not fail because of it (test/cli/warm-up.test.ts keeps it working).
  await (await import('./cli/warm-up.js')).warmUp().catch(() => undefined);
}
