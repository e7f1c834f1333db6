/**
 * Operations routes: rules (admin writes), alerts (list, get, acknowledge), recordings and clips. Same auth path
 * as every other route (withAuth -> authorize), camera scopes applied to everything camera-bound.
 */
import { canSeeCamera, coversScope, requireScope, type Principal } from '../auth/policy.js';
import { HttpError, jsonBody, queryRequired, type Reply } from '../http/index.js';
import { cutClip } from '../recording/clips.js';
import type { Recorder } from '../recording/recorder.js';
import { alertToJson, parseAlertQuery } from '../rules/query.js';
import { RuleNotFoundError, type RuleEntry, type RuleService } from '../rules/service.js';
import type { Alert } from '../types.js';
import { timeNs } from '../validate.js';
import type { ClusterReads } from '../cluster/reads.js';
import { scoped, unavailable, withMediaCookie, type ApiRoutes } from './auth.js';
import { ClipCache } from './clip-cache.js';

export interface OpsRouteDeps {
  /** On a cluster node (once it joined): alerts of every node (src/cluster/reads.ts); else null. */
  cluster?: () => ClusterReads | null;
  /** Rules and alerts (/rules, /alerts); absent: those routes answer 503. */
  rules?: RuleService | null;
  /** Recordings and clips (/recordings, /clips, /events/{id}/clip); absent: 503. */
  recordings?: Pick<Recorder, 'recordings'> | null;
  /** First and last time a track was seen (ns), for /events/{camera}:{track}/clip; null when unknown. */
  trackSpan?: (cameraId: string, trackId: number) => { startNs: bigint; endNs: bigint } | null;
}

/** An alert as the API shows it: with links to the frame that raised it and to its clip (API paths). */
function alertJson(a: Alert): Record<string, unknown> {
  const id = encodeURIComponent(a.alertId);
  return { ...alertToJson(a), links: { snapshot: `/alerts/${id}/snapshot.jpg`, clip: `/events/${id}/clip` } };
}

/** A rule's cameras as a scope: its empty list means every camera. */
const ruleScope = (cameras: readonly string[]): readonly string[] | '*' => (cameras.length === 0 ? '*' : cameras);

/**
 * A rule as `p` may see it, or null: rules naming a camera outside the caller's scope do not exist for it (404,
 * like a missing rule, so their ids and cameras stay unknown); site-wide rules (no cameras) are shown to
 * camera-scoped callers without their notification channels (site-wide configuration).
 */
function ruleView(p: Principal, e: RuleEntry): RuleEntry | null {
  if (p.cameras === '*') return e;
  if (e.rule.cameras.length === 0) return { source: e.source, rule: { ...e.rule, notify: [] } };
  return coversScope(p, e.rule.cameras) ? e : null;
}

/** The `cameras` a rule body asks for (absent = all cameras); a malformed value is left to the rule validator. */
function bodyScope(body: unknown, fallback: readonly string[] | '*'): readonly string[] | '*' | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const c = (body as Record<string, unknown>)['cameras'];
  if (c === undefined) return fallback;
  if (!Array.isArray(c) || !c.every((x) => typeof x === 'string')) return null;
  return ruleScope(c as string[]);
}

