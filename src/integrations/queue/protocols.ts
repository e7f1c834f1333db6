/** URL schemes each broker sink accepts (the sinks and the config loader check URLs against the same lists). */
export const BROKER_PROTOCOLS = {
  redis: ['redis:', 'rediss:'],
  amqp: ['amqp:', 'amqps:'],
  mqtt: ['mqtt:', 'mqtts:', 'ws:', 'wss:'],
} as const satisfies Record<string, readonly string[]>;
