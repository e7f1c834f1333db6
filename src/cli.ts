/**
 * `vigil serve | probe`. Services start in order and stop in reverse on SIGINT/SIGTERM.
 */
import { loadAddon } from '../bindings/index.js';
import { probeDecoders, hasElement } from './camera/decoders.js';
import { configFiles, loadConfig, substituteEnv } from './config/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { formatReplay, replayInput } from './rules/index.js';
import { DetectionStore } from './store/index.js';
import { timeNs } from './validate.js';
import { VigilError } from './errors.js';
import { configureLogging, createLogger } from './log.js';
import { CLUSTER_USAGE, clusterCommand } from './cluster/cli.js';
import { probeInference } from './inference/probe.js';

const log = createLogger('vigil');

function usage(): never {
  process.stderr.write(
    [
      'usage: vigil serve [--config FILE|DIR]',
      '       vigil config check [FILE|DIR]      (default: VIGIL_CONFIG, or config/default.yaml + config/$VIGIL_ENV.yaml)',
      '       vigil probe',
      '       vigil bench density [--cameras N | --start N --step N --max N] [--seconds S] [--prelim-seconds S] [--warmup S] [--busy-share F]',
      '                           [--substreams] [--workers N] [--no-deblock] [--ingest-nice N] [--no-baseline] [--detect-fps F] [--out FILE]',
      '       vigil bench inference [--seconds S] [--out FILE]',
      '       vigil rules test (--rules FILE | --config FILE) (--input NDJSON | --data DIR --camera ID [--start T] [--end T]) [--timezone TZ]',
      ...CLUSTER_USAGE,
      '',
    ].join('\n'),
  );
  process.exit(2);
}

/**
 * `vigil rules test`: replays stored tracks (from a data folder's detection store) or an NDJSON file of frames
 * through a rule set and prints what would have fired, without touching the live server.
 */
export async function rulesTest(args: string[]): Promise<string[]> {
  const rulesFile = argValue(args, '--rules');
  const configFile = argValue(args, '--config');
  let rules: unknown;
  let timezone = argValue(args, '--timezone');
  if (rulesFile) {
    const doc = parseYaml(substituteEnv(readFileSync(rulesFile, 'utf8'))) as unknown;
    rules = Array.isArray(doc) ? doc : (doc as { rules?: unknown } | null)?.rules;
  } else if (configFile) {
    const config = loadConfig(configFile);
    rules = config.rules;
    timezone ??= config.rulesTimezone;
  } else usage();
  const input = argValue(args, '--input');
  let text: string;
  if (input) {
    text = readFileSync(input, 'utf8');
  } else {
    const data = argValue(args, '--data');
    const camera = argValue(args, '--camera');
    if (!data || !camera) usage();
    const start = argValue(args, '--start');
    const end = argValue(args, '--end');
    const store = DetectionStore.open({ path: join(data, 'detections') });
    try {
      // Stored detections, grouped back into frames (one frame = one camera timestamp).
      const lines: string[] = [];
      let frame: { cameraId: string; frameSequence: number; timestampNs: string; frameWidth: number; frameHeight: number; detections: unknown[] } | null = null;
      for await (const d of store.export({
        cameraIds: [camera],
        ...(start ? { startNs: timeNs(start, 'start') } : {}),
        ...(end ? { endNs: timeNs(end, 'end') } : {}),
      })) {
        if (!frame || frame.timestampNs !== d.timestampNs.toString()) {
          if (frame) lines.push(JSON.stringify(frame));
          frame = { cameraId: d.cameraId, frameSequence: lines.length, timestampNs: d.timestampNs.toString(), frameWidth: d.frameWidth, frameHeight: d.frameHeight, detections: [] };
        }
        frame.detections.push({ classId: d.classId, className: d.className, confidence: d.confidence, box: d.box, ...(d.trackId !== undefined ? { trackId: d.trackId } : {}) });
      }
      if (frame) lines.push(JSON.stringify(frame));
      text = lines.join('\n');
    } finally {
      await store.close();
    }
  }
  return formatReplay(replayInput(rules, text, timezone ? { timezone } : {}));
}

