// The promise API.
import mqtt, { type ISubscriptionGrant, type Packet } from 'mqtt-native'

export async function main (): Promise<void> {
  const client = await mqtt.connectAsync('mqtt://localhost:1883', { protocolVersion: 5 })
  const granted: ISubscriptionGrant[] = await client.subscribeAsync({ 'a/#': { qos: 1 } })
  console.log(granted[0]?.qos)
  await client.subscribeAsync('b', { qos: 0, properties: { subscriptionIdentifier: 3 } })
  const puback: Packet | undefined = await client.publishAsync('a/b', 'x', {
    qos: 1,
    retain: true,
    properties: { contentType: 'text/plain', correlationData: Buffer.from('id'), responseTopic: 'r' }
  })
  console.log(puback?.messageId)
  await client.unsubscribeAsync(['a/#', 'b'])
  await client.endAsync()

  const other = await mqtt.connectAsync('mqtt://localhost', {}, false)
  await other.endAsync(true)
}
