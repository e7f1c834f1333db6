/**
 * The one parser of a VMS adapter's options: the adapter constructors (through createVmsAdapter or directly) and
 * the config loader (`integrations.vms[i]`) both call `parseVmsOptions`, so each field is checked once, by the
 * same rule, with the caller's path in the message. The loader handles only what is its own (the source id, `url`,
 * the Milestone `secret`, `rtspPort: device`) and passes every other key through under its own name.
 */
import { at, bool, fail, httpUrl, int, isObject, object, oneOf, str, type Raw } from '../../validate.js';
import type { VmsCommonConfig, VmsConfig, VmsType } from './types.js';
import { OutboundPolicy } from '../../net/outbound.js';

export const VMS_TYPES = ['milestone', 'hikvision', 'axis', 'dahua'] as const satisfies readonly VmsType[];

/** Option keys each adapter type adds to the common ones (what the config loader passes through unchanged). */
export const VMS_TYPE_OPTION_KEYS: Record<VmsType, readonly string[]> = {
  milestone: ['clientId', 'clientSecret', 'pageSize', 'eventTypeId', 'rtspTemplate'],
  hikvision: ['deviceKind', 'rtspPortFromDevice'],
  axis: ['diskId', 'subResolution', 'virtualInputPort'],
  dahua: [],
};
export const VMS_COMMON_OPTION_KEYS = ['rtspHost', 'rtspPort', 'timeoutMs', 'maxResponseBytes', 'insecureTls', 'allow'] as const;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const NAME_WHAT = 'an id of 1-64 letters, digits, "_", "." or "-" (starting with a letter or digit)';
const HOST_RE = /^[A-Za-z0-9.:[\]-]{1,253}$/;
const GUID_RE = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;
export const CLIENT_ID = { re: /^[A-Za-z0-9_.:-]{1,128}$/, what: 'an OAuth client id' };

/** Where an adapter built from code reports its fields: `vms.<name>`, or `vms` while the name is not valid. */
export function vmsPath(raw: unknown): string {
  const name = isObject(raw) ? raw.name : undefined;
  return typeof name === 'string' && NAME_RE.test(name) ? `vms.${name}` : 'vms';
}

/**
 * `allow`: the outbound URL policy's exceptions for this source ("address", "address:port", "[v6]:port"), as
 * `notify.allow` for webhooks. Given (even empty), every request of the adapter goes through the policy (SSRF
 * guard): an on-site VMS on a private address must be listed.
 */
function allowList(v: unknown, path: string): string[] {
  if (!Array.isArray(v)) throw fail('a list of "address", "address:port" or "[v6]:port" entries', path, v);
  v.forEach((e, i) => {
    try {
      new OutboundPolicy({ allow: [e as string] });
    } catch {
      throw fail('an "address", "address:port" or "[v6]:port" entry', `${path}[${i}]`, e);
    }
  });
  return [...(v as string[])];
}

function common(r: Raw, path: string): VmsCommonConfig {
  const opt = <T>(key: string, parse: (v: unknown, p: string) => T): Record<string, T> => (r[key] !== undefined ? { [key]: parse(r[key], at(path, key)) } : {});
  if (r.checkUrl !== undefined && typeof r.checkUrl !== 'function') throw fail('a function', at(path, 'checkUrl'), r.checkUrl);
  return {
    name: str(r.name, at(path, 'name'), { re: NAME_RE, what: NAME_WHAT }),
    baseUrl: httpUrl(r.baseUrl, at(path, 'baseUrl')),
    username: str(r.username, at(path, 'username')),
    password: str(r.password, at(path, 'password'), { secret: true, what: 'a string', min: 0 }),
    ...opt('rtspHost', (v, p) => str(v, p, { re: HOST_RE, what: 'a host name or address' })),
    ...opt('rtspPort', (v, p) => int(v, p, 1, 65535)),
    ...opt('timeoutMs', (v, p) => int(v, p, 100, 120_000)),
    ...opt('maxResponseBytes', (v, p) => int(v, p, 1024, 64 * 2 ** 20)),
    ...opt('insecureTls', (v, p) => bool(v, p)),
    ...opt('allow', (v, p) => allowList(v, p)),
    ...(r.checkUrl !== undefined ? { checkUrl: r.checkUrl as VmsCommonConfig['checkUrl'] } : {}),
  } as VmsCommonConfig;
}

/**
 * Checks a VMS adapter's options (`type` picks the adapter) and returns the fields given, typed. Throws
 * VigilArgumentError "Expected X for <path>.<field> but received V"; secrets are never echoed.
 */
export function parseVmsOptions(raw: unknown, path: string): VmsConfig {
  const r = object(raw, path);
  const type = oneOf(r.type, at(path, 'type'), VMS_TYPES);
  const c = common(r, path);
  const opt = <T>(key: string, parse: (v: unknown, p: string) => T): Record<string, T> => (r[key] !== undefined ? { [key]: parse(r[key], at(path, key)) } : {});
  switch (type) {
    case 'milestone': {
      const clientSecret = opt('clientSecret', (v, p) => str(v, p, { secret: true }));
      const clientId = opt('clientId', (v, p) => str(v, p, CLIENT_ID));
      if (clientSecret.clientSecret !== undefined && clientId.clientId === undefined) throw fail('an OAuth client id with clientSecret', at(path, 'clientId'), undefined);
      return {
        type,
        ...c,
        ...clientId,
        ...clientSecret,
        ...opt('pageSize', (v, p) => int(v, p, 1, 1000)),
        ...opt('eventTypeId', (v, p) => str(v, p, { re: GUID_RE, what: 'an event type GUID' })),
        ...opt('rtspTemplate', (v, p) => str(v, p, { re: /^rtsps?:\/\/[^\s@]*\{id\}[^\s@]*$/, what: 'an rtsp:// URL template containing {id} and no credentials' })),
      };
    }
    case 'hikvision':
      return {
        type,
        ...c,
        ...opt('deviceKind', (v, p) => oneOf(v, p, ['nvr', 'camera'] as const)),
        ...opt('rtspPortFromDevice', (v, p) => bool(v, p)),
      };
    case 'axis':
      return {
        type,
        ...c,
        ...opt('diskId', (v, p) => str(v, p, { re: /^[A-Za-z0-9_]{1,32}$/, what: 'a disk id such as "SD_DISK"' })),
        ...opt('subResolution', (v, p) => str(v, p, { re: /^[0-9]{2,4}x[0-9]{2,4}$/, what: 'a resolution such as "640x360"' })),
        ...opt('virtualInputPort', (v, p) => int(v, p, 1, 32)),
      };
    case 'dahua':
      return { type, ...c };
  }
}

/** An adapter constructor's options, checked for its type (what `new MilestoneAdapter(...)` etc. call). */
export function parseTypedVmsOptions<T extends VmsType>(type: T, raw: unknown): Extract<VmsConfig, { type: T }> {
  if (!isObject(raw)) throw fail('an object', `vms config (${type})`, raw);
  return parseVmsOptions({ ...raw, type }, vmsPath(raw)) as Extract<VmsConfig, { type: T }>;
}
