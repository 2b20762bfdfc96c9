/**
 * execa, loaded on first use: most runs (nothing due, nothing to restart) start no child process, and
 * evaluating execa and its dependencies costs ~10 ms of start-up in the bundle.
 */
export async function loadExeca(): Promise<typeof import('execa').execa> {
  return (await import('execa')).execa;
}
