/**
 * `vigil serve | probe`. Services start in order and stop in reverse on SIGINT/SIGTERM.
 */
import { loadAddon } from '../bindings/index.js';
import { probeDecoders, hasElement } from './camera/decoders.js';
import { loadConfig } from './config/index.js';
import { VigilError } from './errors.js';
import { createLogger } from './log.js';
import { createServer } from './server.js';

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
  return async () => {
    clearInterval(status);
    await server.stop();
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
