/**
 * The one parser of a queue sink's options: the sink constructors (through createSink or directly) and the config
 * loader (`integrations.queues[i]`) both call `parseSinkOptions`, so a broker URL, a name or a backoff is checked
 * once, by the same rule, with the caller's path in the message. Only the fields given are returned (the sinks
 * apply their defaults), so a parsed config reads like what was written.
 */
import { at, bool, fail, int, isObject, object, oneOf, onlyKeys, str, url, type Raw } from '../../validate.js';
import { BROKER_PROTOCOLS } from './protocols.js';
import type { SinkOptions } from './sink.js';

export type QueueType = 'redis' | 'amqp' | 'mqtt' | 'kafka';
export const QUEUE_TYPES: readonly QueueType[] = ['redis', 'amqp', 'mqtt', 'kafka'];

export interface RedisSinkOptions extends SinkOptions {
  /** redis://[:password@]host:port/db (default redis://127.0.0.1:6379). */
  url?: string;
  /** Stream key prefix (default "vigil"): streams are <prefix>:detections, :alert, :event, :status. */
  streamPrefix?: string;
  /** Approximate stream length cap (XADD MAXLEN ~), default 100 000. */
  maxLen?: number;
  connectTimeoutMs?: number;
}

export interface AmqpSinkOptions extends SinkOptions {
  /** amqp://user:pass@host:port/vhost (default amqp://guest:guest@127.0.0.1:5672). */
  url?: string;
  /** Exchange name (default "vigil"), declared as a topic exchange. */
  exchange?: string;
  /** Durable exchange and persistent messages (default true). */
  durable?: boolean;
  connectTimeoutMs?: number;
  /** AMQP heartbeat in seconds (default 10). */
  heartbeatS?: number;
}

export interface MqttSinkOptions extends SinkOptions {
  /** mqtt://host:port (default mqtt://127.0.0.1:1883); credentials in username/password. */
  url?: string;
  username?: string;
  password?: string;
  /** First topic level (default "vigil"). */
  topicPrefix?: string;
  qos?: 0 | 1 | 2;
  clientId?: string;
  connectTimeoutMs?: number;
  keepaliveS?: number;
}

export interface KafkaSinkOptions extends SinkOptions {
  /** host:port list. */
  brokers: string[];
  clientId?: string;
  /** Topic prefix (default "vigil"). */
  topicPrefix?: string;
  ssl?: boolean;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  connectTimeoutMs?: number;
}

export type SinkConfig =
  | ({ type: 'redis' } & RedisSinkOptions)
  | ({ type: 'amqp' } & AmqpSinkOptions)
  | ({ type: 'mqtt' } & MqttSinkOptions)
  | ({ type: 'kafka' } & KafkaSinkOptions);

/** The keys of each sink type that a config file may set (code may also pass encode, contentType and log). */
export const SINK_COMMON_KEYS = ['name', 'type', 'capacity', 'batchSize', 'ackTimeoutMs', 'backoff'] as const;
export const SINK_TYPE_KEYS: Record<QueueType, readonly string[]> = {
  redis: ['url', 'streamPrefix', 'maxLen', 'connectTimeoutMs'],
  amqp: ['url', 'exchange', 'durable', 'connectTimeoutMs', 'heartbeatS'],
  mqtt: ['url', 'username', 'password', 'topicPrefix', 'qos', 'clientId', 'connectTimeoutMs', 'keepaliveS'],
  kafka: ['brokers', 'clientId', 'topicPrefix', 'ssl', 'sasl', 'connectTimeoutMs'],
};

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const NAME_WHAT = 'an id of 1-64 letters, digits, "_", "." or "-" (starting with a letter or digit)';
const CLIENT_ID = { re: /^[A-Za-z0-9_.:-]{1,128}$/, what: 'a client id' };
const BROKER_RE = /^[A-Za-z0-9.-]{1,253}:([0-9]{1,5})$|^\[[0-9A-Fa-f:]+\]:([0-9]{1,5})$/;

/** Where a sink built from code reports its fields: `sinks.<name>`, or `sink` while the name is not valid. */
export function sinkPath(raw: unknown): string {
  const name = isObject(raw) ? raw.name : undefined;
  return typeof name === 'string' && NAME_RE.test(name) ? `sinks.${name}` : 'sink';
}

function parseBackoff(v: unknown, path: string): Record<string, number> {
  const b = object(v, path);
  onlyKeys(b, path, ['initialMs', 'maxMs', 'factor', 'jitter']);
  const backoff: Record<string, number> = {};
  if (b.initialMs !== undefined) backoff.initialMs = int(b.initialMs, at(path, 'initialMs'), 10, 600_000);
  if (b.maxMs !== undefined) backoff.maxMs = int(b.maxMs, at(path, 'maxMs'), 10, 3_600_000);
  if (b.factor !== undefined) {
    if (typeof b.factor !== 'number' || !(b.factor >= 1 && b.factor <= 10)) throw fail('a number from 1 to 10', at(path, 'factor'), b.factor);
    backoff.factor = b.factor;
  }
  if (b.jitter !== undefined) {
    if (typeof b.jitter !== 'number' || !(b.jitter >= 0 && b.jitter <= 1)) throw fail('a number from 0 to 1', at(path, 'jitter'), b.jitter);
    backoff.jitter = b.jitter;
  }
  if ((backoff.maxMs ?? 30_000) < (backoff.initialMs ?? 500)) throw fail(`at least initialMs (${backoff.initialMs ?? 500})`, at(path, 'maxMs'), backoff.maxMs);
  return backoff;
}

