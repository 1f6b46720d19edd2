// MQTT.js's constructor with a stream builder, and options that take the Node-stream path.
import * as net from 'net'
import { Agent } from 'http'
import mqtt, { MqttClient, type IClientOptions } from 'mqtt-native'

const viaBuilder: MqttClient = new MqttClient(() => net.connect(1883, '127.0.0.1'), { protocolVersion: 5 })
viaBuilder.end()

const proxied: IClientOptions = { wsOptions: { agent: new Agent() } }
mqtt.connect('wss://broker.example/mqtt', proxied).end()
