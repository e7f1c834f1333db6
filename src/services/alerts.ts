/**
 * Rules and notifications. The rules open first: the channel names they may name come from the config (parsed by
 * the notification module's own parser), and the notifications find an alert's camera through them.
 * The stream's event log is made here too: every alert transition is stored with its event-log entry in one
 * transaction of the server's Database (both or neither), so a resuming client sees exactly the stored alerts.
 */
import { NotificationService, registerNotifyMetrics, parseChannelOptions } from '../integrations/notify/index.js';
import type { StoredSnapshot } from '../media/snapshots.js';
import { RuleService, type AlertEvent, type RuleDefinition } from '../rules/index.js';
import { StoreEventLog } from '../stream/store-log.js';
import type { Service, ServiceContext } from './service.js';
import { started } from './service.js';
import { publicUrlOf, type SnapshotsService } from './snapshots.js';
import type { IntegrationsService } from './integrations.js';

export class RulesService implements Service {
  readonly name = 'rules';
  #rules: RuleService | null = null;
  #eventLog: StoreEventLog | null = null;

  get rules(): RuleService {
    return started(this.#rules, 'rules');
  }

  /**
   * The stream's log over the detection store: one sequence space for detections, tracks, alerts and camera
   * status. Alerts reach it only through the rules' commits (publishing an alert to the stream adds nothing).
   */
  get eventLog(): StoreEventLog {
    return started(this.#eventLog, 'rules.eventLog');
  }

  async start(ctx: ServiceContext): Promise<void> {
    const { config } = ctx;
    const eventLog = new StoreEventLog(ctx.db.detections);
    this.#eventLog = eventLog;
    this.#rules = await RuleService.open({
      path: ctx.db.scope('rules'),
      timezone: config.rulesTimezone,
      configRules: config.rules,
      channels: new Set(parseChannelOptions(config.notify.channels).keys()),
      persistAlert: (alert, write) => eventLog.appendWith({ kind: 'alerts', alert }, write),
    });
  }

  async stop(): Promise<void> {
    try {
      await this.#rules?.close();
    } finally {
      this.#eventLog?.close();
    }
  }
}

/** Links in notifications: the media store's (signed, opens without a token) when it has one, else the API's. */
const MAX_LINKS = 4096;

export class NotificationsService implements Service {
  readonly name = 'notifications';
  #notify: NotificationService | null = null;
  readonly #links = new Map<string, string>();
  #log: ServiceContext['log'] | null = null;

  constructor(
    private readonly rules: RulesService,
    private readonly snapshots: SnapshotsService,
    /** VMS sources for `vms` channels (recordings and events in the VMS); absent: such channels dead-letter. */
    private readonly integrations: IntegrationsService | null = null,
  ) {}

  get notify(): NotificationService {
    return started(this.#notify, 'notifications');
  }

  async start(ctx: ServiceContext): Promise<void> {
    const { config } = ctx;
    this.#log = ctx.log;
    const snaps = this.snapshots.snapshots;
    const rules = this.rules.rules;
    const publicUrl = publicUrlOf(ctx);
    const notify = new NotificationService({
      database: ctx.db.scope('notify'),
      channels: config.notify.channels,
      policy: { allow: config.notify.allow },
      snapshotUrl: (alert) => (snaps ? (this.#links.get(alert.alertId) ?? `${publicUrl}/alerts/${encodeURIComponent(alert.alertId)}/snapshot.jpg`) : null),
      snapshotJpeg: async (alertId) => {
        if (!snaps) return null;
        const alert = rules.getAlert(alertId);
        return (await snaps.alertSnapshot(alertId, alert.cameraId))?.jpeg ?? null;
      },
      ...(this.integrations ? { vms: (ch, payload) => this.integrations!.integrations.vmsAction(ch, payload) } : {}),
    });
    this.#notify = notify;
    registerNotifyMetrics(ctx.metrics, notify);
    ctx.health.register('notifications', {
      critical: false,
      check: () => {
        const h = notify.health();
        return h.status === 'ok' ? 'ok' : { status: 'degraded', detail: `${h.stats.deadLettered} dead-lettered, ${h.stats.pending} pending` };
      },
    });
  }

  /** Queues an alert transition's notifications, after its picture when it has one (so the link is the picture's). */
  alert(ev: AlertEvent, rule: RuleDefinition | undefined, snapshot: Promise<StoredSnapshot | null> | null): void {
    const notify = this.notify;
    const enqueue = (): void => {
      void notify.enqueue(ev, rule).catch((err: unknown) => this.#log?.error(`notification: ${(err as Error).message}`));
    };
    if (!snapshot) return enqueue();
    void snapshot.then((s) => {
      if (s?.url) {
        this.#links.set(ev.alert.alertId, s.url);
        if (this.#links.size > MAX_LINKS) this.#links.delete(this.#links.keys().next().value!);
      }
      enqueue();
    });
  }

  async stop(): Promise<void> {
    await this.#notify?.close();
  }
}
