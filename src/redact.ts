/**
 * Secrets never reach logs, errors or API responses. Credentials are removed from URLs (user:pass@), and any
 * known secret value is replaced in free text in its plain and percent-encoded forms (GStreamer messages may quote
 * a URL either way).
 */
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi;

export function redactUrl(url: string): string {
  return url.replace(URL_USERINFO, '$1***@');
}

export function redactText(text: string, secrets: readonly string[]): string {
  let out = text.replace(URL_USERINFO, '$1***@');
  for (const secret of secrets) {
    if (!secret) continue;
    const forms = new Set([secret, encodeURIComponent(secret), encodeURI(secret), escape(secret)]);
    for (const form of forms) if (form) out = out.split(form).join('***');
  }
  return out;
}
