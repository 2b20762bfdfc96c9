/** A logger that records its lines (text format, through the agent's own redaction), for tests to read. */
import { createLogger, type Logger, type LogLevel } from '../../src/log.js';

export function createMemoryLogger(level: LogLevel = 'debug'): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ level, format: 'text', write: (l) => lines.push(l) });
  return Object.assign(logger, { lines });
}
