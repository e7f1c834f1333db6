/** The config file's `log:` section and its precedence under VIGIL_LOG_LEVEL / VIGIL_LOG_FORMAT. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configureLogging, createLogger, effectiveLogOptions, parseLogOptions } from '../../src/log.js';
import { parseConfig } from '../../src/config/index.js';

test('log: section parsed with exact messages; JSON lines when configured; the environment overrides the file', () => {
  assert.deepEqual(parseLogOptions(undefined), { level: 'info', format: 'text' });
  assert.deepEqual(parseLogOptions({ level: 'warn', format: 'json' }), { level: 'warn', format: 'json' });
  assert.throws(() => parseLogOptions({ level: 'loud' }), { code: 'E_ARGUMENT', message: 'Expected one of debug, info, warn, error for log.level but received "loud"' });
  assert.throws(() => parseLogOptions({ format: 'xml' }), { code: 'E_ARGUMENT', message: 'Expected "text" or "json" for log.format but received "xml"' });
  assert.throws(() => parseLogOptions('json'), { code: 'E_ARGUMENT', message: 'Expected a mapping for log but received "json"' });
  assert.throws(() => parseLogOptions({ output: 'elasticsearch' }), { code: 'E_ARGUMENT', message: 'Unknown key log.output (known keys: level, format)' });
  assert.throws(() => parseConfig({ log: { format: 'xml' } }), { code: 'E_CONFIG', message: 'Expected "text" or "json" for log.format but received "xml"' });
  assert.deepEqual(parseConfig({ log: { format: 'json' }, cameras: [] }).log, { level: 'info', format: 'json' });

  const saved = { level: process.env.VIGIL_LOG_LEVEL, format: process.env.VIGIL_LOG_FORMAT };
  delete process.env.VIGIL_LOG_LEVEL;
  delete process.env.VIGIL_LOG_FORMAT;
  try {
    const lines: string[] = [];
    const log = createLogger('vigil', (l) => lines.push(l));
    configureLogging({ level: 'warn', format: 'json' });
    log.info('hidden');
    log.warn('shown', { camera: 'gate', n: 3n });
    assert.equal(lines.length, 1);
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual({ ...rec, time: 't' }, { time: 't', level: 'warn', scope: 'vigil', msg: 'shown', camera: 'gate', n: '3' });
    process.env.VIGIL_LOG_FORMAT = 'text';
    process.env.VIGIL_LOG_LEVEL = 'debug';
    assert.deepEqual(effectiveLogOptions(), { level: 'debug', format: 'text' });
    log.debug('plain');
    assert.match(lines[1]!, /^\d{4}-\d{2}-\d{2}T\S+ DEBUG vigil plain$/);
  } finally {
    configureLogging({ level: 'info', format: 'text' });
    if (saved.level === undefined) delete process.env.VIGIL_LOG_LEVEL;
    else process.env.VIGIL_LOG_LEVEL = saved.level;
    if (saved.format === undefined) delete process.env.VIGIL_LOG_FORMAT;
    else process.env.VIGIL_LOG_FORMAT = saved.format;
  }
});
