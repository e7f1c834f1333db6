/**
 * One interface for every VMS / device API Vigil talks to. An adapter lists cameras with their stream URLs, starts
 * a recording (or places a bookmark where the product records continuously) for a camera and a duration, and pushes
 * an analytics event where the product's API accepts one (capabilities say which).
 *
 * Stream URLs returned here never carry credentials: `streamCredentials()` hands them to the camera manager
 * separately, so that anything shown to users (the API, logs) cannot leak them.
 */
import { VigilError } from '../../errors.js';
import type { CheckUrl } from '../http-client.js';

/**
 * Codes: E_VMS_CONFIG (bad adapter config), E_VMS_AUTH (login refused), E_VMS_STATUS (unexpected HTTP status),
 * E_VMS_RESPONSE (malformed / hostile / oversized response), E_VMS_TIMEOUT, E_VMS_NETWORK,
 * E_VMS_UNSUPPORTED (the product's API has no such operation), E_VMS_NOT_FOUND (unknown camera).
 */
export class VmsError extends VigilError {}

export type VmsType = 'milestone' | 'hikvision' | 'axis' | 'dahua';

export interface VmsStreams {
  /** Main (full resolution) stream, rtsp:// without credentials. */
  main: string;
  /** Sub (low resolution) stream, or null when the product has none. */
  sub: string | null;
}

export interface VmsCamera {
  /** The camera's id inside the VMS (GUID, channel number...). */
  vmsCameraId: string;
  name: string;
  enabled: boolean;
  /** Model or product name where the VMS reports one. */
  model: string | null;
  streams: VmsStreams;
}

export interface RecordingResult {
  /** What the VMS did: a recording started (and will be stopped by Vigil), or a bookmark was placed. */
  kind: 'recording' | 'bookmark';
  /** VMS-side id of the recording or bookmark when it returns one. */
  id: string | null;
  startedAt: string; // ISO 8601
  endsAt: string; // ISO 8601
}

export interface VmsAnalyticsEvent {
  /** Short label, e.g. "person" or the rule name. */
  label: string;
  message: string;
  /** Event time, ISO 8601; now when absent. */
  time?: string;
}

export interface VmsCapabilities {
  recording: 'recording' | 'bookmark';
  events: boolean;
}

export interface VmsAdapter {
  readonly type: VmsType;
  /** The configured source name (unique per server). */
  readonly name: string;
  readonly capabilities: VmsCapabilities;
  listCameras(): Promise<VmsCamera[]>;
  getStreamUrls(vmsCameraId: string): Promise<VmsStreams>;
  triggerRecording(vmsCameraId: string, durationS: number, reason?: string): Promise<RecordingResult>;
  /** Throws VmsError E_VMS_UNSUPPORTED where `capabilities.events` is false. */
  pushEvent(vmsCameraId: string, event: VmsAnalyticsEvent): Promise<void>;
  /** Credentials for the RTSP streams (null when none are needed). Never put them in anything shown to users. */
  streamCredentials(): { username: string; password: string } | null;
  /** Stops timers (pending recording stops) and closes sockets. Idempotent. */
  close(): void;
}

/** Settings common to every adapter. */
export interface VmsCommonConfig {
  /** Unique name of this source, e.g. "hq-milestone". */
  name: string;
  /** http(s)://host[:port] of the VMS / device API, without credentials. */
  baseUrl: string;
  username: string;
  password: string;
  /** Host for RTSP URLs (default: the host of baseUrl). */
  rtspHost?: string;
  rtspPort?: number;
  timeoutMs?: number;
  maxResponseBytes?: number;
  insecureTls?: boolean;
  /**
   * Outbound URL policy (SSRF guard) the server plugs in; throw to refuse, or return the checked address to pin
   * the connection to it.
   */
  checkUrl?: CheckUrl;
  /**
   * Outbound URL policy exceptions ("address", "address:port"); given (even empty), requests go through the SSRF
   * guard unless `checkUrl` replaces it. The config loader always gives it.
   */
  allow?: string[];
}

export interface MilestoneConfig extends VmsCommonConfig {
  type: 'milestone';
  /** OAuth client id at the IDP (default "GrantValidatorClient", the one Milestone documents for the API Gateway). */
  clientId?: string;
  /**
   * OAuth client secret: logs in with the client-credentials grant (RFC 6749 §4.4: client_id, client_secret) instead
   * of the password grant. The RTSP streams still use username/password when a password is given (none otherwise).
   */
  clientSecret?: string;
  /** Page size for listing (default 100). */
  pageSize?: number;
  /** Event type id (GUID) of a user-defined / analytics event for pushEvent; events unsupported when absent. */
  eventTypeId?: string;
  /**
   * RTSP URL template; `{host}`, `{port}` and `{id}` (camera GUID) are replaced; `{stream}` becomes 0 (main) or 1.
   * Default `rtsp://{host}:{port}/live/{id}?stream={stream}` (the XProtect RTSP bridge).
   */
  rtspTemplate?: string;
}

export interface HikvisionConfig extends VmsCommonConfig {
  type: 'hikvision';
  /** 'nvr' lists proxied channels (ContentMgmt/InputProxy); 'camera' lists the device's own video inputs. */
  deviceKind?: 'nvr' | 'camera';
  /**
   * Read the RTSP port from the device (`GET /ISAPI/Security/adminAccesses`, the enabled RTSP protocol's portNo) on
   * each listing instead of using rtspPort: a port changed on the NVR changes the stream URLs Vigil opens.
   */
  rtspPortFromDevice?: boolean;
}

export interface AxisConfig extends VmsCommonConfig {
  type: 'axis';
  /** Edge-storage disk for record.cgi (default "SD_DISK"). */
  diskId?: string;
  /** Resolution for the sub stream (default "640x360"). */
  subResolution?: string;
  /** Virtual input port pulsed by pushEvent (default 1). */
  virtualInputPort?: number;
}

export interface DahuaConfig extends VmsCommonConfig {
  type: 'dahua';
}

export type VmsConfig = MilestoneConfig | HikvisionConfig | AxisConfig | DahuaConfig;
