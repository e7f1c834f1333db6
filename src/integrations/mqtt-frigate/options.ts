/**
 * The config's `frigate:` section: MQTT in the topics and payloads Frigate NVR publishes, so Home Assistant's
 * Frigate integration, Node-RED flows and MQTT dashboards written for Frigate work against Vigil, plus Home
 * Assistant MQTT discovery of each camera's entities.
 *
 * ```yaml
 * frigate:
 *   url: mqtt://127.0.0.1:1883      # mqtt:// or mqtts://; credentials in username/password
 *   username: vigil
 *   password: ${VIGIL_MQTT_PASSWORD}
 *   topicPrefix: frigate            # Frigate's default
 *   clientId: vigil
 *   statsIntervalS: 60              # <prefix>/stats
 *   snapshots: true                 # <prefix>/<camera>/<label>/snapshot: the best JPEG of each tracked object
 *   discovery: { enabled: true, prefix: homeassistant }
 * ```
 */
import { bool, int, object, onlyKeys, str, url, type Raw } from '../../validate.js';

export interface FrigateOptions {
  url: string;
  username?: string;
  password?: string;
  topicPrefix: string;
  clientId: string;
  statsIntervalS: number;
  snapshots: boolean;
  discovery: { enabled: boolean; prefix: string };
  /** Reconnect delay after a lost connection, ms. */
  reconnectMs: number;
}

const KEYS = ['url', 'username', 'password', 'topicPrefix', 'clientId', 'statsIntervalS', 'snapshots', 'discovery', 'reconnectMs'];
// A topic level: no wildcards, no separators, no NUL (MQTT 3.1.1 section 4.7).
const TOPIC_PREFIX = /^[^#+\u0000]{1,64}$/;

/** `frigate:` of the config; undefined, null or false: off. */
export function parseFrigateOptions(raw: unknown, path = 'frigate'): FrigateOptions | null {
  if (raw === undefined || raw === null || raw === false) return null;
  const o: Raw = object(raw, path);
  onlyKeys(o, path, KEYS);
  const d: Raw = o.discovery === undefined || typeof o.discovery === 'boolean' ? { enabled: o.discovery ?? true } : object(o.discovery, `${path}.discovery`);
  onlyKeys(d, `${path}.discovery`, ['enabled', 'prefix']);
  const prefix = str(o.topicPrefix, `${path}.topicPrefix`, { dflt: 'frigate', re: TOPIC_PREFIX, what: 'an MQTT topic prefix without # or +' }).replace(/\/+$/, '');
  return {
    url: url(o.url ?? 'mqtt://127.0.0.1:1883', `${path}.url`, ['mqtt:', 'mqtts:', 'tcp:']),
    ...(o.username !== undefined ? { username: str(o.username, `${path}.username`) } : {}),
    ...(o.password !== undefined ? { password: str(o.password, `${path}.password`, { secret: true }) } : {}),
    topicPrefix: prefix,
    clientId: str(o.clientId, `${path}.clientId`, { dflt: `vigil-frigate-${process.pid}`, max: 128 }),
    statsIntervalS: int(o.statsIntervalS, `${path}.statsIntervalS`, 1, 3600, 60),
    snapshots: bool(o.snapshots, `${path}.snapshots`, true),
    discovery: {
      enabled: bool(d.enabled, `${path}.discovery.enabled`, true),
      prefix: str(d.prefix, `${path}.discovery.prefix`, { dflt: 'homeassistant', re: TOPIC_PREFIX, what: 'an MQTT topic prefix without # or +' }),
    },
    reconnectMs: int(o.reconnectMs, `${path}.reconnectMs`, 100, 600_000, 2000),
  };
}
