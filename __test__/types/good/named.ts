// Named imports and the option and grant types, as typed MQTT.js code uses them.
import {
  connect,
  type IClientOptions,
  type IClientPublishOptions,
  type IClientSubscribeOptions,
  type ISubscriptionGrant,
  type ISubscriptionMap,
  type IConnackPacket,
  type IPublishPacket,
  type Packet,
  type MqttClient,
  type OnMessageCallback,
  type MqttProtocol,
  ErrorWithReasonCode,
  ErrorWithSubackPacket,
  ReasonCodes
} from 'mqtt-native'

const protocol: MqttProtocol = 'mqtt'
const options: IClientOptions = {
  host: 'localhost',
  port: 1883,
  protocol,
  protocolVersion: 5,
  clientId: 'typed-client',
  clean: false,
  keepalive: 60,
  reconnectPeriod: 0,
  connectTimeout: 10_000,
  queueQoSZero: false,
  resubscribe: true,
  manualConnect: false,
  properties: { sessionExpiryInterval: 3600, receiveMaximum: 100, userProperties: { app: 'demo' } },
  will: { topic: 'status/typed-client', payload: Buffer.from('offline'), qos: 1, retain: true, properties: { willDelayInterval: 5 } },
  log: (...args) => console.log(...args)
}

const client: MqttClient = connect(options)

const publishOptions: IClientPublishOptions = { qos: 1, retain: false, properties: { messageExpiryInterval: 60, userProperties: { a: ['1', '2'] } } }
const subscribeOptions: IClientSubscribeOptions = { qos: 2, nl: true, rap: false, rh: 0 }
const map: ISubscriptionMap = { 'sensors/+/temp': { qos: 1 }, 'alerts/#': { qos: 2 } }

const onMessage: OnMessageCallback = (topic, payload, packet: IPublishPacket) => {
  console.log(topic, payload.length, packet.messageId)
}
client.on('message', onMessage)

client.on('connect', (connack: IConnackPacket) => {
  console.log(connack.properties?.assignedClientIdentifier)
  client.subscribe('single/topic', subscribeOptions, (err, granted?: ISubscriptionGrant[]) => {
    if (err) return console.error(err)
    granted?.forEach(({ topic, qos }) => {
      if (qos === 128) console.error(`refused: ${topic}`)
    })
  })
  client.subscribe(map, (err, granted) => {
    if (err instanceof ErrorWithSubackPacket) console.error(err.packet.granted)
    console.log(granted?.map((g) => g.topic))
  })
  client.subscribe(['a', 'b'], { qos: 0 })
  client.publish('single/topic', JSON.stringify({ ok: true }), publishOptions, (err?: Error, packet?: Packet) => {
    if (err) console.error(err)
    else console.log(packet?.cmd)
  })
  client.publish('single/topic', Buffer.alloc(4), (err) => console.log(err))
  client.unsubscribe('single/topic', (err?: Error) => console.log(err))
  client.unsubscribe(['a', 'b'], { properties: { userProperties: { why: 'done' } } }, () => {})
})

client.on('error', (err) => {
  if (err instanceof ErrorWithReasonCode) {
    const code: number = err.code
    console.error(code, ReasonCodes[135])
  }
})

client.end(false, { reasonCode: 0 }, () => console.log('ended'))
client.end(true)
client.end(() => {})
