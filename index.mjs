// ESM entry: the same namespace as the CommonJS one, with a default export.
import mqtt from './index.js'

export const {
  connect,
  connectAsync,
  MqttClient,
  Client,
  Store,
  DefaultMessageIdProvider,
  UniqueMessageIdProvider,
  ErrorWithReasonCode,
  ErrorWithSubackPacket,
  ReasonCodes,
  validateTopic,
  validateTopics,
  MQTTJS_VERSION,
  applyMixin,
  nextTick,
  NATIVE_VERSION
} = mqtt
export default mqtt
