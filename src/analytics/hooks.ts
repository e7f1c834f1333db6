/** Per-camera frame hooks shipped with the server. */
import type { FrameHook } from './frame-path.js';

/** Anything with a motion gate that can be bypassed per camera (src/camera/manager.ts CameraManager). */
export interface MotionGated {
  get(cameraId: string): { setMotionBypass(on: boolean): void } | undefined;
}

/** Cameras with live tracks bypass their motion gate, so objects that stand still stay tracked. */
export function motionBypassHook(cameras: MotionGated): FrameHook {
  return {
    onFrameAnalysed: (cameraId, liveTracks) => cameras.get(cameraId)?.setMotionBypass(liveTracks > 0),
  };
}