function parseKafka(r: Raw, path: string): Partial<KafkaSinkOptions> {
  if (!Array.isArray(r.brokers) || r.brokers.length === 0) throw fail('a non-empty list of "host:port"', at(path, 'brokers'), r.brokers);
  const brokers = r.brokers.map((b, j) => {
    const m = typeof b === 'string' ? BROKER_RE.exec(b) : null;
    if (!m || Number(m[1] ?? m[2]) > 65535) throw fail('"host:port"', at(at(path, 'brokers'), j), b);
    return b as string;
  });
  let sasl: KafkaSinkOptions['sasl'];
  if (r.sasl !== undefined) {
    const s = object(r.sasl, at(path, 'sasl'));
    onlyKeys(s, at(path, 'sasl'), ['mechanism', 'username', 'password']);
    sasl = {
      mechanism: oneOf(s.mechanism, at(path, 'sasl.mechanism'), ['plain', 'scram-sha-256', 'scram-sha-512'] as const),
      username: str(s.username, at(path, 'sasl.username')),
      password: str(s.password, at(path, 'sasl.password'), { secret: true, what: 'a string' }),
    };
  }
  return {
    brokers,
    ...(r.clientId !== undefined ? { clientId: str(r.clientId, at(path, 'clientId'), CLIENT_ID) } : {}),
    ...(r.topicPrefix !== undefined ? { topicPrefix: str(r.topicPrefix, at(path, 'topicPrefix'), { re: /^[A-Za-z0-9._-]{1,200}$/, what: 'a topic prefix of letters, digits, ".", "_" or "-"' }) } : {}),
    ...(r.ssl !== undefined ? { ssl: bool(r.ssl, at(path, 'ssl')) } : {}),
    ...(sasl ? { sasl } : {}),
  };
}

/**
 * Checks a sink's options (`type` picks the broker) and returns the fields given, typed. Throws VigilArgumentError
 * "Expected X for <path>.<field> but received V"; secrets are never echoed.
 */
export function parseSinkOptions(raw: unknown, path: string): SinkConfig {
  const r = object(raw, path);
  const type = oneOf(r.type, at(path, 'type'), QUEUE_TYPES);
  const out: Record<string, unknown> = { type, name: str(r.name, at(path, 'name'), { re: NAME_RE, what: NAME_WHAT }) };
  if (r.capacity !== undefined) out.capacity = int(r.capacity, at(path, 'capacity'), 1, 10_000_000);
  if (r.batchSize !== undefined) out.batchSize = int(r.batchSize, at(path, 'batchSize'), 1, 10_000);
  if (r.ackTimeoutMs !== undefined) out.ackTimeoutMs = int(r.ackTimeoutMs, at(path, 'ackTimeoutMs'), 10, 600_000);
  if (r.backoff !== undefined) out.backoff = parseBackoff(r.backoff, at(path, 'backoff'));
  if (r.encode !== undefined) {
    if (typeof r.encode !== 'function') throw fail('a function', at(path, 'encode'), r.encode);
    out.encode = r.encode;
  }
  if (r.contentType !== undefined) out.contentType = str(r.contentType, at(path, 'contentType'));
  if (r.log !== undefined) out.log = r.log;
  const opt = (key: string, parse: (v: unknown, p: string) => unknown): void => {
    if (r[key] !== undefined) out[key] = parse(r[key], at(path, key));
  };
  const brokerUrl = (t: keyof typeof BROKER_PROTOCOLS, allowCredentials: boolean) => (v: unknown, p: string) => url(v, p, BROKER_PROTOCOLS[t], { allowCredentials });
  const timeout = (v: unknown, p: string): number => int(v, p, 100, 120_000);
  switch (type) {
    case 'redis':
      opt('url', brokerUrl('redis', true));
      opt('streamPrefix', (v, p) => str(v, p, { re: /^[A-Za-z0-9_.:-]{1,64}$/, what: 'a key prefix of letters, digits, "_", ".", ":" or "-"' }));
      opt('maxLen', (v, p) => int(v, p, 1, 1e9));
      break;
    case 'amqp':
      opt('url', brokerUrl('amqp', true));
      opt('exchange', (v, p) => str(v, p, { re: /^[A-Za-z0-9_.:-]{1,127}$/, what: 'an exchange name' }));
      opt('durable', (v, p) => bool(v, p));
      opt('heartbeatS', (v, p) => int(v, p, 0, 3600));
      break;
    case 'mqtt':
      opt('url', brokerUrl('mqtt', false));
      opt('username', (v, p) => str(v, p));
      opt('password', (v, p) => str(v, p, { secret: true, what: 'a string' }));
      opt('topicPrefix', (v, p) => str(v, p, { re: /^[A-Za-z0-9_-]{1,64}(\/[A-Za-z0-9_-]{1,64}){0,3}$/, what: 'a topic prefix without wildcards' }));
      opt('qos', (v, p) => int(v, p, 0, 2));
      opt('clientId', (v, p) => str(v, p, CLIENT_ID));
      opt('keepaliveS', (v, p) => int(v, p, 0, 3600));
      break;
    case 'kafka':
      Object.assign(out, parseKafka(r, path));
      break;
  }
  opt('connectTimeoutMs', timeout);
  return out as unknown as SinkConfig;
}

/** A sink constructor's options, checked for its broker type (what `new RedisStreamSink(...)` etc. call). */
export function parseTypedSinkOptions<T extends SinkConfig['type']>(type: T, raw: unknown): Extract<SinkConfig, { type: T }> {
  if (!isObject(raw)) throw fail('an object', 'sink options', raw);
  return parseSinkOptions({ ...raw, type }, sinkPath(raw)) as Extract<SinkConfig, { type: T }>;
}
