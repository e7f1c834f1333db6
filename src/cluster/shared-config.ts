/**
 * Cluster-wide configuration in the config KV bucket, watched by every node:
 *
 *   camera.<id>  a camera's settings (as parsed from YAML: CameraSettings)
 *   rule.<id>    a rule definition (validated by each node's rule engine when applied)
 *   user.<b64>   a local user (src/auth/store.ts UserRecord, scrypt hash included), key = base64url of the username
 *                (usernames may hold "@", which KV keys may not); src/cluster/users.ts mirrors them into every
 *                node's auth store
 *   users-seeded written once, by the first node to start with no users in the bucket, which then copies its local
 *                users in (its first-run admin included); later nodes' local users are replaced by the bucket's
 *   seeded       written once, by the first node to start with an empty bucket, which then copies its YAML
 *                cameras and rules in; later nodes' YAML cameras and rules are ignored (the bucket is the truth)
 *
 * A change on any node (or from `vigil cluster` / `PUT /cluster/rules/{id}`) reaches every node through its watch:
 * camera changes move placement (src/cluster/coordinator.ts), rule changes replace each node's config rules.
 */
import { EventEmitter } from 'node:events';
import type { KV, KvEntry } from '@nats-io/kv';
import type { UserRecord } from '../auth/store.js';
import type { CameraSettings } from '../camera/camera.js';
import { VigilArgumentError } from '../errors.js';
import type { Logger } from '../log.js';
import { decodeJson, encodeJson } from './codec.js';

export interface SharedConfigEvents {
  cameras: [changed: string[]];
  rules: [rules: unknown[]];
  /** A user put (record) or deleted (null). */
  user: [username: string, record: UserRecord | null];
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export class SharedConfig extends EventEmitter<SharedConfigEvents> {
  readonly #kv: KV;
  readonly #log: Logger;
  readonly #cameras = new Map<string, CameraSettings>();
  readonly #rules = new Map<string, unknown>();
  readonly #users = new Map<string, UserRecord>();
  #watcher: { stop(): void } | null = null;
  #rulesTimer: NodeJS.Timeout | null = null;
  #ready = false;

  constructor(kv: KV, log: Logger) {
    super();
    this.#kv = kv;
    this.#log = log;
  }

  camera(id: string): CameraSettings | undefined {
    return this.#cameras.get(id);
  }

  cameraIds(): string[] {
    return [...this.#cameras.keys()];
  }

  rules(): unknown[] {
    return [...this.#rules.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, r]) => r);
  }

  /** The cluster's users (username -> record). */
  users(): ReadonlyMap<string, UserRecord> {
    return this.#users;
  }

  /** Copies `users` into the bucket when no node has done so yet; true when this node did. */
  async seedUsers(users: readonly UserRecord[], nodeId: string): Promise<boolean> {
    try {
      await this.#kv.create('users-seeded', encodeJson({ by: nodeId, at: Date.now() }));
    } catch {
      return false;
    }
    for (const u of users) await this.putUser(u);
    return true;
  }

  async putUser(u: UserRecord): Promise<void> {
    await this.#kv.put(userKey(u.username), encodeJson(u));
  }

  async deleteUser(username: string): Promise<void> {
    await this.#kv.delete(userKey(username));
  }

  /** Copies `cameras` and `rules` into the bucket when no node has done so yet; true when this node did. */
  async seed(cameras: readonly CameraSettings[], rules: readonly unknown[], nodeId: string): Promise<boolean> {
    try {
      await this.#kv.create('seeded', encodeJson({ by: nodeId, at: Date.now() }));
    } catch {
      return false;
    }
    for (const c of cameras) await this.#kv.put(`camera.${c.id}`, encodeJson(c));
    for (const r of rules) await this.putRule(r);
    return true;
  }

  /** Loads the bucket and follows it. Resolves once the current contents are loaded. */
  async start(): Promise<void> {
    // The watch yields the current values first, the last with delta 0; an empty bucket yields nothing.
    const empty = (await this.#kv.status()).values === 0;
    const it = await this.#kv.watch({});
    this.#watcher = it;
    let resolveReady!: () => void;
    const ready = new Promise<void>((r) => (resolveReady = r));
    if (empty) {
      this.#ready = true;
      resolveReady();
    }
    void (async () => {
      for await (const e of it) {
        this.#apply(e);
        if (!this.#ready && e.delta === 0) {
          this.#ready = true;
          resolveReady();
        }
      }
    })();
    await Promise.race([ready, new Promise((r) => setTimeout(r, 2000).unref())]);
    this.#ready = true;
  }

  stop(): void {
    this.#watcher?.stop();
    if (this.#rulesTimer) clearTimeout(this.#rulesTimer);
  }

  async putCamera(settings: CameraSettings): Promise<void> {
    if (!ID.test(settings.id)) throw new VigilArgumentError(`Expected a camera id of 1-64 letters, digits, _ or - for id but received ${JSON.stringify(settings.id)}`);
    await this.#kv.put(`camera.${settings.id}`, encodeJson(settings));
  }

  async deleteCamera(id: string): Promise<void> {
    await this.#kv.delete(`camera.${id}`);
  }

  /** Puts a rule definition (an object with an `id`); its validation happens on every node that applies it. */
  async putRule(rule: unknown): Promise<string> {
    const id = (rule as { id?: unknown } | null)?.id;
    if (typeof id !== 'string' || !ID.test(id)) throw new VigilArgumentError(`Expected a rule id of 1-64 letters, digits, _ or - for id but received ${JSON.stringify(id)}`);
    await this.#kv.put(`rule.${id}`, encodeJson(rule));
    return id;
  }

  async deleteRule(id: string): Promise<void> {
    await this.#kv.delete(`rule.${id}`);
  }

  #apply(e: KvEntry): void {
    const del = e.operation !== 'PUT';
    if (e.key.startsWith('camera.')) {
      const id = e.key.slice('camera.'.length);
      if (del) this.#cameras.delete(id);
      else this.#cameras.set(id, decodeJson<CameraSettings>(e.value));
      this.emit('cameras', [id]);
    } else if (e.key.startsWith('rule.')) {
      const id = e.key.slice('rule.'.length);
      if (del) this.#rules.delete(id);
      else this.#rules.set(id, decodeJson<unknown>(e.value));
      // A burst of rule writes (seeding) is applied once.
      if (this.#rulesTimer) clearTimeout(this.#rulesTimer);
      this.#rulesTimer = setTimeout(() => {
        this.#rulesTimer = null;
        this.emit('rules', this.rules());
      }, 50);
    } else if (e.key.startsWith('user.')) {
      const username = Buffer.from(e.key.slice('user.'.length), 'base64url').toString('utf8');
      const rec = del ? null : decodeJson<UserRecord>(e.value);
      if (rec) this.#users.set(username, rec);
      else this.#users.delete(username);
      this.emit('user', username, rec);
    } else if (e.key !== 'seeded' && e.key !== 'users-seeded') {
      this.#log.warn(`cluster: unknown key ${e.key} in the config bucket`);
    }
  }
}

const userKey = (username: string): string => `user.${Buffer.from(username, 'utf8').toString('base64url')}`;
