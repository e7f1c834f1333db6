/** Segment recording (continuous or around events), for the configured cameras and VMS sources that record. */
import { Recorder } from '../recording/recorder.js';
import type { Service, ServiceContext } from './service.js';

export class RecorderService implements Service {
  readonly name = 'recorder';
  #recorder: Recorder | null = null;

  /** null: nothing is recorded. */
  get recorder(): Recorder | null {
    return this.#recorder;
  }

  async start(ctx: ServiceContext): Promise<void> {
    const { config } = ctx;
    if (config.recordingPolicies.size === 0 && !config.integrations.vms.some((v) => v.recording)) return;
    const recorder = new Recorder({
      indexPath: ctx.db.scope('segments'),
      recordingsDir: config.recording.directory,
      minFreeBytes: config.recording.minFreeBytes,
      maxBytes: config.recording.maxBytes,
      log: ctx.log.child('recording'),
    });
    this.#recorder = recorder;
    await recorder.start();
    for (const [id, policy] of config.recordingPolicies) recorder.setPolicy(id, policy);
  }

  async stop(): Promise<void> {
    await this.#recorder?.close();
  }
}
