/**
 * Message templates: "{{path}}" placeholders looked up in the notification context; unknown paths render as "".
 * Context: event ("raised" | "updated" | "cleared" | "acknowledged"), alert.* (alertId, ruleId, ruleName, cameraId,
 * state, message, trackIds, details.*), rule.* (id, name, kind, severity), time (ISO 8601 of the transition,
 * UTC), snapshot_url ("" when none).
 */
import type { Alert } from '../../types.js';
import type { RuleDefinition } from '../../rules/types.js';

export interface TemplateContext {
  event: string;
  alert: Alert;
  rule: { id: string; name: string; kind: string; severity: string };
  time: string;
  snapshot_url: string;
}

export function makeContext(event: string, alert: Alert, rule: RuleDefinition | undefined, snapshotUrl: string | null): TemplateContext {
  return {
    event,
    alert,
    rule: { id: alert.ruleId, name: rule?.name ?? alert.ruleName, kind: rule?.kind ?? String(alert.details.kind ?? ''), severity: rule?.severity ?? String(alert.details.severity ?? '') },
    time: new Date(Number(alert.updatedNs / 1_000_000n)).toISOString(),
    snapshot_url: snapshotUrl ?? '',
  };
}

function lookup(ctx: unknown, path: string): string {
  let v: unknown = ctx;
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, k)) return '';
    v = (v as Record<string, unknown>)[k];
  }
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.join(', ');
  if (typeof v === 'object') return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  return String(v);
}

export function render(template: string, ctx: TemplateContext): string {
  return template.replace(/\{\{\s*([A-Za-z0-9_.]+)\s*\}\}/g, (_m, path: string) => lookup(ctx, path));
}

export const DEFAULT_TEXT = '[{{rule.severity}}] {{alert.message}} (camera {{alert.cameraId}}, rule {{rule.name}}, {{event}} at {{time}})';
/** SMS: short (one segment where possible). */
export const DEFAULT_SMS = 'Vigil: {{alert.message}} ({{alert.cameraId}}, {{time}})';
export const DEFAULT_SUBJECT = 'Vigil {{event}}: {{alert.message}}';
