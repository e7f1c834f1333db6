import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, api, attempt, can, login, user } from './api';
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

/** One <option> per camera the caller may see (`selected`: the camera chosen by the page's state or URL). */
function CameraOptions(props: { cams: Array<{ id: string }> | null | undefined; selected?: string | null }) {
  return (
    <>
      {(props.cams ?? []).map((c) => (
        <option key={c.id} value={c.id} selected={props.selected === undefined ? undefined : c.id === props.selected}>
          {c.id}
        </option>
      ))}
    </>
  );
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
  const [cams, , reload] = useData(() => api<Camera[]>('/cameras'));
  // None yet (the server registers its cameras after it starts listening): ask again shortly.
  useEffect(() => {
    if (!cams || cams.length > 0) return;
    const t = setTimeout(reload, 2000);
    return () => clearTimeout(t);
  }, [cams]);
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
            onClick={() =>
              attempt(async () => {
                await api(`/alerts/${encodeURIComponent(a.alertId)}/acknowledge`, { method: 'POST' });
                props.onAck();
              }, setErr)
            }
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

/** A stored track as GET /tracks answers (src/console/tracks.ts). */
export interface TrackItem {
  camera_id: string;
  track_id: number;
  class_name: string;
  start_time: string;
  end_time: string | null;
  best_confidence?: number;
  links: { snapshot: string; clip: string };
}

const trackRef = (camera: string, id: number): string => `${encodeURIComponent(camera)}:${id}`;

/**
 * A camera's tracks from the stored history (GET /tracks, newest first) with their snapshots, topped up by the
 * tracks that start and end live (the /ws stream) when `live`. A track's clip plays by URL (Range seeking).
 */
export function TrackTimeline(props: { cameraId: string; live?: boolean; startTime?: string; endTime?: string; className?: string }) {
  // Live timeline: the last hour as of when it opened (fixed, so the query does not change with every render).
  const [since] = useState(() => new Date(Date.now() - 3600_000).toISOString());
  const query = new URLSearchParams({ camera_id: props.cameraId, limit: '50' });
  if (props.startTime) query.set('start_time', props.startTime);
  else if (props.live) query.set('start_time', since);
  if (props.endTime) query.set('end_time', props.endTime);
  if (props.className) query.set('class', props.className);
  const qs = query.toString();
  const [stored, err] = useData(() => api<{ tracks: TrackItem[] }>(`/tracks?${qs}`).then((r) => r.tracks), [qs]);
  const [live, setLive] = useState<TrackItem[]>([]);
  const [playing, setPlaying] = useState<TrackItem | null>(null);
  useEffect(() => setLive([]), [qs]);
  useEffect(
    () =>
      props.live
        ? events.on((e) => {
            if (e.kind !== 'track' || e.cameraId !== props.cameraId) return;
            setLive((list) => {
              const i = list.findIndex((t) => t.track_id === e.trackId);
              const ref = trackRef(props.cameraId, e.trackId);
              if (e.phase === 'start' && i < 0)
                return [{ camera_id: props.cameraId, track_id: e.trackId, class_name: e.className, start_time: new Date(e.timestampMs).toISOString(), end_time: null, links: { snapshot: `/tracks/${ref}/snapshot.jpg`, clip: `/events/${ref}/clip` } }, ...list].slice(0, 30);
              if (e.phase === 'end' && i >= 0) return list.map((t, k) => (k === i ? { ...t, end_time: new Date(e.timestampMs).toISOString() } : t));
              return list;
            });
          })
        : undefined,
    [props.cameraId, props.live],
  );
  // Live entries first (newest), then the stored ones they do not repeat (a live end replaces a stored "live").
  const liveIds = new Set(live.map((t) => t.track_id));
  const tracks = [...live, ...(stored ?? []).filter((t) => !liveIds.has(t.track_id))];
  return (
    <>
      {err && <p class="error">{err}</p>}
      <ol class="timeline" aria-label={`Tracks of ${props.cameraId}`}>
        {!stored && !err && <li class="muted">Loading tracks…</li>}
        {stored && tracks.length === 0 && <li class="muted">No tracks in this span.</li>}
        {tracks.map((t) => (
          <li key={t.track_id} data-track={t.track_id}>
            <AuthImage src={`${t.links.snapshot}?crop=true`} alt={`${t.class_name} ${t.track_id}`} class="thumb small" />
            <span class="grow">
              {t.class_name} #{t.track_id} · {new Date(t.start_time).toLocaleTimeString()}
              {t.end_time ? ` – ${new Date(t.end_time).toLocaleTimeString()}` : ' (live)'}
            </span>
            {t.end_time && (
              <button onClick={() => setPlaying(t)} aria-label={`Play clip of ${t.class_name} ${t.track_id}`}>
                Clip
              </button>
            )}
            <button onClick={() => navigate(`/ui/search?camera=${encodeURIComponent(t.camera_id)}&track=${t.track_id}`)} aria-label={`Similar to ${t.class_name} ${t.track_id}`}>
              Similar
            </button>
          </li>
        ))}
      </ol>
      {/* A track's clip runs from 5 s before it was first seen (src/api/routes-ops.ts). */}
      {playing && <ClipPlayer src={playing.links.clip} startS={5} title={`${playing.class_name} #${playing.track_id}`} onClose={() => setPlaying(null)} />}
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
          <TrackTimeline cameraId={props.id} live />
        </div>
        <div>
          <h3>Alerts</h3>
          <AlertList cameraId={props.id} />
        </div>
      </div>
    </section>
  );
}

/** `datetime-local` value (local time, minutes) of a Date. */
const localInput = (d: Date): string => {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
};

export function Events() {
  const cams = useCameras();
  const [filter, setFilter] = useState<{ camera: string; from: string; to: string; cls: string } | null>(null);
  useEffect(() => {
    if (!filter && cams && cams[0]) setFilter({ camera: cams[0].id, from: localInput(new Date(Date.now() - 3600_000)), to: '', cls: '' });
  }, [cams]);
  return (
    <section>
      <h2>Events</h2>
      <h3>Tracks</h3>
      {filter && (
        <form
          class="row"
          aria-label="Track history"
          onSubmit={(e) => {
            e.preventDefault();
            const f = new FormData(e.currentTarget);
            setFilter({ camera: String(f.get('camera')), from: String(f.get('from') ?? ''), to: String(f.get('to') ?? ''), cls: String(f.get('class') ?? '').trim() });
          }}
        >
          <label>
            Camera{' '}
            <select name="camera" defaultValue={filter.camera}>
              <CameraOptions cams={cams} selected={filter.camera} />
            </select>
          </label>
          <label>
            From <input name="from" type="datetime-local" step="1" defaultValue={filter.from} />
          </label>
          <label>
            To <input name="to" type="datetime-local" step="1" defaultValue={filter.to} />
          </label>
          <label>
            Class <input name="class" placeholder="person" defaultValue={filter.cls} />
          </label>
          <button type="submit">Show tracks</button>
        </form>
      )}
      {cams && cams.length === 0 && <p class="muted">No cameras you may see.</p>}
      {filter && (
        <TrackTimeline
          cameraId={filter.camera}
          {...(filter.from ? { startTime: new Date(filter.from).toISOString() } : {})}
          {...(filter.to ? { endTime: new Date(filter.to).toISOString() } : {})}
          {...(filter.cls ? { className: filter.cls } : {})}
        />
      )}
      <h3>Alerts</h3>
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
          await attempt(async () => {
            const r = await api<{ results: SearchHit[] }>('/search', { method: 'POST', body: JSON.stringify(body) });
            setHits(r.results);
            setErr(null);
          }, setErr);
        }}
      >
        <label>
          Camera{' '}
          <select name="camera" defaultValue={q.get('camera') ?? ''}>
            <CameraOptions cams={cams} selected={q.get('camera')} />
          </select>
        </label>
        <label>
          Track id <input name="track" type="number" min="0" required defaultValue={q.get('track') ?? ''} />
        </label>
        <label>
          Only camera{' '}
          <select name="fcamera">
            <option value="">any</option>
            <CameraOptions cams={cams} />
          </select>
        </label>
        <label>
          Class <input name="class" placeholder="person" />
        </label>
        <label>
          From <input name="start" type="datetime-local" step="1" />
        </label>
        <label>
          To <input name="end" type="datetime-local" step="1" />
        </label>
        <button type="submit">Search</button>
      </form>
      {err && <p class="error">{err}</p>}
      {hits && (
        <ul class="hits">
          {hits.length === 0 && <li class="muted">Nothing similar.</li>}
          {hits.map((h) => (
            <li key={`${h.camera_id}:${h.track_id}`} data-hit={`${h.camera_id}:${h.track_id}`}>
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

type Kind = 'tripwire' | 'zone_enter' | 'zone_exit' | 'zone_presence' | 'dwell' | 'occupancy' | 'sequence';
type Pt = [number, number];
/** The geometry being drawn: `points` is the line or zone in progress; `zones` the finished zones of a sequence. */
type Draft = { kind: Kind; points: Pt[]; zones: Pt[][] };
type SavedRule = Rule & { source: string };

const KINDS: Array<[Kind, string]> = [
  ['tripwire', 'tripwire'],
  ['zone_enter', 'zone enter'],
  ['zone_exit', 'zone exit'],
  ['zone_presence', 'zone presence'],
  ['dwell', 'dwell'],
  ['occupancy', 'occupancy (count)'],
  ['sequence', 'sequence of zones'],
];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
/** Fields every kind has: kept from a loaded rule when the editor does not show them (PUT replaces the rule). */
const KEEP = ['enabled', 'minConfidence', 'anchor', 'severity', 'notify'] as const;

interface Geometry {
  points: Pt[];
  normalized?: boolean;
}

/** A saved rule's geometry as normalized points (the editor draws on the picture in 0..1). */
function toDraft(r: SavedRule, size: { width: number; height: number } | null): Draft {
  const norm = (g: Geometry | undefined | null): Pt[] => {
    if (!g) return [];
    if (g.normalized) return g.points.map(([x, y]) => [x, y]);
    const w = size?.width || 1;
    const h = size?.height || 1;
    return g.points.map(([x, y]) => [round(x / w), round(y / h)]);
  };
  const kind = r.kind as Kind;
  if (kind === 'tripwire' && r.line) return { kind, points: norm({ points: [r.line.from, r.line.to], normalized: r.line.normalized ?? false }), zones: [] };
  if (kind === 'sequence') return { kind, points: [], zones: (r.zones ?? []).map((z) => norm(z)) };
  return { kind, points: norm(r.zone), zones: [] };
}

export function Rules() {
  const cams = useCameras();
  const [camera, setCamera] = useState<string>('');
  const [rules, rulesErr, reload] = useData(listRules);
  const [draft, setDraft] = useState<Draft>({ kind: 'tripwire', points: [], zones: [] });
  const [editing, setEditing] = useState<SavedRule | null>(null);
  const [formKey, setFormKey] = useState(0);
  const [preview, setPreview] = useState<string | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const form = useRef<HTMLFormElement>(null);
  const imgBox = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!camera && cams && cams[0]) setCamera(cams[0].id);
  }, [cams]);
  // A new form (a rule loaded, or a fresh one) is read once it is in the page: the rule below reads its fields.
  useEffect(() => setTick((t) => t + 1), [formKey]);
  const zonesOf = (d: Draft): Pt[][] => [...d.zones, ...(d.points.length >= 3 ? [d.points] : [])];
  const complete =
    draft.kind === 'tripwire'
      ? draft.points.length === 2
      : draft.kind === 'sequence'
        ? zonesOf(draft).length >= 2 && (draft.points.length === 0 || draft.points.length >= 3)
        : draft.kind === 'occupancy'
          ? draft.points.length === 0 || draft.points.length >= 3
          : draft.points.length >= 3;
  const rule = useMemo((): Record<string, unknown> | null => {
    const f = form.current;
    if (!f || !complete) return null;
    const d = new FormData(f);
    const id = String(d.get('id') || '');
    const r: Record<string, unknown> = {};
    if (editing) for (const k of KEEP) if (editing[k] !== undefined) r[k] = editing[k];
    Object.assign(r, {
      id,
      name: String(d.get('name') || id),
      kind: draft.kind,
      cameras: editing?.cameras && editing.cameras.length > 1 && editing.cameras.includes(camera) ? editing.cameras : [camera],
    });
    r['classes'] = String(d.get('classes') || '').split(',').map((s) => s.trim()).filter(Boolean);
    const zone = (points: Pt[]) => ({ points, normalized: true });
    if (draft.kind === 'tripwire') {
      r['line'] = { from: draft.points[0], to: draft.points[1], normalized: true };
      r['direction'] = String(d.get('direction') || 'both');
    } else if (draft.kind === 'sequence') {
      r['zones'] = zonesOf(draft).map(zone);
      r['withinSeconds'] = Number(d.get('within') || 30);
    } else if (draft.kind === 'occupancy') {
      if (draft.points.length >= 3) r['zone'] = zone(draft.points);
      r['condition'] = String(d.get('condition') || 'above');
      r['threshold'] = Number(d.get('threshold') || 0);
      r['forSeconds'] = Number(d.get('for') || 0);
    } else r['zone'] = zone(draft.points);
    if (draft.kind === 'dwell') r['seconds'] = Number(d.get('seconds') || 10);
    r['cooldownSeconds'] = Number(d.get('cooldown') || 0);
    const start = String(d.get('start') || '');
    const end = String(d.get('end') || '');
    const days = DAYS.filter((x) => d.get(`day-${x}`) !== null);
    if (start && end) {
      const rest = editing?.['schedule'] ? (editing['schedule'] as { timezone?: string; windows: unknown[] }) : null;
      r['schedule'] = { ...(rest?.timezone ? { timezone: rest.timezone } : {}), windows: [{ days, start, end }, ...(rest ? rest.windows.slice(1) : [])] };
    }
    return r;
  }, [draft, camera, complete, tick, editing, formKey]);
  // Keyboard drawing: arrows move a cursor over the picture (Shift: bigger steps), Enter or Space adds a point.
  const [cursor, setCursor] = useState<Pt>([0.5, 0.5]);
  const addPoint = (x: number, y: number) =>
    setDraft((d) => ({ ...d, points: d.kind === 'tripwire' && d.points.length >= 2 ? [[round(x), round(y)]] : [...d.points, [round(x), round(y)]] }));
  const nextZone = () => setDraft((d) => (d.points.length >= 3 ? { ...d, zones: [...d.zones, d.points], points: [] } : d));
  const onKey = (e: KeyboardEvent) => {
    const step = e.shiftKey ? 0.1 : 0.02;
    const moves: Record<string, Pt> = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    const m = moves[e.key];
    if (m) {
      e.preventDefault();
      setCursor(([x, y]) => [Math.min(1, Math.max(0, x + m[0])), Math.min(1, Math.max(0, y + m[1]))]);
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      addPoint(cursor[0], cursor[1]);
    } else if ((e.key === 'n' || e.key === 'N') && draft.kind === 'sequence') {
      e.preventDefault();
      nextZone();
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
  const startNew = () => {
    setEditing(null);
    setDraft({ kind: 'tripwire', points: [], zones: [] });
    setFormKey((k) => k + 1);
    setPreview(null);
  };
  const edit = (r: SavedRule) => {
    const cam = r.cameras && r.cameras.length > 0 && cams?.some((c) => c.id === r.cameras![0]) ? r.cameras[0]! : camera;
    const size = (cams ?? []).find((c) => c.id === cam) as (Camera & { width?: number; height?: number }) | undefined;
    setCamera(cam);
    setEditing(r);
    setDraft(toDraft(r, size && size.width && size.height ? { width: size.width, height: size.height } : null));
    setFormKey((k) => k + 1);
    setPreview(null);
    setMsg(null);
    form.current?.scrollIntoView?.();
  };
  const e0 = editing;
  const w0 = (e0?.['schedule'] as { windows: Array<{ days: string[]; start: string; end: string }> } | null | undefined)?.windows[0];
  const num = (k: string, dflt: string): string => (e0 && typeof e0[k] === 'number' ? String(e0[k]) : dflt);
  const instructions =
    draft.kind === 'tripwire'
      ? 'two points for the line (from, to)'
      : draft.kind === 'sequence'
        ? `zone ${draft.zones.length + 1}: three or more corners, then "Next zone" (or N); at least two zones, entered in this order`
        : draft.kind === 'occupancy'
          ? 'three or more corners of the zone counted, or none for the whole frame'
          : 'three or more corners of the zone';
  return (
    <section>
      <h2>Rules</h2>
      {rulesErr && <p class="error">{rulesErr}</p>}
      <ul class="rules">
        {(rules ?? []).map((r) => (
          <li key={r.id} data-rule={r.id} class={editing?.id === r.id ? 'editing' : undefined}>
            <strong>{r.name ?? r.id}</strong> · {r.kind} · {(r.cameras && r.cameras.length ? r.cameras : ['all']).join(', ')}
            <span class="spacer" />
            {can('rules') && r.source === 'api' && (
              <button onClick={() => edit(r)} aria-label={`Edit ${r.id}`}>
                Edit
              </button>
            )}
            {can('rules') && r.source === 'api' && (
              <button
                aria-label={`Delete ${r.id}`}
                onClick={() =>
                  attempt(async () => {
                    await api(`/rules/${encodeURIComponent(r.id)}`, { method: 'DELETE' });
                    if (editing?.id === r.id) startNew();
                    reload();
                  }, setMsg)
                }
              >
                Delete
              </button>
            )}
          </li>
        ))}
      </ul>
      <h3>{editing ? `Edit rule ${editing.id}` : 'New rule'}</h3>
      <form key={formKey} ref={form} class="rule-form" aria-label={editing ? `Edit rule ${editing.id}` : 'New rule'} onInput={() => setTick((t) => t + 1)} onChange={() => setTick((t) => t + 1)} onSubmit={(e) => e.preventDefault()}>
        <div class="row">
          <label>
            Camera{' '}
            <select name="camera" value={camera} onChange={(e) => (setCamera(e.currentTarget.value), setDraft((d) => ({ ...d, points: [], zones: [] })))}>
              <CameraOptions cams={cams} />
            </select>
          </label>
          <label>
            Kind{' '}
            <select name="kind" value={draft.kind} onChange={(e) => setDraft({ kind: e.currentTarget.value as Kind, points: [], zones: [] })}>
              {KINDS.map(([k, label]) => (
                <option key={k} value={k}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Id <input name="id" required pattern="[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}" defaultValue={e0?.id ?? ''} readOnly={!!e0} />
          </label>
          <label>
            Name <input name="name" defaultValue={e0?.name ?? ''} />
          </label>
          <label>
            Classes <input name="classes" placeholder="person, car" defaultValue={((e0?.['classes'] as string[] | undefined) ?? []).join(', ')} />
          </label>
          {draft.kind === 'tripwire' && (
            <label>
              Direction{' '}
              <select name="direction" defaultValue={String(e0?.['direction'] ?? 'both')}>
                <option value="both">both</option>
                <option value="a_to_b">A → B</option>
                <option value="b_to_a">B → A</option>
              </select>
            </label>
          )}
          {draft.kind === 'dwell' && (
            <label>
              Dwell seconds <input name="seconds" type="number" min="0" step="any" defaultValue={num('seconds', '10')} />
            </label>
          )}
          {draft.kind === 'occupancy' && (
            <>
              <label>
                Count is{' '}
                <select name="condition" defaultValue={String(e0?.['condition'] ?? 'above')}>
                  <option value="above">more than</option>
                  <option value="below">fewer than</option>
                </select>
              </label>
              <label>
                Count <input name="threshold" type="number" min="0" step="1" defaultValue={num('threshold', '3')} />
              </label>
              <label>
                For seconds <input name="for" type="number" min="0" step="any" defaultValue={num('forSeconds', '0')} />
              </label>
            </>
          )}
          {draft.kind === 'sequence' && (
            <label>
              Within seconds <input name="within" type="number" min="0" step="any" defaultValue={num('withinSeconds', '30')} />
            </label>
          )}
          <label>
            Cool-down s <input name="cooldown" type="number" min="0" step="any" defaultValue={num('cooldownSeconds', '0')} />
          </label>
        </div>
        <fieldset class="row">
          <legend>Schedule (empty: always)</legend>
          <label>
            Active from <input name="start" type="time" defaultValue={w0?.start ?? ''} />
          </label>
          <label>
            to <input name="end" type="time" defaultValue={w0?.end === '24:00' ? '23:59' : (w0?.end ?? '')} />
          </label>
          {DAYS.map((d) => (
            <label key={d} class="day">
              <input type="checkbox" name={`day-${d}`} defaultChecked={w0 ? w0.days.includes(d) : true} /> {d}
            </label>
          ))}
        </fieldset>
        <p class="muted">
          Click on the picture: {instructions}.{' '}
          {draft.kind === 'sequence' && (
            <button type="button" disabled={draft.points.length < 3} onClick={nextZone}>
              Next zone
            </button>
          )}{' '}
          <button type="button" onClick={() => setDraft((d) => ({ ...d, points: [], zones: [] }))}>
            Clear
          </button>
        </p>
        {draft.kind === 'sequence' && (
          <p class="zones-list muted" aria-live="polite">
            Zones done: {draft.zones.length}
            {draft.points.length > 0 ? `; zone ${draft.zones.length + 1} has ${draft.points.length} corner(s)` : ''}
          </p>
        )}
        {camera && (
          <div class="draw" ref={imgBox} onClick={click} onKeyDown={onKey} tabIndex={0} role="application" aria-label={`Drawing area: arrow keys move the cursor, Enter adds a point${draft.kind === 'sequence' ? ', N closes the zone' : ''}`} data-testid="draw">
            <AuthImage src={`/cameras/${encodeURIComponent(camera)}/latest.jpg`} alt={`Latest frame of ${camera}`} />
            <svg viewBox="0 0 1 1" preserveAspectRatio="none" aria-hidden="true">
              {draft.zones.map((z, i) => (
                <polygon key={`z${i}`} class="done" points={z.map((p) => p.join(',')).join(' ')} />
              ))}
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
              await attempt(async () => {
                const r = await api<{ frames: number; raised_by_rule: Record<string, number>; tripwire_counts: Record<string, Record<string, { aToB: number; bToA: number }>> }>('/console/rules/replay', {
                  method: 'POST',
                  body: JSON.stringify({ rules: [{ ...rule, id: rule['id'] || 'draft' }], camera_id: camera }),
                });
                const id = String(rule['id'] || 'draft');
                const tw = r.tripwire_counts[id]?.[camera];
                setPreview(`Over the last hour (${r.frames} frames): would have raised ${r.raised_by_rule[id] ?? 0} alert(s)${tw ? `; crossings A→B ${tw.aToB}, B→A ${tw.bToA}` : ''}.`);
              }, setPreview);
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
                const id = String(rule['id']);
                await attempt(async () => {
                  if (editing) await api(`/rules/${encodeURIComponent(id)}`, { method: 'PUT', body: JSON.stringify(rule) });
                  else await api('/rules', { method: 'POST', body: JSON.stringify(rule) });
                  startNew();
                  setMsg(`${editing ? 'Updated' : 'Saved'} rule ${id}`);
                  reload();
                }, setMsg);
              }}
            >
              {editing ? 'Save changes' : 'Save rule'}
            </button>
          )}
          {editing && (
            <button type="button" onClick={startNew}>
              Cancel edit
            </button>
          )}
        </div>
        {preview && <p role="status" class="preview">{preview}</p>}
        {msg && <p role="status" class="saved">{msg}</p>}
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
  const act = (fn: () => Promise<unknown>, ok: string) =>
    attempt(async () => {
      await fn();
      setMsg(ok);
      reload();
    }, setMsg);
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
