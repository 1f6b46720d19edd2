// @ts-check
// Plain JavaScript checked by TypeScript (an editor with checkJs on), with require().
const mqtt = require('mqtt-native')

const client = mqtt.connect('mqtt://localhost:1883', { keepalive: 10 })
client.on('message', (topic, payload, packet) => {
  /** @type {string} */
  const text = payload.toString()
  console.log(topic.toUpperCase(), text, packet.qos)
})
client.subscribe('x', { qos: 1 })
module.exports = client
