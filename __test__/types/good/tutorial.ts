// The tutorial flow as MQTT.js's README writes it, with the import switched.
import mqtt from 'mqtt-native'

const client = mqtt.connect('mqtt://test.mosquitto.org', {
  clientId: 'mqttjs_' + Math.random().toString(16).substring(2, 8),
  clean: true,
  connectTimeout: 4000,
  username: 'emqx',
  password: 'public',
  reconnectPeriod: 1000,
  keepalive: 30
})

client.on('connect', (connack) => {
  const resumed: boolean = connack.sessionPresent
  console.log('connected', resumed)
  client.subscribe('presence', (err) => {
    if (!err) {
      client.publish('presence', 'Hello mqtt')
    }
  })
})

client.on('message', (topic, message, packet) => {
  // Types inferred from the event name.
  const t: string = topic
  const text: string = message.toString()
  const qos: 0 | 1 | 2 = packet.qos
  const retained: boolean = packet.retain
  console.log(t, text, qos, retained, packet.properties?.contentType)
  client.end()
})

client.on('error', (err) => console.error('error', err.message))
client.on('reconnect', () => console.log('reconnecting'))
client.on('offline', () => console.log('offline'))
client.on('close', () => console.log('closed'))
client.on('end', () => console.log('ended'))
client.on('disconnect', (packet) => console.log(packet.reasonCode))
client.on('packetsend', (packet) => console.log('sent', packet.cmd))
client.once('packetreceive', (packet) => console.log('received', packet.cmd, packet.messageId))

const connected: boolean = client.connected
const reconnecting: boolean = client.reconnecting
const id: string | undefined = client.options.clientId
console.log(connected, reconnecting, id)

// The default export doubles as a namespace of types.
let saved: mqtt.MqttClient | undefined = client
const more: mqtt.IClientOptions = { protocolVersion: 5 }
saved = mqtt.connect(more)
console.log(saved)