/**
 * `vigil config check [FILE|DIR]`: loads and validates the configuration exactly as `serve` would (the same
 * messages: unknown keys with the likely intended one, missing keys, a camera tensor the detector cannot take)
 * without opening cameras, models or the data folder. `ok` false: the lines are the error.
 */
export function configCheck(args: string[], env: NodeJS.ProcessEnv = process.env): { ok: boolean; lines: string[] } {
  const path = args[0] ?? env.VIGIL_CONFIG;
  let files: string[] = [];
  try {
    files = configFiles(path, env).files;
    const c = loadConfig(path, env);
    const d = c.detector;
    return {
      ok: true,
      lines: [
        `${files.length ? files.join(' + ') : '(embedded defaults)'}: OK${env.VIGIL_ENV ? ` (VIGIL_ENV=${env.VIGIL_ENV})` : ''}`,
        `  cameras: ${c.cameras.length} (${c.cameras.map((x) => x.id).join(', ')})`,
        `  detector: ${d ? `${d.model} ${d.precision} ${d.inputSize}` : 'off'}`,
        `  server: ${c.server.host}:${c.server.port}, data: ${c.dataDir}`,
        `  rules: ${c.rules.length}, VMS sources: ${c.integrations.vms.length}, queues: ${c.integrations.queues.length}, storage: ${c.integrations.storage.type}`,
      ],
    };
  } catch (err) {
    if (!(err instanceof VigilError)) throw err;
    return { ok: false, lines: [`${files.length ? `${files.join(' + ')}: ` : ''}${err.message}`] };
  }
}

function argValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (!v) usage();
  return v;
}

const PROBE_ELEMENTS = [
  'filesrc', 'rtspsrc', 'videotestsrc', 'qtdemux', 'matroskademux', 'avidemux', 'h264parse', 'h265parse',
  'rtph264depay', 'rtph265depay', 'videorate', 'videoconvert', 'appsink', 'splitmuxsink', 'jpegenc', 'x264enc',
  'vigildec',
];

export function probe(): string {
  const addon = loadAddon();
  const lines = [`GStreamer: ${addon.gstVersion()}`, '', 'Decoders (best first per codec):'];
  for (const d of probeDecoders()) {
    lines.push(`  ${d.codec.padEnd(10)} ${d.element.padEnd(16)} ${d.kind.padEnd(9)} ${d.available ? 'available' : 'not available'}`);
  }
  const inf = probeInference();
  lines.push('', `ONNX Runtime ${inf.onnxruntimeVersion}, execution providers:`);
  for (const p of inf.providers) lines.push(`  ${p.name.padEnd(10)} ${p.available ? 'available' : 'not available'}`);
  const intDot = {
    amx: 'AMX (INT8 models pay)',
    'avx512-vnni': 'AVX-512 VNNI (INT8 models pay)',
    'avx-vnni': 'AVX VNNI (INT8 models pay)',
    avx2: 'AVX2 only, no VNNI/AMX (INT8 models gain little here: 0.98x float32 measured on an AVX2-only AMD EPYC; compare with `vigil bench inference`)',
    none: 'none found (INT8 models run on generic kernels: compare with `vigil bench inference`)',
  }[inf.cpu.intDot];
  lines.push(`CPU: ${inf.cpu.model}; 8-bit dot products: ${intDot}`);
  lines.push('Models:');
  for (const m of inf.models) lines.push(`  ${m.name.padEnd(14)} ${m.present ? `${(m.bytes / 2 ** 20).toFixed(1)} MB` : 'missing (run bash scripts/setup.sh)'}`);
  lines.push('', 'Elements:');
  for (const e of PROBE_ELEMENTS) lines.push(`  ${e.padEnd(16)} ${hasElement(e) ? 'available' : 'missing'}`);
  return lines.join('\n');
}

