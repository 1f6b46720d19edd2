// mqtt-native's own options (compiled against mqtt-native only: MQTT.js does not have them).
import { connect, type IClientOptions } from 'mqtt-native'

export const ours: IClientOptions = {
  maxInflight: 50,
  reconnectBackoff: { initialDelay: 500, maxDelay: 10_000, factor: 2, jitter: 0.2 },
  reconnectOnUnhealableError: false,
  servers: [{ host: 'node1', port: 1883 }, { host: 'node2', port: 1883 }],
  serverSelection: 'shuffle',
  reconnectJitter: 5000,
  serverRedirection: false,
  maxIncomingPacketSize: 1024 * 1024
}
export const persistent = connect('mqtt://localhost', {
  clientId: 'meter-17',
  clean: false,
  persistence: { dir: '/var/lib/meter/mqtt' }
})
persistent.publish('meters/17', 'reading', { qos: 1, cbStorePut: () => {} }, (err) => { if (err) throw err })
export const client = connect('mqtt://localhost', { ...ours, reconnectBackoff: true })
