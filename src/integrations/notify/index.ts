export { NotificationService } from './service.js';
export type { NotificationServiceOptions, NotifyStats, OutboxEntry, DeadLetter } from './service.js';
export { parseChannelOptions, signWebhook, verifyWebhookSignature, PermanentDeliveryError, RetryableDeliveryError } from './channels.js';
export type { ChannelConfig, WebhookChannel, SlackChannel, EmailChannel, SmsChannel, Payload } from './channels.js';
export { render, makeContext, DEFAULT_TEXT, DEFAULT_SUBJECT, DEFAULT_SMS } from './template.js';
export { registerNotifyMetrics } from './metrics.js';
