export {
  QueueSink,
  jsonEncode,
  topicLevel,
  type BackoffOptions,
  type QueueEncoder,
  type QueueKind,
  type QueueMessage,
  type SinkOptions,
  type SinkStats,
} from './sink.js';
export { RedisStreamSink, type RedisSinkOptions } from './redis.js';
export { AmqpSink, type AmqpSinkOptions } from './amqp.js';
export { MqttSink, type MqttSinkOptions } from './mqtt.js';
export { KafkaSink, type KafkaSinkOptions } from './kafka.js';
export { SinkSet, createSink, type SinkConfig } from './factory.js';
