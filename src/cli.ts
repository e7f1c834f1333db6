/**
 * `vigil serve | probe`. Services start in order and stop in reverse on SIGINT/SIGTERM.
 */
import { loadAddon } from '../bindings/index.js';
import { CameraManager } from './camera/manager.js';
import { probeDecoders, hasElement } from './camera/decoders.js';
import { loadConfig } from './config/index.js';
import { VigilError } from './errors.js';
import { createLogger } from './log.js';
import { Recorder } from './recording/recorder.js';
import { join } from 'node:path';

const log = createLogger('vigil');

function usage(): never {
  process.stderr.write('usage: vigil serve [--config FILE] | vigil probe\n');
  process.exit(2);
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
];

export function probe(): string {
  const addon = loadAddon();
  const lines = [`GStreamer: ${addon.gstVersion()}`, '', 'Decoders (best first per codec):'];
  for (const d of probeDecoders()) {
    lines.push(`  ${d.codec.padEnd(10)} ${d.element.padEnd(16)} ${d.kind.padEnd(9)} ${d.available ? 'available' : 'not available'}`);
  }
  lines.push('', 'Elements:');
  for (const e of PROBE_ELEMENTS) lines.push(`  ${e.padEnd(16)} ${hasElement(e) ? 'available' : 'missing'}`);
  return lines.join('\n');
}

export async function serve(configPath?: string): Promise<() => Promise<void>> {
  const config = loadConfig(configPath);
  const cameras = new CameraManager();
  const camLog = log.child('camera');
  cameras.on('state', (id, state, prev) => camLog.info(`${id} ${prev} -> ${state}`));
  cameras.on('error', (id, err) => camLog.warn(`${id} ${err.message}`, { code: err.code }));
  cameras.on('reconnecting', (id, r) => camLog.info(`${id} reconnecting`, { attempt: r.attempt, delayMs: r.delayMs, reason: r.reason }));
  let recorder: Recorder | null = null;
  if (config.recordingPolicies.size > 0) {
    recorder = new Recorder({
      indexPath: join(config.dataDir, 'recordings.lmdb'),
      recordingsDir: config.recording.directory,
      minFreeBytes: config.recording.minFreeBytes,
      maxBytes: config.recording.maxBytes,
      log: log.child('recording'),
    });
    await recorder.start();
    for (const [id, policy] of config.recordingPolicies) recorder.setPolicy(id, policy);
    const rec = recorder;
    cameras.on('segment', (e) => void rec.onSegment(e));
  }
  for (const settings of config.cameras) {
    const camera = cameras.add(settings);
    camLog.info(`${camera.id} added`, { source: camera.displaySource, detectFps: settings.detectFps });
  }
  const status = setInterval(() => {
    for (const { id, state, counters: c } of cameras.counters()) {
      camLog.info(`${id} ${state} ${c.fps.toFixed(1)} fps`, {
        decoded: c.framesDecoded,
        handedOn: c.framesHandedOn,
        dropped: c.framesDropped,
        restarts: c.restarts,
        decoder: cameras.get(id)?.decoder?.element ?? '-',
      });
    }
  }, config.statusIntervalS * 1000);
  log.info('serving', { cameras: config.cameras.length });
  return async () => {
    clearInterval(status);
    cameras.close();
    await recorder?.close();
    log.info('stopped');
  };
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'probe':
      process.stdout.write(`${probe()}\n`);
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

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof VigilError) log.error(err.message, { code: err.code });
  else log.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
