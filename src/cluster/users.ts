/**
 * Local users on a cluster node: the cluster's config bucket (`user.<base64url name>`, src/cluster/shared-config.ts)
 * is the truth, every node's auth store (src/auth/store.ts) a copy that logins and token checks read at local speed.
 *
 * - Seeding: the first node to find no users in the bucket copies its local users in (on a first start, its
 *   generated admin, printed once on that node's stdout); every later node replaces its local users with the
 *   bucket's (its own first-run admin is dropped: the cluster's admin logs in everywhere).
 * - Writes: whatever the REST routes (or anything else) change through LocalUsers (create, update, password,
 *   delete) is put into the bucket; the watch brings it to every node, this one included.
 * - Applying a change from the bucket: the record is written into the local store as is (no LocalUsers hook: no
 *   echo); a deleted user, and one whose role, camera scope, password or disabled flag changed, has its sessions on
 *   this node revoked (the same `endSessionsOf` the local routes call), so its refresh and access tokens are refused
 *   here too. Sessions are per node (each node signs its own tokens and keeps its refresh families).
 *
 * The bucket holds the scrypt hashes (never a password in clear), readable by whoever may read the cluster's NATS
 * account, like the camera definitions with their RTSP credentials.
 */
import type { AuthService } from '../auth/service.js';
import type { UserRecord } from '../auth/store.js';
import type { Logger } from '../log.js';
import type { SharedConfig } from './shared-config.js';

/** Changes that end a user's sessions: what its tokens carry, or what logging in checks. */
function sessionsEnd(prev: UserRecord, next: UserRecord): boolean {
  return (
    prev.role !== next.role ||
    prev.passwordHash !== next.passwordHash ||
    (prev.disabled === true) !== (next.disabled === true) ||
    JSON.stringify(prev.cameras) !== JSON.stringify(next.cameras)
  );
}

export class UserSync {
  readonly #off: Array<() => void> = [];
  /** Changes not yet acknowledged by the bucket, in order (a bounded chain: one put at a time). */
  #chain: Promise<void> = Promise.resolve();
  readonly stats = { applied: 0, published: 0, publishFailed: 0 };

  constructor(
    private readonly shared: SharedConfig,
    private readonly auth: AuthService,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const store = this.auth.store;
    if (await this.shared.seedUsers(store.listUsers(), this.nodeId)) {
      this.log.info('seeded the cluster users from this node', { users: store.userCount() });
    } else {
      const cluster = this.shared.users();
      for (const u of store.listUsers()) {
        if (!cluster.has(u.username)) {
          store.removeUser(u.username);
          this.auth.endSessionsOf(u.username);
          this.log.info(`local user ${JSON.stringify(u.username)} dropped: the cluster's users replace this node's`);
        }
      }
      for (const [name, rec] of cluster) this.#apply(name, rec);
    }
    const onUser = (name: string, rec: UserRecord | null): void => this.#apply(name, rec);
    this.shared.on('user', onUser);
    this.#off.push(() => this.shared.off('user', onUser));
    this.#off.push(this.auth.users.onWrite((name, rec) => this.#publish(name, rec)));
  }

  /** Resolves when every local change so far reached the bucket (or failed, logged). */
  flushed(): Promise<void> {
    return this.#chain;
  }

  stop(): void {
    for (const off of this.#off.splice(0).reverse()) off();
  }

  #publish(name: string, rec: UserRecord | null): void {
    this.#chain = this.#chain.then(async () => {
      try {
        if (rec) await this.shared.putUser(rec);
        else await this.shared.deleteUser(name);
        this.stats.published++;
      } catch (err) {
        this.stats.publishFailed++;
        this.log.error(`cluster: user ${JSON.stringify(name)} not shared: ${(err as Error).message}`);
      }
    });
  }

  #apply(name: string, rec: UserRecord | null): void {
    const store = this.auth.store;
    const prev = store.getUser(name);
    try {
      if (rec === null) {
        if (!prev) return;
        store.removeUser(name);
        this.auth.endSessionsOf(name);
        this.log.info(`user ${JSON.stringify(name)} removed by the cluster: its sessions here ended`);
      } else {
        if (prev && JSON.stringify(prev) === JSON.stringify(rec)) return;
        store.putUser(rec);
        if (prev && sessionsEnd(prev, rec)) this.auth.endSessionsOf(name);
      }
      this.stats.applied++;
    } catch (err) {
      this.log.error(`cluster: user ${JSON.stringify(name)} not applied: ${(err as Error).message}`);
    }
  }
}
