// Listeners of the wrong shape, and misuse of optional results under strict.
import mqtt, { ErrorWithReasonCode } from 'mqtt-native'

const client = mqtt.connect('mqtt://localhost')
client.on('message', (topic: number) => console.log(topic)) // @error
client.on('message', (topic, payload: string) => console.log(topic, payload)) // @error
client.on('connect', (connack) => console.log(connack.topic.length)) // @error
client.on('mesage', () => {}) // @error
client.on('error', (err) => console.log(err.code.toFixed())) // @error
client.subscribe('t', (err, granted) => console.log(err, granted[0])) // @error
client.publish('t', 'm', (err, packet) => console.log(err, packet.cmd)) // @error
const e = new ErrorWithReasonCode('refused') // @error
const n: string = client.connected // @error
console.log(e, n)
