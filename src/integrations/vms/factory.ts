/** Builds the adapter a config names. */
import { expected } from '../../errors.js';
import { AxisAdapter } from './axis.js';
import { DahuaAdapter } from './dahua.js';
import { HikvisionAdapter } from './hikvision.js';
import { MilestoneAdapter } from './milestone.js';
import type { VmsAdapter, VmsConfig } from './types.js';

export const VMS_TYPES = ['milestone', 'hikvision', 'axis', 'dahua'] as const;

export function createVmsAdapter(config: VmsConfig): VmsAdapter {
  const type = (config as { type?: unknown } | null)?.type;
  switch (type) {
    case 'milestone':
      return new MilestoneAdapter(config as Extract<VmsConfig, { type: 'milestone' }>);
    case 'hikvision':
      return new HikvisionAdapter(config as Extract<VmsConfig, { type: 'hikvision' }>);
    case 'axis':
      return new AxisAdapter(config as Extract<VmsConfig, { type: 'axis' }>);
    case 'dahua':
      return new DahuaAdapter(config as Extract<VmsConfig, { type: 'dahua' }>);
    default:
      throw expected(`one of ${VMS_TYPES.map((t) => `"${t}"`).join(', ')}`, 'vms.type', type);
  }
}
