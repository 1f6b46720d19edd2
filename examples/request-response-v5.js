'use strict'
// MQTT 5 request/response. The requester publishes a request carrying two properties:
// Response Topic (where to send the answer) and Correlation Data (opaque bytes the responder
// copies into its answer, so that the requester can tell which request an answer belongs to).
// Both sides run in this process, as two clients; split them into two programs as you like.
//
//   node examples/request-response-v5.js                          # mqtt://localhost:1883
//   node examples/request-response-v5.js --url mqtt://broker.lan:1883
//
// The broker must speak MQTT 5 (mosquitto ≥ 1.6, EMQX, HiveMQ, ...). The URL can also come
// from MQTT_URL.

const crypto = require('node:crypto')
const { parseArgs } = require('node:util')
const mqtt = require('mqtt-native') // the same code works with require('mqtt')

const { values: flags } = parseArgs({ options: { url: { type: 'string' } } })
const url = flags.url || process.env.MQTT_URL || 'mqtt://localhost:1883'
const requestTopic = 'examples/rpc/sum'

/** The service: answers {"numbers":[...]} with {"sum":...} on the request's Response Topic. */
async function startResponder () {
  const responder = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0 })
  responder.on('message', (topic, payload, packet) => {
    const { responseTopic, correlationData } = packet.properties || {}
    if (!responseTopic) return // a plain message, not a request: nobody to answer
    let answer
    try {
      answer = { sum: JSON.parse(payload).numbers.reduce((a, b) => a + b, 0) }
    } catch (err) {
      answer = { error: `bad request: ${err.message}` }
    }
    responder.publish(responseTopic, JSON.stringify(answer), {
      qos: 1,
      // Copy the correlation data back unchanged; it is meaningless to the responder.
      properties: { correlationData, contentType: 'application/json' }
    })
  })
  await responder.subscribeAsync(requestTopic, { qos: 1 })
  console.log(`responder: answering requests on ${requestTopic}`)
  return responder
}

/** The caller: `request(body)` publishes a request and resolves with the matching response. */
async function startRequester () {
  const requester = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0 })
  // A response topic of our own, so that we receive only the answers to our requests.
  const responseTopic = `examples/rpc/responses/${requester.options.clientId}`
  const pending = new Map() // correlation data (hex) → function receiving the response payload

  requester.on('message', (topic, payload, packet) => {
    const correlationData = packet.properties && packet.properties.correlationData
    const deliver = correlationData && pending.get(correlationData.toString('hex'))
    if (deliver) deliver(payload)
  })
  await requester.subscribeAsync(responseTopic, { qos: 1 })

  function request (body, timeoutMs = 5000) {
    const correlationData = crypto.randomBytes(8) // unique per request
    const id = correlationData.toString('hex')
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id)
        reject(new Error(`no response to ${id} within ${timeoutMs} ms (is a responder running?)`))
      }, timeoutMs)
      pending.set(id, (payload) => {
        clearTimeout(timer)
        pending.delete(id)
        resolve({ id, response: JSON.parse(payload) })
      })
      requester.publish(requestTopic, JSON.stringify(body), {
        qos: 1,
        properties: { responseTopic, correlationData, contentType: 'application/json' }
      }, (err) => {
        if (err) {
          clearTimeout(timer)
          pending.delete(id)
          reject(err)
        }
      })
    })
  }

  return { client: requester, request }
}

async function main () {
  const responder = await startResponder()
  let requester = null
  try {
    requester = await startRequester()
    // Two requests in flight at once: the correlation data pairs each answer with its question,
    // whatever order the answers arrive in.
    const questions = [[2, 40], [1, 2, 3, 4]]
    const answers = await Promise.all(questions.map((numbers) => requester.request({ numbers })))
    answers.forEach(({ id, response }, i) => {
      console.log(`requester: sum of ${questions[i].join(' + ')} = ${response.sum} (correlation ${id})`)
    })
  } finally {
    if (requester) await requester.client.endAsync()
    await responder.endAsync()
  }
}

main().catch((err) => {
  console.error(`error: ${err.message}${err.code ? ` (${err.code})` : ''}`)
  process.exitCode = 1
})
