'use strict'
// `node aedes-server.js <port> <wsPort>`: aedes (in-memory persistence) as a process of its own,
// so that the interop matrix can freeze, crash and restart it like the other brokers.
const { startAedes } = require('../helpers/aedes')

const [port, wsPort] = process.argv.slice(2).map(Number)
if (!(port > 0) || !(wsPort > 0)) {
  console.error('usage: node aedes-server.js <port> <wsPort>')
  process.exit(2)
}
startAedes({ port, wsPort, websockets: true }).then((broker) => {
  process.once('SIGTERM', () => broker.stop().then(() => process.exit(0)))
}, (err) => {
  console.error(err.message)
  process.exit(1)
})
