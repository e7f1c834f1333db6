/**
 * One-line log records on stderr: `time level scope message key=value...`, or JSON lines (one object a line:
 * time, level, scope, msg and the fields) for log collectors. Level and format come from the config file's
 * `log: { level, format }` section (configureLogging, called by `vigil serve`), and VIGIL_LOG_LEVEL /
 * VIGIL_LOG_FORMAT override it (a unit file or a container can switch without editing the file).
 * Callers pass already-redacted text; nothing here sees a camera URL with credentials.
 */
import { expected, VigilArgumentError } from './errors.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const LEVELS = Object.keys(ORDER) as LogLevel[];

export interface LogOptions {
  level: LogLevel;
  format: LogFormat;
}

export const DEFAULT_LOG_OPTIONS: Readonly<LogOptions> = Object.freeze({ level: 'info', format: 'text' });

// Process-wide: loggers are made before the config is read (the CLI's), so they read these at each record.
let configured: LogOptions = { ...DEFAULT_LOG_OPTIONS };

/** The config file's `log:` section; undefined: the defaults (info, text). Unknown keys are refused. */
export function parseLogOptions(raw: unknown, path = 'log'): LogOptions {
  if (raw === undefined || raw === null) return { ...DEFAULT_LOG_OPTIONS };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw expected('a mapping', path, raw);
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'level' && k !== 'format') throw new VigilArgumentError(`Unknown key ${path}.${k} (known keys: level, format)`);
  }
  const level = o.level ?? DEFAULT_LOG_OPTIONS.level;
  if (typeof level !== 'string' || !(LEVELS as string[]).includes(level)) throw expected('one of debug, info, warn, error', `${path}.level`, o.level);
  const format = o.format ?? DEFAULT_LOG_OPTIONS.format;
  if (format !== 'text' && format !== 'json') throw expected('"text" or "json"', `${path}.format`, o.format);
  return { level: level as LogLevel, format };
}

/** Sets the process's log level and format (the environment variables still win). */
export function configureLogging(options: Partial<LogOptions>): void {
  configured = { ...configured, ...options };
}

/** The level and format in force now: VIGIL_LOG_LEVEL / VIGIL_LOG_FORMAT, else the configured ones. */
export function effectiveLogOptions(): LogOptions {
  const envLevel = process.env.VIGIL_LOG_LEVEL;
  const envFormat = process.env.VIGIL_LOG_FORMAT;
  return {
    level: envLevel !== undefined && envLevel in ORDER ? (envLevel as LogLevel) : configured.level,
    format: envFormat === 'json' || envFormat === 'text' ? envFormat : configured.format,
  };
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(scope: string): Logger;
}

export function createLogger(scope: string, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Logger {
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    const opts = effectiveLogOptions();
    if (ORDER[level] < ORDER[opts.level]) return;
    const time = new Date().toISOString();
    if (opts.format === 'json') {
      write(JSON.stringify({ time, level, scope, msg, ...fields }, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
      return;
    }
    const kv = fields
      ? Object.entries(fields)
          .map(([k, v]) => `${k}=${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v)}`)
          .join(' ')
      : '';
    write(`${time} ${level.toUpperCase().padEnd(5)} ${scope} ${msg}${kv ? ` ${kv}` : ''}`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (s) => createLogger(`${scope}.${s}`, write),
  };
}

/** A Logger that writes nothing: the default of modules whose caller passes none (tests, tools). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
