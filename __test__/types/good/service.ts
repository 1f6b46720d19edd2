// A service class wrapping the client, as applications write them.
import * as mqtt from 'mqtt-native'
import type { IClientOptions, MqttClient, IPublishPacket, IClientSubscribeOptions } from 'mqtt-native'
import { readFileSync } from 'node:fs'

type Handler = (payload: Buffer, packet: IPublishPacket) => void

export class MqttService {
  private client: MqttClient | null = null
  private readonly handlers = new Map<string, Handler>()

  constructor (private readonly url: string, private readonly options: IClientOptions = {}) {}

  start (): void {
    this.client = mqtt.connect(this.url, {
      ...this.options,
      protocol: 'mqtts',
      ca: readFileSync('/etc/ssl/ca.pem'),
      cert: [readFileSync('/etc/ssl/client.pem')],
      key: readFileSync('/etc/ssl/client.key'),
      rejectUnauthorized: true,
      servername: 'broker.example',
      servers: [{ host: 'a.example', port: 8883 }, { host: 'b.example', port: 8883, protocol: 'mqtts' }]
    })
    this.client.on('message', (topic, payload, packet) => this.handlers.get(topic)?.(payload, packet))
  }

  subscribe (topic: string, handler: Handler, opts: IClientSubscribeOptions = { qos: 1 }): Promise<void> {
    this.handlers.set(topic, handler)
    return new Promise((resolve, reject) => {
      this.client?.subscribe(topic, opts, (err) => (err ? reject(err) : resolve()))
    })
  }

  publish (topic: string, body: object): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.client) return reject(new Error('not started'))
      this.client.publish(topic, JSON.stringify(body), { qos: 1 }, (err) => (err ? reject(err) : resolve()))
    })
  }

  stop (): Promise<void> {
    return new Promise((resolve) => {
      if (!this.client) return resolve()
      this.client.end(false, {}, () => resolve())
    })
  }
}
