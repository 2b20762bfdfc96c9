/**
 * One of several processes contending for a set directory's lock (test/files/lock.test.ts): each round it
 * takes the lock (retrying while busy), proves it is alone by creating `..inside` exclusively, and releases;
 * every other round it then plants a stale lock, as if a writer had died holding it, so the next round's
 * writers must take it over at the same time. Prints "ok <rounds> <takeovers>" or exits 2 on a collision.
 */
import { closeSync, linkSync, openSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WriteError } from '../../src/errors.js';
import { lockDirectory } from '../../src/files/layout.js';

const [dir, roundsText] = process.argv.slice(2) as [string, string];
const rounds = Number(roundsText);
const DEAD_PID = 999_999_999; // above any pid_max
const stale = join(dir, `stale.${process.pid}`);
writeFileSync(stale, `${DEAD_PID}\n`);
let planted = 0;
for (let i = 0; i < rounds; i++) {
  let release: () => Promise<void>;
  for (;;) {
    try {
      release = await lockDirectory(dir);
      break;
    } catch (error) {
      if (!(error instanceof WriteError) || !error.retryable) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random()));
    }
  }
  try {
    closeSync(openSync(join(dir, '..inside'), 'wx'));
  } catch (error) {
    console.log(`collision in round ${i}: ${(error as Error).message}`);
    process.exit(2);
  }
  const until = performance.now() + 0.2;
  while (performance.now() < until);
  unlinkSync(join(dir, '..inside'));
  await release();
  if (i % 2 === 1 && i < rounds - 1) {
    try {
      linkSync(stale, join(dir, '..lock'));
      planted++;
    } catch {
      // another writer holds the lock now: nothing to plant
    }
  }
}
unlinkSync(stale);
console.log(`ok ${rounds} ${planted}`);
