/**
 * The integration document's three camera states, from Vigil's finer one: `active` while the camera is being
 * brought up or delivers frames, `error` while it is not delivering because of a fault (stalled, reconnecting
 * after an error, or failed for good), `inactive` when it was stopped (or a finite file ended). No native
 * dependency: the API modules import it.
 */
import type { CameraStatus } from '../types.js';

export type PublicCameraStatus = 'active' | 'inactive' | 'error';

export function publicCameraStatus(state: CameraStatus): PublicCameraStatus {
  if (state === 'running' || state === 'starting') return 'active';
  if (state === 'stopped') return 'inactive';
  return 'error';
}
