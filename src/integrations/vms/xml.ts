/**
 * Safe XML for VMS responses (Hikvision ISAPI, Axis VAPIX): fast-xml-parser with entity processing disabled and
 * a document type declaration refused outright, so entity-expansion attacks (billion laughs, external entities)
 * cannot run. The five predefined entities and numeric character references are decoded by hand, once, after
 * parsing (never recursively). Malformed XML raises E_VMS_RESPONSE instead of yielding a half-parsed object.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { VmsError } from './types.js';

const parser = new XMLParser({
  processEntities: false,
  htmlEntities: false,
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  maxNestedTags: 64,
});

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes the predefined XML entities and numeric character references in one pass. */
export function decodeXmlText(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]+);/g, (m, e: string) => {
    if (e.startsWith('#x') || e.startsWith('#X')) {
      const cp = parseInt(e.slice(2), 16);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    if (e.startsWith('#')) {
      const cp = parseInt(e.slice(1), 10);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return PREDEFINED[e] ?? m;
  });
}

function decodeDeep(v: unknown): unknown {
  if (typeof v === 'string') return decodeXmlText(v);
  if (Array.isArray(v)) return v.map(decodeDeep);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = decodeDeep(x);
    return out;
  }
  return v;
}

/** Parses an XML document into plain objects (attributes as `@name`, text of mixed elements as `#text`). */
export function parseXml(text: string, what: string): Record<string, unknown> {
  if (/<!DOCTYPE/i.test(text) || /<!ENTITY/i.test(text)) {
    throw new VmsError('E_VMS_RESPONSE', `Refusing XML with a document type declaration in ${what}`);
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw new VmsError('E_VMS_RESPONSE', `Malformed XML in ${what}: ${valid.err.msg} (line ${valid.err.line})`);
  }
  let parsed: unknown;
  try {
    parsed = parser.parse(text);
  } catch (err) {
    throw new VmsError('E_VMS_RESPONSE', `Malformed XML in ${what}: ${(err as Error).message}`, { cause: err });
  }
  if (!parsed || typeof parsed !== 'object') throw new VmsError('E_VMS_RESPONSE', `Empty XML document in ${what}`);
  return decodeDeep(parsed) as Record<string, unknown>;
}

/** An element that may occur once or many times, always as an array. */
export function asArray<T = unknown>(v: unknown): T[] {
  if (v === undefined || v === null || v === '') return [];
  return (Array.isArray(v) ? v : [v]) as T[];
}

/** Text content of an element that may carry attributes (`{ '#text': 'x', '@version': '2.0' }`). */
export function textOf(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'object' && !Array.isArray(v)) {
    const t = (v as Record<string, unknown>)['#text'];
    return typeof t === 'string' ? t : t === undefined ? '' : String(t);
  }
  return null;
}

export function child(v: unknown, name: string): unknown {
  if (v && typeof v === 'object' && !Array.isArray(v)) return (v as Record<string, unknown>)[name];
  return undefined;
}

/** Minimal escaping for values we put into XML request bodies. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** `key=value` lines (VAPIX, Dahua CGI) into a map; blank lines are skipped, a line without a key raises E_VMS_RESPONSE. */
export function parseKeyValueLines(text: string, what: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new VmsError('E_VMS_RESPONSE', `Malformed ${what}`);
    out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}
