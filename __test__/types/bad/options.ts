// Wrong option types: every line marked @error must fail to compile, for MQTT.js and for us.
import mqtt, { connect, type IClientOptions, type IClientPublishOptions } from 'mqtt-native'

connect('mqtt://localhost', { keepalive: 'x' }) // @error
connect('mqtt://localhost', { protocolVersion: 6 }) // @error
connect('mqtt://localhost', { protocol: 'http' }) // @error
connect('mqtt://localhost', { keepAlive: 30 }) // @error
connect('mqtt://localhost', { reconnectPeriod: '1s' }) // @error
connect('mqtt://localhost', { clean: 'yes' }) // @error
connect('mqtt://localhost', { will: { topic: 'w' } }) // @error
connect('mqtt://localhost', { properties: { sessionExpiryInterval: 'forever' } }) // @error
connect(1883) // @error
const opts: IClientOptions = { port: '1883' } // @error
const pub: IClientPublishOptions = { qos: 3 } // @error
const client = mqtt.connect(opts)
client.publish('t', 'm', { qos: 3 }) // @error
client.publish('t', 42) // @error
client.subscribe('t', { qos: 3 }) // @error
client.subscribe('t', { nl: true }) // @error
console.log(pub)