export async function serve(configPath?: string): Promise<() => Promise<void>> {
  const config = loadConfig(configPath);
  // Loaded here, not at the top: `vigil config check` and the other light commands need none of the server's modules.
  const { createServer } = await import('./server.js');
  if (config.log) configureLogging(config.log); // the file's log: section (VIGIL_LOG_* still override it)
  const server = await createServer(config, { log });
  const camLog = log.child('camera');
  let last = { at: performance.now(), detections: 0, frames: 0 };
  const status = setInterval(() => {
    for (const { id, state, counters: c } of server.cameras.counters()) {
      camLog.info(`${id} ${state} ${c.fps.toFixed(1)} fps`, {
        decoded: c.framesDecoded,
        handedOn: c.framesHandedOn,
        dropped: c.framesDropped,
        skippedNoMotion: c.framesSkippedNoMotion,
        restarts: c.restarts,
        decoder: server.cameras.get(id)?.decoder?.element ?? '-',
      });
    }
    if (server.detector) {
      const now = performance.now();
      const s = server.stats();
      const dt = (now - last.at) / 1000;
      log.child('inference').info(`${((s.detections - last.detections) / dt).toFixed(1)} detections/s`, {
        framesAnalysed: s.framesAnalysed,
        inferencesPerS: ((s.framesAnalysed - last.frames) / dt).toFixed(1),
        storeDropped: s.storeDropped,
      });
      last = { at: now, detections: s.detections, frames: s.framesAnalysed };
    }
  }, config.statusIntervalS * 1000);
  log.info('serving', { cameras: config.cameras.length });
  // SIGHUP re-reads the config file's rules and swaps them in without touching cameras.
  const onHup = () => {
    void (async () => {
      try {
        await server.reloadRules(loadConfig(configPath).rules);
        log.info('rules reloaded');
      } catch (err) {
        log.error(`rules not reloaded: ${(err as Error).message}`, { code: (err as { code?: string }).code ?? 'E_CONFIG' });
      }
    })();
  };
  process.on('SIGHUP', onHup);
  return async () => {
    process.off('SIGHUP', onHup);
    clearInterval(status);
    await server.stop();
  };
}

/** Runs one `vigil` command; exits the process with 1 on an error (messages carry no secrets). */
export async function run(argv: string[]): Promise<void> {
  try {
    await main(argv);
  } catch (err) {
    if (err instanceof VigilError) log.error(err.message, { code: err.code });
    else log.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'probe':
      process.stdout.write(`${probe()}\n`);
      return;
    case 'bench': {
      const print = (line: string): void => void process.stdout.write(`${line}\n`);
      const { benchDensityCommand, benchInferenceCommand } = await import('./bench/command.js');
      if (rest[0] === 'density') await benchDensityCommand(rest.slice(1), print);
      else if (rest[0] === 'inference') await benchInferenceCommand(rest.slice(1), print);
      else usage();
      return;
    }
    case 'config': {
      if (rest[0] !== 'check') usage();
      const r = configCheck(rest.slice(1));
      (r.ok ? process.stdout : process.stderr).write(`${r.lines.join('\n')}\n`);
      if (!r.ok) process.exit(1);
      return;
    }
    case 'cluster':
      process.stdout.write(`${(await clusterCommand(rest)).join('\n')}\n`);
      return;
    case 'rules':
      if (rest[0] !== 'test') usage();
      process.stdout.write(`${(await rulesTest(rest.slice(1))).join('\n')}\n`);
      return;
    case 'serve': {
      const stop = await serve(argValue(rest, '--config'));
      let stopping = false;
      const onSignal = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info(`received ${signal}, stopping`);
        void stop().then(() => process.exit(0));
      };
      process.on('SIGINT', () => onSignal('SIGINT'));
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      // Keep the process alive while cameras run (their timers are unref'd).
      setInterval(() => {}, 1 << 30);
      return;
    }
    default:
      usage();
  }
}

