/**
 * Secrets never reach logs, errors or API responses: the ONE redaction module (camera layer, integrations, queue
 * sinks, object storage all import it).
 *
 *  - user:password in URLs is replaced by `***`, also in the percent-encoded and double-encoded forms a URL takes
 *    when it travels inside a query string or a GStreamer message (`rtsp%3A%2F%2Fuser%3Apass%40host`);
 *  - secret query parameters (`password=`, `token=`, `api_key=`...) lose their values;
 *  - each known secret value is replaced wherever it appears, in its plain form and in every encoding it is likely
 *    to take (encodeURIComponent, encodeURI, escape, and encodeURIComponent twice).
 */

// The userinfo runs to the LAST '@' before the host part ends (a '/' '?' '#' or white space), so a password with a
// raw '@' in it (`rtsp://admin:p@ss@cam/`) is removed whole rather than cut at its first '@'.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/?#\s"'<>]*@/gi;
const ENCODED_USERINFO = /\b([a-z][a-z0-9+.-]*%3A%2F%2F)(?:(?!%2F)[^\s/?#&"'<>])*%40/gi;
const DOUBLE_ENCODED_USERINFO = /\b([a-z][a-z0-9+.-]*%253A%252F%252F)(?:(?!%252F)[^\s/?#&"'<>])*%2540/gi;
const SECRET_PARAMS = /([?&;](?:password|passwd|pass|pwd|token|access_token|secret|client_secret|api_key|apikey)=)[^&#\s"']*/gi;

/** Secrets shorter than this are not replaced as free text (a 1-2 character value would blank ordinary words). */
export const MIN_SECRET_LENGTH = 3;

function forms(secret: string): Set<string> {
  const out = new Set<string>([secret]);
  const add = (f: () => string): void => {
    try {
      out.add(f());
    } catch {
      // a lone surrogate cannot be URI-encoded; the plain form still applies
    }
  };
  add(() => encodeURIComponent(secret));
  add(() => encodeURIComponent(encodeURIComponent(secret)));
  add(() => encodeURI(secret));
  add(() => escape(secret));
  return out;
}

/**
 * Removes credentials from free text: user:pass in URLs (plain, percent-encoded and double-encoded), secret query
 * parameters, and every occurrence of the given secrets (plain and encoded forms).
 */
export function redactText(text: string, secrets: readonly (string | null | undefined)[] = []): string {
  let out = text
    .replace(URL_USERINFO, '$1***@')
    .replace(ENCODED_USERINFO, '$1***%40')
    .replace(DOUBLE_ENCODED_USERINFO, '$1***%2540')
    .replace(SECRET_PARAMS, '$1***');
  // Longest forms first, so a secret that contains another one is removed whole.
  const all = secrets
    .filter((s): s is string => typeof s === 'string' && s.length >= MIN_SECRET_LENGTH)
    .flatMap((s) => [...forms(s)])
    .sort((a, b) => b.length - a.length);
  for (const form of all) if (form) out = out.split(form).join('***');
  return out;
}

/** A URL for display: `scheme://***@host/...` where it carried credentials (so users see that it does). */
export function redactUrl(url: string): string {
  return redactText(url);
}

/** A URL with its user:password removed entirely (for URLs put into requests or reports), other secrets redacted. */
export function stripUrlCredentials(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '';
      u.password = '';
    }
    return redactText(u.toString());
  } catch {
    return redactText(url);
  }
}
