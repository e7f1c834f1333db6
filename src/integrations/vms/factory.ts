/** Builds the adapter a config names. */
import { AxisAdapter } from './axis.js';
import { DahuaAdapter } from './dahua.js';
import { HikvisionAdapter } from './hikvision.js';
import { MilestoneAdapter } from './milestone.js';
import { parseVmsOptions, vmsPath, VMS_TYPES } from './options.js';
import type { VmsAdapter, VmsConfig } from './types.js';

export { VMS_TYPES };

export function createVmsAdapter(raw: VmsConfig): VmsAdapter {
  // Parsed here to learn the type (and refuse a bad one); the constructor runs the same parser on its own input.
  const config = parseVmsOptions(raw, vmsPath(raw));
  switch (config.type) {
    case 'milestone':
      return new MilestoneAdapter(config);
    case 'hikvision':
      return new HikvisionAdapter(config);
    case 'axis':
      return new AxisAdapter(config);
    case 'dahua':
      return new DahuaAdapter(config);
  }
}
