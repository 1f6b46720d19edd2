// CommonJS-style TypeScript: import = require.
import mqtt = require('mqtt-native')

const client = mqtt.connect({ host: '127.0.0.1', port: 1883, protocol: 'mqtt' })
client.on('message', (topic, payload) => console.log(topic, payload.toString('hex')))
const store = new mqtt.Store()
const ids = new mqtt.UniqueMessageIdProvider()
const c2: InstanceType<typeof mqtt.MqttClient> = mqtt.connect('mqtt://localhost', { messageIdProvider: ids })
console.log(store, c2.getLastMessageId(), mqtt.validateTopic('a/+'), mqtt.validateTopics(['a', 'b/#']))
if (client.options.protocolVersion === 5) client.end()
