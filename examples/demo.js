'use strict'
// The classic MQTT tutorial flow through mqtt-native: connect, subscribe to `testtopic`, publish,
// print the message received, end cleanly.
//
//   npm run demo                              # embedded aedes broker, MQTT over WebSocket
//   npm run demo -- --url mqtt://host:1883        # any broker, any URL form:
//   npm run demo -- --url wss://host/mqtt         #   mqtt://, mqtts://, ws://, wss://
//
// The embedded broker speaks MQTT 3.1.1 over WebSocket on ws://127.0.0.1:PORT/mqtt, the way
// most tutorials deploy MQTT (note the /mqtt path: MQTT.js's default path is "/").

const mqtt = require('..')

function argValue (name) {
  const i = process.argv.indexOf(name)
  if (i !== -1) return process.argv[i + 1]
  const prefixed = process.argv.find((a) => a.startsWith(name + '='))
  return prefixed ? prefixed.slice(name.length + 1) : undefined
}

async function main () {
  let url = argValue('--url')
  let broker = null
  if (!url) {
    const { startAedes } = require('../__test__/helpers/aedes')
    broker = await startAedes({ websockets: true })
    url = broker.wsUrl
    console.log(`embedded aedes broker listening on ${url}`)
  }
  const client = mqtt.connect(url, { reconnectPeriod: 0 })
  client.on('error', (err) => {
    console.error(`error: ${err.message}${err.code ? ` (${err.code})` : ''}`)
    process.exitCode = 1
    client.end(true)
    if (broker) broker.stop()
  })
  client.on('connect', () => {
    console.log(`connected to ${url} as ${client.options.clientId}`)
    client.subscribe('testtopic', { qos: 1 }, (err) => {
      if (err) throw err
      console.log('subscribed to testtopic')
      client.publish('testtopic', 'Hello from mqtt-native', { qos: 1 })
    })
  })
  client.on('message', (topic, payload) => {
    console.log(`received on ${topic}: ${payload.toString()}`)
    client.end(() => {
      console.log('ended cleanly')
      if (broker) broker.stop()
    })
  })
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
