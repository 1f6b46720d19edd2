// Branching on the code of an error, as issue #18 allows for every error the client makes.
import mqtt, { type MqttError, type MqttErrorCode } from 'mqtt-native'

const retryLater: MqttErrorCode[] = ['ERR_MQTT_CONNECTION_CLOSED', 'ERR_MQTT_KEEPALIVE_TIMEOUT']

export function watch (): void {
  const client = mqtt.connect('mqtt://localhost:1883')
  client.on('error', (error) => {
    const err = error as MqttError
    if (typeof err.code === 'number') console.log('reason code', err.code)
    else if (err.code === 'ERR_MQTT_CONNACK_TIMEOUT') console.log('no CONNACK')
    else if (err.code !== undefined && (retryLater as string[]).includes(err.code)) console.log('later')
  })
  client.publish('t', 'x', { qos: 1 }, (error) => {
    if ((error as MqttError | undefined)?.code === 'ERR_MQTT_CLIENT_DISCONNECTING') console.log('ended')
  })
}
