// An ES module (nodenext).
import mqtt, { connect, connectAsync, type IClientOptions } from 'mqtt-native'

const opts: IClientOptions = { protocolVersion: 4, reconnectPeriod: 500 }
const a = mqtt.connect('mqtt://localhost', opts)
const b = connect('mqtt://localhost', opts)
a.on('connect', () => b.publish('t', 'from esm', { qos: 2 }))
export const later = connectAsync('mqtt://localhost')
