/**
 * `vigil cluster status | drain NODE [--undo] | rules set FILE | rules delete ID`, from any machine that reaches
 * the cluster's NATS servers: `--config FILE` (its `cluster:` section) or `--servers URL[,URL...] [--prefix P]`.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { loadConfig, substituteEnv } from '../config/index.js';
import { VigilArgumentError } from '../errors.js';
import { silentLogger } from '../log.js';
import { clusterStatus, drainNode, formatStatus } from './admin.js';

export const CLUSTER_USAGE = [
  '       vigil cluster status [--json] (--config FILE | --servers URL[,URL] [--prefix P]) [--timeout-ms N]',
  '       vigil cluster drain NODE [--undo] (--config FILE | --servers URL[,URL] [--prefix P])',
  '       vigil cluster rules (set FILE | delete ID) (--config FILE | --servers URL[,URL] [--prefix P])',
];

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new VigilArgumentError(`Expected a value after ${name}`);
  return v;
}

function target(args: string[]): { servers: string[]; prefix: string; timeoutMs: number } {
  const config = flag(args, '--config');
  if (config) {
    const c = loadConfig(config).cluster;
    if (!c) throw new VigilArgumentError(`The config ${config} has no cluster: section`);
    return { servers: c.servers, prefix: flag(args, '--prefix') ?? c.prefix, timeoutMs: c.queryTimeoutMs };
  }
  const servers = flag(args, '--servers');
  if (!servers) throw new VigilArgumentError('Expected --config FILE or --servers URL[,URL...]');
  return { servers: servers.split(','), prefix: flag(args, '--prefix') ?? 'vigil', timeoutMs: 1000 };
}

/** Runs one `vigil cluster` command; returns the lines to print. */
export async function clusterCommand(args: string[]): Promise<string[]> {
  const [sub, ...rest] = args;
  const t = target(rest);
  const { connectAdmin } = await import('./nats.js');
  const b = await connectAdmin(t.servers, t.prefix);
  try {
    switch (sub) {
      case 'status': {
        const timeout = flag(rest, '--timeout-ms');
        const s = await clusterStatus(b, timeout ? Number(timeout) : t.timeoutMs);
        return rest.includes('--json') ? [JSON.stringify(s, null, 2)] : formatStatus(s);
      }
      case 'drain': {
        const node = rest[0];
        if (!node || node.startsWith('--')) throw new VigilArgumentError('Expected a node id after drain');
        const undo = rest.includes('--undo');
        await drainNode(b, node, !undo);
        return [undo ? `${node}: drain lifted` : `${node}: draining (its cameras move to the other nodes)`];
      }
      case 'rules': {
        const { SharedConfig } = await import('./shared-config.js');
        const shared = new SharedConfig(b.config, silentLogger);
        if (rest[0] === 'set' && rest[1]) {
          const doc = parseYaml(substituteEnv(readFileSync(rest[1], 'utf8'))) as unknown;
          const list = Array.isArray(doc) ? doc : ((doc as { rules?: unknown[] } | null)?.rules ?? [doc]);
          const ids: string[] = [];
          for (const r of list) ids.push(await shared.putRule(r));
          return [`rules set: ${ids.join(', ')}`];
        }
        if (rest[0] === 'delete' && rest[1]) {
          await shared.deleteRule(rest[1]);
          return [`rule deleted: ${rest[1]}`];
        }
        throw new VigilArgumentError('Expected rules set FILE or rules delete ID');
      }
      default:
        throw new VigilArgumentError(`Expected status, drain or rules after cluster but received ${JSON.stringify(sub ?? '')}`);
    }
  } finally {
    await b.nc.close();
  }
}
