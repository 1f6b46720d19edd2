'use strict'
// Exports client.getStatistics() in Prometheus's text format on http://127.0.0.1:9464/metrics,
// written by hand (no dependency): one labelled series per client and figure. Point a Prometheus
// scrape job at it, or `curl` it.
//
//   node examples/prometheus-metrics.js --url mqtt://broker.lan:1883          # serves until Ctrl-C
//   node examples/prometheus-metrics.js --url mqtt://broker.lan:1883 --once   # prints one scrape, exits
//
// The client here publishes a few QoS 1 messages to itself so that the figures move; in your
// service, register your own clients with `clients.set(name, client)`. The URL can also come from
// MQTT_URL; --port 0 picks a free port.

const http = require('node:http')
const { parseArgs } = require('node:util')
const mqtt = require('mqtt-native') // getStatistics() is mqtt-native's own: MQTT.js has none

const { values: flags } = parseArgs({
  options: { url: { type: 'string' }, port: { type: 'string', default: '9464' }, once: { type: 'boolean', default: false } }
})
const url = flags.url || process.env.MQTT_URL || 'mqtt://localhost:1883'

/** The clients to export, by the name their series are labelled with. */
const clients = new Map()

const STATES = ['connecting', 'connected', 'reconnecting', 'disconnecting', 'closed']

/** Prometheus's text exposition format (version 0.0.4) of every registered client's statistics. */
function toPrometheus () {
  const out = []
  const metric = (name, type, help, samples) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, value] of samples) {
      const text = Object.entries(labels).map(([k, v]) => `${k}="${String(v).replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\' + c))}"`).join(',')
      out.push(`${name}{${text}} ${value}`)
    }
  }
  const all = [...clients].map(([name, client]) => [name, client.getStatistics()])
  const each = (pick) => all.flatMap(([client, s]) => pick(s).map(([labels, value]) => [{ client, ...labels }, value]))
  const one = (pick) => each((s) => [[{}, pick(s)]])
  const byQos = (pick) => each((s) => pick(s).map((v, qos) => [{ qos }, v]))

  metric('mqtt_client_state', 'gauge', '1 for the connection state the client is in.', each((s) => STATES.map((state) => [{ state }, s.state === state ? 1 : 0])))
  metric('mqtt_client_state_seconds', 'gauge', 'How long the client has been in its connection state.', one((s) => s.stateMs / 1000))
  metric('mqtt_client_connects_total', 'counter', 'Connections accepted by the broker (CONNACK).', one((s) => s.connects))
  metric('mqtt_client_reconnects_total', 'counter', 'Reconnect attempts.', one((s) => s.reconnects))
  metric('mqtt_client_takeovers_total', 'counter', 'Session takeovers (another client with the same clientId).', one((s) => s.takeovers))
  metric('mqtt_client_messages_sent_total', 'counter', 'PUBLISH packets sent, by QoS.', byQos((s) => s.messagesSent))
  metric('mqtt_client_sent_bytes_total', 'counter', 'Payload bytes sent, by QoS.', byQos((s) => s.bytesSent))
  metric('mqtt_client_messages_received_total', 'counter', 'PUBLISH packets received, by QoS.', byQos((s) => s.messagesReceived))
  metric('mqtt_client_received_bytes_total', 'counter', 'Payload bytes received, by QoS.', byQos((s) => s.bytesReceived))
  metric('mqtt_client_inflight', 'gauge', 'QoS 1/2 publishes awaiting their acks.', one((s) => s.inflight.count))
  metric('mqtt_client_inflight_max', 'gauge', "The broker's Receive Maximum (or maxInflight).", one((s) => s.inflight.max))
  metric('mqtt_client_waiting', 'gauge', 'QoS 1/2 publishes waiting behind the flow-control window.', one((s) => s.waiting.count))
  metric('mqtt_client_offline_queue', 'gauge', 'Publishes waiting for a connection.', one((s) => s.offline.count))
  metric('mqtt_client_offline_queue_bytes', 'gauge', 'Payload bytes waiting for a connection.', one((s) => s.offline.bytes))
  metric('mqtt_client_rtt_seconds', 'gauge', 'Round-trip time of the last acknowledged request.', one((s) => (s.rtt.lastMs ?? 0) / 1000))
  metric('mqtt_client_rtt_mean_seconds', 'gauge', 'Mean round-trip time of acknowledged requests.', one((s) => (s.rtt.meanMs ?? 0) / 1000))
  return out.join('\n') + '\n'
}

function fail (err) {
  console.error(`error: ${err.message}`)
  process.exit(1)
}

async function main () {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 1000 })
  client.on('error', (err) => console.error(`mqtt: ${err.message}`))
  clients.set(client.options.clientId, client)
  await client.subscribeAsync('examples/metrics', { qos: 1 })
  for (let i = 0; i < 3; i++) await client.publishAsync('examples/metrics', `reading ${i}`, { qos: 1 })

  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
    res.end(toPrometheus())
  })
  await new Promise((resolve) => server.listen(Number(flags.port), '127.0.0.1', resolve))
  const where = `http://127.0.0.1:${server.address().port}/metrics`
  if (!flags.once) {
    console.log(`metrics on ${where}`)
    return
  }
  // One scrape, as Prometheus would make it, printed; then end.
  const body = await new Promise((resolve, reject) => {
    http.get(where, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => { text += chunk })
      res.on('end', () => resolve(text))
    }).on('error', reject)
  })
  process.stdout.write(body)
  server.close()
  await client.endAsync()
}

main().catch(fail)
