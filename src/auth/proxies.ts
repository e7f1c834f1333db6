/** `auth.trustedProxies`: the reverse proxies whose X-Forwarded-For names the client (login rate limits). */
import { VigilConfigError } from '../errors.js';
import { AddressList } from '../net/address.js';

/** Checks `auth.trustedProxies` (config loader and AuthService.open). */
export function parseTrustedProxies(raw: unknown, path = 'auth.trustedProxies'): AddressList {
  if (raw === undefined) return new AddressList([], path);
  if (!Array.isArray(raw)) throw new VigilConfigError(`Expected a list of IP addresses or CIDR ranges for ${path} but received ${JSON.stringify(raw)}`);
  try {
    return new AddressList(raw as string[], path);
  } catch (err) {
    throw new VigilConfigError((err as Error).message);
  }
}
