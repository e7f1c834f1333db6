import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, api, can, login, user } from './api';
import { AuthImage, ClipPlayer, LiveView, type Rule } from './components';
import { navigate } from './router';
import { events } from './stream';

export interface Camera {
  id: string;
  name: string;
  status: string;
  fps: number;
  last_error: string | null;
}

interface Alert {
  alertId: string;
  ruleId: string;
  ruleName: string;
  cameraId: string;
  state: string;
  message: string;
  raisedNs: string;
  acknowledgedBy?: string | null;
  links: { snapshot: string; clip: string };
}

const nsToDate = (ns: string): Date => new Date(Number(BigInt(ns) / 1_000_000n));
const fmt = (d: Date): string => d.toLocaleString();

function useData<T>(load: () => Promise<T>, deps: unknown[] = []): [T | null, string | null, () => void] {
  const [data, setData] = useState<T | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    let alive = true;
    load().then(
      (d) => alive && (setData(d), setErr(null)),
      (e: Error) => alive && setErr(e.message),
    );
    return () => {
      alive = false;
    };
  }, [...deps, n]);
  return [data, err, () => setN((x) => x + 1)];
}

export function Login() {
  const [err, setErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main class="login">
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          setBusy(true);
          try {
            await login(String(f.get('username')), String(f.get('password')));
          } catch (x) {
            setErr(x instanceof ApiError ? x.message : 'Could not reach the server');
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1>Vigil</h1>
        <label>
          Username <input name="username" autoComplete="username" required autoFocus />
        </label>
        <label>
          Password <input name="password" type="password" autoComplete="current-password" required />
        </label>
        {err && <p class="error" role="alert">{err}</p>}
        <button type="submit" disabled={busy}>
          Log in
        </button>
      </form>
    </main>
  );
}

export function useCameras(): Camera[] | null {
  const [cams] = useData(() => api<Camera[]>('/cameras'));
  return cams;
}

/** GET /rules answers `[{source, rule}]` (config or api rules). */
const listRules = (): Promise<Array<Rule & { source: string }>> => api<Array<{ source: string; rule: Rule }>>('/rules').then((l) => l.map((e) => ({ ...e.rule, source: e.source })));

export function useRules(): Rule[] {
  const [rules] = useData(() => listRules().catch(() => [] as Rule[]));
  return rules ?? [];
}

export function Grid() {
  const cams = useCameras();
  const rules = useRules();
  if (!cams) return <p>Loading cameras…</p>;
  if (cams.length === 0) return <p>No cameras you may see.</p>;
  return (
    <section class="grid" aria-label="Cameras">
      {cams.map((c) => (
        <article class="tile" key={c.id}>
          <LiveView cameraId={c.id} rules={rules} />
          <a href={`/ui/cameras/${encodeURIComponent(c.id)}`} onClick={(e) => (e.preventDefault(), navigate(`/ui/cameras/${encodeURIComponent(c.id)}`))}>
            {c.name} <span class={`state ${c.status}`}>{c.status}</span>
          </a>
        </article>
      ))}
    </section>
  );
}

function AlertRow(props: { a: Alert; onPlay: (a: Alert) => void; onAck: () => void }) {
  const a = props.a;
  const [err, setErr] = useState<string | null>(null);
  return (
    <li class={`alert ${a.state}`} data-alert={a.alertId}>
      <AuthImage src={a.links.snapshot} alt={`Snapshot of ${a.ruleName}`} class="thumb" />
      <div>
        <strong>{a.ruleName || a.ruleId}</strong> · {a.cameraId} · {fmt(nsToDate(a.raisedNs))}
        <div class="muted">{a.message}</div>
        <div class="muted">
          {a.state}
          {a.acknowledgedBy ? ` by ${a.acknowledgedBy}` : ''}
        </div>
        {err && <div class="error">{err}</div>}
      </div>
      <div class="actions">
        <button onClick={() => props.onPlay(a)}>Play clip</button>
        {can('ack') && a.state !== 'acknowledged' && (
          <button
            onClick={async () => {
              try {
                await api(`/alerts/${encodeURIComponent(a.alertId)}/acknowledge`, { method: 'POST' });
                props.onAck();
              } catch (e) {
                setErr((e as Error).message);
              }
            }}
          >
            Acknowledge
          </button>
        )}
      </div>
    </li>
  );
}

export function AlertList(props: { cameraId?: string }) {
  const [alerts, err, reload] = useData(
    () => api<{ alerts: Alert[] }>(`/alerts?limit=50${props.cameraId ? `&camera_id=${encodeURIComponent(props.cameraId)}` : ''}`).then((r) => r.alerts),
    [props.cameraId],
  );
  const [playing, setPlaying] = useState<Alert | null>(null);
  useEffect(() => events.on((e) => e.kind === 'alert' && (!props.cameraId || e.cameraId === props.cameraId) && reload()), [props.cameraId]);
  if (err) return <p class="error">{err}</p>;
  if (!alerts) return <p>Loading alerts…</p>;
  return (
    <>
      {alerts.length === 0 ? (
        <p class="muted">No alerts.</p>
      ) : (
        <ul class="alerts">
          {alerts.map((a) => (
            <AlertRow key={a.alertId} a={a} onPlay={setPlaying} onAck={reload} />
          ))}
        </ul>
      )}
      {/* Clips start 5 s before the raise (src/api/routes-ops.ts), so the alert's moment is at 5 s. */}
      {playing && <ClipPlayer src={playing.links.clip} startS={5} onClose={() => setPlaying(null)} />}
    </>
  );
}

interface TrackItem {
  trackId: number;
  className: string;
  startMs: number;
  endMs: number | null;
}

function TrackTimeline(props: { cameraId: string }) {
  const [tracks, setTracks] = useState<TrackItem[]>([]);
  const [playing, setPlaying] = useState<TrackItem | null>(null);
  useEffect(
    () =>
      events.on((e) => {
        if (e.kind !== 'track' || e.cameraId !== props.cameraId) return;
        setTracks((list) => {
          const i = list.findIndex((t) => t.trackId === e.trackId);
          if (e.phase === 'start' && i < 0) return [{ trackId: e.trackId, className: e.className, startMs: e.timestampMs, endMs: null }, ...list].slice(0, 30);
          if (e.phase === 'end' && i >= 0) return list.map((t, k) => (k === i ? { ...t, endMs: e.timestampMs } : t));
          return list;
        });
      }),
    [props.cameraId],
  );
  return (
    <>
      <ol class="timeline" aria-label="Tracks">
        {tracks.length === 0 && <li class="muted">Tracks appear here as they start.</li>}
        {tracks.map((t) => (
          <li key={t.trackId}>
            <AuthImage src={`/tracks/${encodeURIComponent(props.cameraId)}:${t.trackId}/snapshot.jpg?crop=true`} alt={`${t.className} ${t.trackId}`} class="thumb small" />
            <span>
              {t.className} #{t.trackId} · {new Date(t.startMs).toLocaleTimeString()}
              {t.endMs ? ` – ${new Date(t.endMs).toLocaleTimeString()}` : ' (live)'}
            </span>
            {t.endMs && <button onClick={() => setPlaying(t)}>Clip</button>}
            <button onClick={() => navigate(`/ui/search?camera=${encodeURIComponent(props.cameraId)}&track=${t.trackId}`)}>Similar</button>
          </li>
        ))}
      </ol>
      {playing && <ClipPlayer src={`/events/${encodeURIComponent(props.cameraId)}:${playing.trackId}/clip`} startS={5} onClose={() => setPlaying(null)} />}
    </>
  );
}

export function CameraPage(props: { id: string }) {
  const rules = useRules();
  return (
    <section class="camera">
      <h2>{props.id}</h2>
      <LiveView cameraId={props.id} rules={rules} large />
      <div class="columns">
        <div>
          <h3>Tracks</h3>
          <TrackTimeline cameraId={props.id} />
        </div>
        <div>
          <h3>Alerts</h3>
          <AlertList cameraId={props.id} />
        </div>
      </div>
    </section>
  );
}

export function Events() {
  return (
    <section>
      <h2>Events</h2>
      <AlertList />
    </section>
  );
}

interface SearchHit {
  camera_id: string;
  track_id: number;
  score: number;
  class_name?: string;
  snapshot_url?: string;
  [k: string]: unknown;
}

export function Search() {
  const q = new URLSearchParams(location.search);
  const cams = useCameras();
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [err, setErr] = useState<string | null>(null);
  return (
    <section>
      <h2>Search similar tracks</h2>
      <form
        class="row"
        onSubmit={async (e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          const body: Record<string, unknown> = { camera_id: f.get('camera'), track_id: Number(f.get('track')), k: 24 };
          if (f.get('fcamera')) body['cameras'] = [f.get('fcamera')];
          if (f.get('class')) body['class'] = f.get('class');
          if (f.get('start')) body['start_time'] = new Date(String(f.get('start'))).toISOString();
          if (f.get('end')) body['end_time'] = new Date(String(f.get('end'))).toISOString();
          try {
            const r = await api<{ results: SearchHit[] }>('/search', { method: 'POST', body: JSON.stringify(body) });
            setHits(r.results);
            setErr(null);
          } catch (x) {
            setErr((x as Error).message);
          }
        }}
      >
        <label>
          Camera{' '}
          <select name="camera" defaultValue={q.get('camera') ?? ''}>
            {(cams ?? []).map((c) => (
              <option key={c.id} value={c.id} selected={c.id === q.get('camera')}>
                {c.id}
              </option>
            ))}
          </select>
        </label>
        <label>
          Track id <input name="track" type="number" min="0" required defaultValue={q.get('track') ?? ''} />
        </label>
        <label>
          Only camera{' '}
          <select name="fcamera">
            <option value="">any</option>
            {(cams ?? []).map((c) => (
              <option key={c.id} value={c.id}>
                {c.id}
              </option>
            ))}
          </select>
        </label>
        <label>
          Class <input name="class" placeholder="person" />
        </label>
        <label>
          From <input name="start" type="datetime-local" />
        </label>
        <label>
          To <input name="end" type="datetime-local" />
        </label>
        <button type="submit">Search</button>
      </form>
      {err && <p class="error">{err}</p>}
      {hits && (
        <ul class="hits">
          {hits.length === 0 && <li class="muted">Nothing similar.</li>}
          {hits.map((h) => (
            <li key={`${h.camera_id}:${h.track_id}`}>
              <AuthImage src={h.snapshot_url ?? `/tracks/${encodeURIComponent(h.camera_id)}:${h.track_id}/snapshot.jpg?crop=true`} alt={`track ${h.track_id}`} class="thumb" />
              <span>
                {h.camera_id} #{h.track_id} · {(h.score * 100).toFixed(1)}%
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

type Draft = { kind: 'tripwire' | 'zone_enter' | 'zone_presence' | 'dwell' | 'occupancy'; points: Array<[number, number]> };

export function Rules() {
  const cams = useCameras();
  const [camera, setCamera] = useState<string>('');
  const [rules, rulesErr, reload] = useData(listRules);
  const [draft, setDraft] = useState<Draft>({ kind: 'tripwire', points: [] });
  const [preview, setPreview] = useState<string | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const form = useRef<HTMLFormElement>(null);
  const imgBox = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!camera && cams && cams[0]) setCamera(cams[0].id);
  }, [cams]);
  const needed = draft.kind === 'tripwire' ? 2 : 3;
  const rule = useMemo((): Record<string, unknown> | null => {
    const f = form.current;
    if (!f || draft.points.length < needed) return null;
    const d = new FormData(f);
    const r: Record<string, unknown> = {
      id: String(d.get('id') || ''),
      name: String(d.get('name') || d.get('id') || ''),
      kind: draft.kind,
      cameras: [camera],
    };
    const classes = String(d.get('classes') || '').split(',').map((s) => s.trim()).filter(Boolean);
    if (classes.length) r['classes'] = classes;
    if (draft.kind === 'tripwire') r['line'] = { from: draft.points[0], to: draft.points[1], normalized: true };
    else r['zone'] = { points: draft.points, normalized: true };
    if (draft.kind === 'dwell') r['seconds'] = Number(d.get('seconds') || 10);
    if (draft.kind === 'occupancy') {
      r['condition'] = 'above';
      r['threshold'] = Number(d.get('threshold') || 3);
    }
    const cooldown = Number(d.get('cooldown') || 0);
    if (cooldown > 0) r['cooldownSeconds'] = cooldown;
    const start = String(d.get('start') || '');
    const end = String(d.get('end') || '');
    if (start && end) r['schedule'] = { windows: [{ start, end }] };
    return r;
  }, [draft, camera, needed, tick]);
  // Keyboard drawing: arrows move a cursor over the picture (Shift: bigger steps), Enter or Space adds a point.
  const [cursor, setCursor] = useState<[number, number]>([0.5, 0.5]);
  const addPoint = (x: number, y: number) =>
    setDraft((d) => ({ ...d, points: d.kind === 'tripwire' && d.points.length >= 2 ? [[round(x), round(y)]] : [...d.points, [round(x), round(y)]] }));
  const onKey = (e: KeyboardEvent) => {
    const step = e.shiftKey ? 0.1 : 0.02;
    const moves: Record<string, [number, number]> = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    const m = moves[e.key];
    if (m) {
      e.preventDefault();
      setCursor(([x, y]) => [Math.min(1, Math.max(0, x + m[0])), Math.min(1, Math.max(0, y + m[1]))]);
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      addPoint(cursor[0], cursor[1]);
    }
  };
  const click = (e: MouseEvent) => {
    const el = imgBox.current?.querySelector('img');
    if (!el) return;
    const b = el.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (e.clientX - b.left) / b.width));
    const y = Math.min(1, Math.max(0, (e.clientY - b.top) / b.height));
    addPoint(x, y);
  };
  return (
    <section>
      <h2>Rules</h2>
      {rulesErr && <p class="error">{rulesErr}</p>}
      <ul class="rules">
        {(rules ?? []).map((r) => (
          <li key={r.id} data-rule={r.id}>
            <strong>{r.name ?? r.id}</strong> · {r.kind} · {(r.cameras ?? ['all']).join(', ')}
            {can('rules') && r.source === 'api' && (
              <button
                onClick={async () => {
                  try {
                    await api(`/rules/${encodeURIComponent(r.id)}`, { method: 'DELETE' });
                    reload();
                  } catch (e) {
                    setMsg((e as Error).message);
                  }
                }}
              >
                Delete
              </button>
            )}
          </li>
        ))}
      </ul>
      <h3>New rule</h3>
      <form ref={form} class="rule-form" onInput={() => setTick((t) => t + 1)} onChange={() => setTick((t) => t + 1)} onSubmit={(e) => e.preventDefault()}>
        <div class="row">
          <label>
            Camera{' '}
            <select name="camera" value={camera} onChange={(e) => (setCamera(e.currentTarget.value), setDraft((d) => ({ ...d, points: [] })))}>
              {(cams ?? []).map((c) => (
                <option key={c.id} value={c.id}>
                  {c.id}
                </option>
              ))}
            </select>
          </label>
          <label>
            Kind{' '}
            <select name="kind" value={draft.kind} onChange={(e) => setDraft({ kind: e.currentTarget.value as Draft['kind'], points: [] })}>
              <option value="tripwire">tripwire</option>
              <option value="zone_enter">zone enter</option>
              <option value="zone_presence">zone presence</option>
              <option value="dwell">dwell</option>
              <option value="occupancy">occupancy</option>
            </select>
          </label>
          <label>
            Id <input name="id" required pattern="[A-Za-z0-9_.\-]{1,64}" />
          </label>
          <label>
            Name <input name="name" />
          </label>
          <label>
            Classes <input name="classes" placeholder="person, car" />
          </label>
          {draft.kind === 'dwell' && (
            <label>
              Seconds <input name="seconds" type="number" min="1" defaultValue="10" />
            </label>
          )}
          {draft.kind === 'occupancy' && (
            <label>
              More than <input name="threshold" type="number" min="0" defaultValue="3" />
            </label>
          )}
          <label>
            Cool-down s <input name="cooldown" type="number" min="0" defaultValue="0" />
          </label>
          <label>
            Active from <input name="start" type="time" />
          </label>
          <label>
            to <input name="end" type="time" />
          </label>
        </div>
        <p class="muted">
          Click on the picture: {draft.kind === 'tripwire' ? 'two points for the line (from, to)' : 'three or more corners of the zone'}.{' '}
          <button type="button" onClick={() => setDraft((d) => ({ ...d, points: [] }))}>
            Clear
          </button>
        </p>
        {camera && (
          <div class="draw" ref={imgBox} onClick={click} onKeyDown={onKey} tabIndex={0} role="application" aria-label="Drawing area: arrow keys move the cursor, Enter adds a point" data-testid="draw">
            <AuthImage src={`/cameras/${encodeURIComponent(camera)}/latest.jpg`} alt={`Latest frame of ${camera}`} />
            <svg viewBox="0 0 1 1" preserveAspectRatio="none" aria-hidden="true">
              {draft.kind === 'tripwire' && draft.points.length === 2 ? (
                <line x1={draft.points[0]![0]} y1={draft.points[0]![1]} x2={draft.points[1]![0]} y2={draft.points[1]![1]} />
              ) : (
                <polygon points={draft.points.map((p) => p.join(',')).join(' ')} />
              )}
              {draft.points.map((p, i) => (
                <circle key={i} cx={p[0]} cy={p[1]} r="0.008" />
              ))}
              <circle class="cursor" cx={cursor[0]} cy={cursor[1]} r="0.012" />
            </svg>
          </div>
        )}
        <div class="row">
          <button
            type="button"
            disabled={!rule}
            onClick={async () => {
              if (!rule) return;
              try {
                const r = await api<{ frames: number; raised_by_rule: Record<string, number>; tripwire_counts: Record<string, Record<string, { aToB: number; bToA: number }>> }>('/console/rules/replay', {
                  method: 'POST',
                  body: JSON.stringify({ rules: [{ ...rule, id: rule['id'] || 'draft' }], camera_id: camera }),
                });
                const id = String(rule['id'] || 'draft');
                const tw = r.tripwire_counts[id]?.[camera];
                setPreview(`Over the last hour (${r.frames} frames): would have raised ${r.raised_by_rule[id] ?? 0} alert(s)${tw ? `; crossings A→B ${tw.aToB}, B→A ${tw.bToA}` : ''}.`);
              } catch (e) {
                setPreview((e as Error).message);
              }
            }}
          >
            Preview on stored tracks
          </button>
          {can('rules') && (
            <button
              type="button"
              disabled={!rule}
              onClick={async () => {
                if (!rule || !form.current?.reportValidity()) return;
                try {
                  await api('/rules', { method: 'POST', body: JSON.stringify(rule) });
                  setMsg(`Saved rule ${String(rule['id'])}`);
                  setDraft((d) => ({ ...d, points: [] }));
                  reload();
                } catch (e) {
                  setMsg((e as Error).message);
                }
              }}
            >
              Save rule
            </button>
          )}
        </div>
        {preview && <p role="status" class="preview">{preview}</p>}
        {msg && <p role="status">{msg}</p>}
      </form>
    </section>
  );
}

const round = (v: number): number => Math.round(v * 1000) / 1000;

function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    const key = line.slice(0, i);
    const v = Number(line.slice(i + 1));
    if (Number.isFinite(v)) m.set(key, v);
  }
  return m;
}

function sum(m: Map<string, number>, prefix: string): number {
  let s = 0;
  for (const [k, v] of m) if (k === prefix || k.startsWith(prefix + '{')) s += v;
  return s;
}

export function System() {
  const [health, hErr, reloadHealth] = useData(() => fetch('/health').then((r) => r.json() as Promise<{ status: string; checks?: Record<string, unknown> }>));
  const cams = useCameras();
  const [metrics, mErr, reloadMetrics] = useData(() => (can('metrics') ? api<string>('/metrics').then(parseMetrics) : Promise.resolve(null)));
  useEffect(() => {
    const t = setInterval(() => (reloadHealth(), reloadMetrics()), 5000);
    return () => clearInterval(t);
  }, []);
  const rows: Array<[string, string]> = metrics
    ? [
        ['Frames decoded / handed on / dropped', `${sum(metrics, 'vigil_camera_frames_decoded')} / ${sum(metrics, 'vigil_camera_frames_handed_on')} / ${sum(metrics, 'vigil_camera_frames_dropped')}`],
        ['Camera restarts', String(sum(metrics, 'vigil_camera_restarts'))],
        ['Inference frames / shed', `${sum(metrics, 'vigil_inference_frames')} / ${sum(metrics, 'vigil_inference_shed_frames')}`],
        ['Inference errors', String(sum(metrics, 'vigil_inference_errors_total'))],
        ['Stream clients / events / dropped', `${sum(metrics, 'vigil_ws_clients')} / ${sum(metrics, 'vigil_stream_events_published_total')} / ${sum(metrics, 'vigil_ws_messages_dropped_total')}`],
        ['Live viewers / fragments / dropped', `${sum(metrics, 'vigil_live_viewers')} / ${sum(metrics, 'vigil_live_fragments_total')} / ${sum(metrics, 'vigil_live_dropped_total')}`],
        ['Queue sinks delivered / dropped', `${sum(metrics, 'vigil_queue_delivered')} / ${sum(metrics, 'vigil_queue_dropped')}`],
        ['Notifications delivered / pending / dead letters', `${sum(metrics, 'vigil_notify_delivered_total')} / ${sum(metrics, 'vigil_notify_pending')} / ${sum(metrics, 'vigil_notify_dead_letters')}`],
      ]
    : [];
  return (
    <section>
      <h2>System</h2>
      {hErr && <p class="error">{hErr}</p>}
      {health && (
        <p>
          Health: <strong class={`state ${health.status}`}>{health.status}</strong>
        </p>
      )}
      {health?.checks && (
        <table>
          <tbody>
            {Object.entries(health.checks).map(([k, v]) => (
              <tr key={k}>
                <th>{k}</th>
                <td>{typeof v === 'string' ? v : JSON.stringify(v)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Cameras</h3>
      <table>
        <thead>
          <tr>
            <th>Camera</th>
            <th>State</th>
            <th>fps</th>
            <th>Last error</th>
          </tr>
        </thead>
        <tbody>
          {(cams ?? []).map((c) => (
            <tr key={c.id}>
              <td>{c.id}</td>
              <td class={`state ${c.status}`}>{c.status}</td>
              <td>{c.fps}</td>
              <td>{c.last_error ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {mErr && <p class="error">{mErr}</p>}
      {rows.length > 0 && (
        <>
          <h3>Pipeline</h3>
          <table>
            <tbody>
              {rows.map(([k, v]) => (
                <tr key={k}>
                  <th>{k}</th>
                  <td>{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

interface UserRow {
  username: string;
  role: string;
  cameras: string[] | '*';
  disabled?: boolean;
  created: string;
}

export function Users() {
  const [users, err, reload] = useData(() => api<{ users: UserRow[] }>('/users').then((r) => r.users));
  const [msg, setMsg] = useState<string | null>(null);
  const act = async (fn: () => Promise<unknown>, ok: string) => {
    try {
      await fn();
      setMsg(ok);
      reload();
    } catch (e) {
      setMsg((e as Error).message);
    }
  };
  const camsOf = (s: string): string[] | '*' => (s.trim() === '*' || s.trim() === '' ? '*' : s.split(',').map((x) => x.trim()).filter(Boolean));
  return (
    <section>
      <h2>Users</h2>
      {err && <p class="error">{err}</p>}
      {msg && <p role="status">{msg}</p>}
      <table>
        <thead>
          <tr>
            <th>User</th>
            <th>Role</th>
            <th>Cameras</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(users ?? []).map((u) => (
            <tr key={u.username}>
              <td>{u.username}</td>
              <td>
                <select
                  aria-label={`Role of ${u.username}`}
                  value={u.role}
                  disabled={u.username === user()?.username}
                  onChange={(e) => act(() => api(`/users/${encodeURIComponent(u.username)}`, { method: 'PATCH', body: JSON.stringify({ role: e.currentTarget.value }) }), `Role of ${u.username} changed`)}
                >
                  <option>admin</option>
                  <option>operator</option>
                  <option>viewer</option>
                </select>
              </td>
              <td>
                {u.cameras === '*' ? 'all' : u.cameras.join(', ')}
                {u.disabled ? ' (disabled)' : ''}
              </td>
              <td>
                <button
                  onClick={() => {
                    // Changing one's own password needs the current one (a stolen token alone is not enough).
                    const self = u.username === user()?.username;
                    const current = self ? prompt('Your current password') : null;
                    if (self && !current) return;
                    const pw = prompt(`New password for ${u.username} (8+ characters)`);
                    if (pw)
                      void act(
                        () => api(`/users/${encodeURIComponent(u.username)}/password`, { method: 'POST', body: JSON.stringify({ new_password: pw, ...(self ? { current_password: current } : {}) }) }),
                        `Password of ${u.username} changed`,
                      );
                  }}
                >
                  Set password
                </button>
                {u.username !== user()?.username && (
                  <button onClick={() => act(() => api(`/users/${encodeURIComponent(u.username)}`, { method: 'PATCH', body: JSON.stringify({ disabled: !u.disabled }) }), `${u.username} ${u.disabled ? 'enabled' : 'disabled'}`)}>
                    {u.disabled ? 'Enable' : 'Disable'}
                  </button>
                )}
                {u.username !== user()?.username && (
                  <button onClick={() => confirm(`Delete ${u.username}?`) && act(() => api(`/users/${encodeURIComponent(u.username)}`, { method: 'DELETE' }), `${u.username} deleted`)}>Delete</button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Add user</h3>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          void act(
            () => api('/users', { method: 'POST', body: JSON.stringify({ username: f.get('username'), password: f.get('password'), role: f.get('role'), cameras: camsOf(String(f.get('cameras'))) }) }),
            `${String(f.get('username'))} added`,
          );
        }}
      >
        <label>
          Username <input name="username" required minLength={3} maxLength={50} />
        </label>
        <label>
          Password <input name="password" type="password" required minLength={8} autoComplete="new-password" />
        </label>
        <label>
          Role{' '}
          <select name="role">
            <option>viewer</option>
            <option>operator</option>
            <option>admin</option>
          </select>
        </label>
        <label>
          Cameras <input name="cameras" placeholder="* or gate, yard" />
        </label>
        <button type="submit">Add</button>
      </form>
    </section>
  );
}