export function opsRoutes(deps: OpsRouteDeps): ApiRoutes {
  const clips = new ClipCache();
  return (withAuth) => {
  const rules = () => deps.rules ?? (() => { throw unavailable('Rules'); })();
  /** The rule if `p` may see it, else the same 404 as for a rule that does not exist. */
  const visibleRule = (p: Principal, id: string): RuleEntry => {
    const v = ruleView(p, rules().getRule(id));
    if (!v) throw new RuleNotFoundError('rule', id);
    return v;
  };
  /** A rule `p` may change: visible, and its cameras (before and after) within `p`'s scope. */
  const writableRule = (p: Principal, id: string): RuleEntry => {
    const e = visibleRule(p, id);
    requireScope(p, ruleScope(e.rule.cameras));
    return e;
  };
  /** The same 404 for another camera's alert as for a missing one: a 403 would confirm that it exists. */
  const visibleAlert = (p: Principal, id: string): Alert => {
    const a = rules().getAlert(id);
    if (!canSeeCamera(p, a.cameraId)) throw new RuleNotFoundError('alert', id);
    return a;
  };
  /** The same, on whichever node of the cluster stores the alert. */
  const visibleClusterAlert = async (c: ClusterReads, p: Principal, id: string): Promise<Alert> => {
    const { alert } = await c.alert(id);
    if (!canSeeCamera(p, alert.cameraId)) throw new RuleNotFoundError('alert', id);
    return alert;
  };
  const recordings = () => deps.recordings ?? (() => { throw unavailable('Recordings'); })();

  /**
   * Segments of a camera's span, cut into one MP4 and streamed with Range support. The cut is kept a minute
   * (ClipCache), so a browser seeking in the clip by URL reads all its byte ranges from one file.
   */
  const clip = async (cameraId: string, start: bigint, end: bigint): Promise<Reply> => {
    const rec = recordings();
    const path = await clips.get(`${cameraId}\0${start}\0${end}`, (out) => cutClip(rec.recordings(cameraId, start, end), start, end, out));
    return { status: 200, file: { path }, contentType: 'video/mp4' };
  };

  return [
    {
      method: 'get',
      pattern: '/rules',
      handler: withAuth('rules:read', async (_ctx, p) => ({
        status: 200,
        json: rules().listRules().map((e) => ruleView(p, e)).filter((e): e is RuleEntry => e !== null),
      })),
    },
    {
      method: 'get',
      pattern: '/rules/:id',
      params: ['id'],
      handler: withAuth('rules:read', async (ctx, p) => ({ status: 200, json: visibleRule(p, ctx.params.id!) })),
    },
    {
      method: 'post',
      pattern: '/rules',
      body: true,
      handler: withAuth('rules:write', async (ctx, p) => {
        const body = jsonBody(ctx);
        const scope = bodyScope(body, '*');
        if (scope !== null) requireScope(p, scope);
        const def = await rules().createRule(body);
        // a malformed `cameras` that the validator still accepted is checked on the result
        if (scope === null) requireScope(p, ruleScope(def.cameras));
        return { status: 201, json: def };
      }),
    },
    {
      method: 'put',
      pattern: '/rules/:id',
      params: ['id'],
      body: true,
      handler: withAuth('rules:write', async (ctx, p) => {
        writableRule(p, ctx.params.id!);
        const body = jsonBody(ctx);
        const scope = bodyScope(body, '*');
        if (scope !== null) requireScope(p, scope);
        return { status: 200, json: await rules().updateRule(ctx.params.id!, body) };
      }),
    },
    {
      method: 'patch',
      pattern: '/rules/:id',
      params: ['id'],
      body: true,
      handler: withAuth('rules:write', async (ctx, p) => {
        const e = writableRule(p, ctx.params.id!);
        const body = jsonBody(ctx);
        const scope = bodyScope(body, ruleScope(e.rule.cameras));
        if (scope !== null) requireScope(p, scope);
        return { status: 200, json: await rules().patchRule(ctx.params.id!, body) };
      }),
    },
    {
      method: 'del',
      pattern: '/rules/:id',
      params: ['id'],
      handler: withAuth('rules:write', async (ctx, p) => {
        writableRule(p, ctx.params.id!);
        await rules().deleteRule(ctx.params.id!);
        return { status: 204 };
      }),
    },
    {
      method: 'get',
      pattern: '/alerts',
      handler: withAuth('alerts:read', async (ctx, p) => {
        let filter;
        try {
          filter = parseAlertQuery(ctx.query);
        } catch (err) {
          throw new HttpError(400, 'E_VALIDATION', (err as Error).message);
        }
        // A camera outside the caller's scope answers exactly as a camera that does not exist (an empty page, no
        // cursor), as GET /alerts/{id} answers 404 for another camera's alert: no 403 that confirms the id.
        if (filter.cameraId && !canSeeCamera(p, filter.cameraId)) return { status: 200, json: { alerts: [], next_cursor: null } };
        const cluster = deps.cluster?.();
        if (cluster) {
          const r = await cluster.alerts(filter);
          return {
            status: 200,
            json: { alerts: r.alerts.filter((a) => canSeeCamera(p, a.cameraId)).map(alertJson), next_cursor: r.nextCursor, partial: r.partial, missing_nodes: r.missing },
          };
        }
        const page = rules().listAlerts(filter);
        return {
          status: 200,
          json: { alerts: page.alerts.filter((a) => canSeeCamera(p, a.cameraId)).map(alertJson), next_cursor: page.nextCursor ?? null },
        };
      }),
    },
    {
      method: 'get',
      pattern: '/alerts/:id',
      params: ['id'],
      handler: withAuth('alerts:read', async (ctx, p) => {
        const cluster = deps.cluster?.();
        return { status: 200, json: alertJson(cluster ? await visibleClusterAlert(cluster, p, ctx.params.id!) : visibleAlert(p, ctx.params.id!)) };
      }),
    },
    {
      method: 'post',
      pattern: '/alerts/:id/acknowledge',
      params: ['id'],
      handler: withAuth('alerts:acknowledge', async (ctx, p) => {
        const cluster = deps.cluster?.();
        if (cluster) {
          // forwarded to the node that stores the alert (src/cluster/reads.ts says why)
          await visibleClusterAlert(cluster, p, ctx.params.id!);
          return { status: 200, json: alertJson(await cluster.acknowledge(ctx.params.id!, p.sub)) };
        }
        visibleAlert(p, ctx.params.id!);
        return { status: 200, json: alertJson(await rules().acknowledge(ctx.params.id!, p.sub)) };
      }),
    },
    {
      method: 'get',
      pattern: '/recordings',
      handler: withAuth('recordings:read', async (ctx, p) => {
        const cameraId = queryRequired(ctx.query, 'camera_id');
        scoped(p, cameraId);
        const start = timeNs(queryRequired(ctx.query, 'start_time'), 'start_time');
        const end = timeNs(queryRequired(ctx.query, 'end_time'), 'end_time');
        const segs = recordings().recordings(cameraId, start, end);
        return {
          status: 200,
          json: segs.map((s) => ({
            camera_id: s.cameraId,
            start_time_ns: s.startNs.toString(),
            end_time_ns: s.endNs === null ? null : s.endNs.toString(),
            size_bytes: s.sizeBytes,
            file: s.path.split('/').pop(),
          })),
        };
      }),
    },
    {
      method: 'get',
      pattern: '/clips',
      handler: withAuth('recordings:read', async (ctx, p) => {
        const cameraId = queryRequired(ctx.query, 'camera_id');
        scoped(p, cameraId);
        return clip(cameraId, timeNs(queryRequired(ctx.query, 'start_time'), 'start_time'), timeNs(queryRequired(ctx.query, 'end_time'), 'end_time'));
      }),
    },
    {
      method: 'get',
      pattern: '/events/:id/clip',
      params: ['id'],
      // Also with the console's media cookie: the browser's <video> fetches the clip itself, Range requests included.
      handler: withMediaCookie(withAuth('recordings:read', async (ctx, p) => {
        const id = ctx.params.id!;
        // A track, as "<camera>:<track id>": from 5 s before it was first seen to 5 s after it was last seen.
        const track = /^([A-Za-z0-9_-]{1,64}):(\d{1,15})$/.exec(id);
        if (track) {
          scoped(p, track[1]!);
          const span = deps.trackSpan?.(track[1]!, Number(track[2]));
          if (!span) throw new HttpError(404, 'E_TRACK_NOT_FOUND', `No detections of track ${track[2]} on camera ${track[1]}`);
          return clip(track[1]!, span.startNs - 5_000_000_000n, span.endNs + 5_000_000_000n);
        }
        // An alert's clip: from 5 s before it was raised to 10 s after it was last updated (or cleared).
        const a = visibleAlert(p, id);
        const end = (a.clearedNs ?? a.updatedNs) + 10_000_000_000n;
        return clip(a.cameraId, a.raisedNs - 5_000_000_000n, end);
      })),
    },
  ];
  };
}
