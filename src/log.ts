/**
 * One line per event on stderr (journald), `key=value` text or JSON.
 * Secrets never reach a line: every value passes through `redact`, which removes registered secret
 * values (tokens) and anything shaped like a PEM private key or a Vault token.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const secrets = new Set<string>();

/** Register a value (a token) that must never be printed. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 8) secrets.add(value);
}

const PRIVATE_KEY_BLOCK = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g;
// OpenBao/Vault service, batch and recovery tokens (hvs., hvb., hvr., s., b., r.) with their bodies.
const TOKEN_SHAPE = /\b(hv[sbr]|s|b|r)\.[A-Za-z0-9_-]{20,}/g;

export function redact(text: string): string {
  let out = text
    .replace(PRIVATE_KEY_BLOCK, '[redacted private key]')
    .replace(TOKEN_SHAPE, '[redacted token]');
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('[redacted]');
  }
  return out;
}

function render(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  return JSON.stringify(value) ?? String(value);
}

function quote(value: string): string {
  return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  write?: (line: string) => void;
  now?: () => Date;
}

export function createLogger(options: LoggerOptions = {}, bound: LogFields = {}): Logger {
  const level = LEVELS[options.level ?? 'info'];
  const format = options.format ?? 'text';
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => new Date());

  const emit = (lvl: LogLevel, msg: string, fields: LogFields = {}) => {
    if (LEVELS[lvl] < level) return;
    const all: LogFields = { ...bound, ...fields };
    if (format === 'json') {
      const record: Record<string, string> = { time: now().toISOString(), level: lvl, msg: redact(msg) };
      for (const [k, v] of Object.entries(all)) if (v !== undefined) record[k] = redact(render(v));
      write(JSON.stringify(record));
      return;
    }
    const parts = [`time=${now().toISOString()}`, `level=${lvl}`, `msg=${quote(redact(msg))}`];
    for (const [k, v] of Object.entries(all))
      if (v !== undefined) parts.push(`${k}=${quote(redact(render(v)))}`);
    write(parts.join(' '));
  };

  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}
