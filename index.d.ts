// Type definitions for mqtt-native, written to match MQTT.js 5.16's public names.
/// <reference types="node" />

import { EventEmitter } from 'events'

export type QoS = 0 | 1 | 2
export type ProtocolVersion = 3 | 4 | 5
export type BaseMqttProtocol = 'mqtt' | 'mqtts' | 'tcp' | 'tls' | 'ssl' | 'ws' | 'wss' | 'wx' | 'wxs' | 'ali' | 'alis'
export type MqttProtocolWithUnix = `${BaseMqttProtocol}+unix`
export type MqttProtocol = BaseMqttProtocol | MqttProtocolWithUnix

export type UserProperties = { [index: string]: string | string[] }

export interface IPacket {
  cmd: string
  messageId?: number
  length?: number
  retain?: boolean
  qos?: QoS
  dup?: boolean
  topic?: string | null
  payload?: Buffer | string | null
}

export interface IPublishPacket extends IPacket {
  cmd: 'publish'
  qos: QoS
  dup: boolean
  retain: boolean
  topic: string
  payload: string | Buffer
  properties?: {
    payloadFormatIndicator?: boolean
    messageExpiryInterval?: number
    topicAlias?: number
    responseTopic?: string
    correlationData?: Buffer
    userProperties?: UserProperties
    subscriptionIdentifier?: number | number[]
    contentType?: string
  }
}

export interface IConnackPacket extends IPacket {
  cmd: 'connack'
  returnCode?: number
  reasonCode?: number
  sessionPresent: boolean
  properties?: {
    sessionExpiryInterval?: number
    receiveMaximum?: number
    maximumQoS?: number
    retainAvailable?: boolean
    maximumPacketSize?: number
    assignedClientIdentifier?: string
    topicAliasMaximum?: number
    reasonString?: string
    userProperties?: UserProperties
    wildcardSubscriptionAvailable?: boolean
    subscriptionIdentifiersAvailable?: boolean
    sharedSubscriptionAvailable?: boolean
    serverKeepAlive?: number
    responseInformation?: string
    serverReference?: string
    authenticationMethod?: string
    authenticationData?: Buffer
  }
}

export interface ISubackPacket extends IPacket {
  cmd: 'suback'
  granted: number[] | Array<{ topic: string, qos: number }>
  reasonCode?: number
  properties?: { reasonString?: string, userProperties?: UserProperties }
}

export interface IUnsubackPacket extends IPacket {
  cmd: 'unsuback'
  granted?: number[]
  properties?: { reasonString?: string, userProperties?: UserProperties }
}

export interface IDisconnectPacket extends IPacket {
  cmd: 'disconnect'
  reasonCode?: number
  properties?: {
    sessionExpiryInterval?: number
    reasonString?: string
    userProperties?: UserProperties
    serverReference?: string
  }
}

export interface IAuthPacket extends IPacket {
  cmd: 'auth'
  reasonCode: number
  properties?: {
    authenticationMethod?: string
    authenticationData?: Buffer
    reasonString?: string
    userProperties?: UserProperties
  }
}

export type Packet = IPacket | IPublishPacket | IConnackPacket | ISubackPacket | IUnsubackPacket | IDisconnectPacket | IAuthPacket

export interface IClientOptions {
  port?: number
  host?: string
  hostname?: string
  path?: string
  protocol?: MqttProtocol
  unixSocket?: boolean
  servers?: Array<{ host: string, port: number, protocol?: MqttProtocol }>
  keepalive?: number
  reschedulePings?: boolean
  clientId?: string
  protocolId?: 'MQTT' | 'MQIsdp'
  protocolVersion?: ProtocolVersion
  clean?: boolean
  reconnectPeriod?: number
  reconnectOnConnackError?: boolean
  connectTimeout?: number
  username?: string
  password?: string | Buffer
  queueQoSZero?: boolean
  resubscribe?: boolean
  subscribeBatchSize?: number | null
  manualConnect?: boolean
  messageIdProvider?: IMessageIdProvider
  log?: (...args: any[]) => void
  will?: {
    topic: string
    payload: Buffer | string
    qos?: QoS
    retain?: boolean
    properties?: {
      willDelayInterval?: number
      payloadFormatIndicator?: boolean
      messageExpiryInterval?: number
      contentType?: string
      responseTopic?: string
      correlationData?: Buffer
      userProperties?: UserProperties
    }
  }
  properties?: {
    sessionExpiryInterval?: number
    receiveMaximum?: number
    maximumPacketSize?: number
    topicAliasMaximum?: number
    requestResponseInformation?: boolean
    requestProblemInformation?: boolean
    userProperties?: UserProperties
    authenticationMethod?: string
    authenticationData?: Buffer
  }
  /** mqtt-native: the most QoS 1/2 publishes in flight when the broker sets no Receive Maximum (default 20). */
  maxInflight?: number
  [key: string]: any
}

export interface IClientPublishOptions {
  qos?: QoS
  retain?: boolean
  dup?: boolean
  properties?: IPublishPacket['properties']
  cbStorePut?: () => void
}

export interface IClientSubscribeProperties {
  properties?: { subscriptionIdentifier?: number, userProperties?: UserProperties }
}

export interface IClientSubscribeOptions extends IClientSubscribeProperties {
  qos: QoS
  nl?: boolean
  rap?: boolean
  rh?: number
}

export interface ISubscriptionRequest extends IClientSubscribeOptions {
  topic: string
}

export interface ISubscriptionGrant extends Omit<ISubscriptionRequest, 'qos' | 'properties'> {
  qos: QoS | 128
}

export interface ISubscriptionMap {
  [topic: string]: IClientSubscribeOptions
}

export interface IClientUnsubscribeProperties {
  properties?: { userProperties?: UserProperties }
}

export interface IClientReconnectOptions {
  incomingStore?: Store
  outgoingStore?: Store
}

export interface IMessageIdProvider {
  allocate(): number | null
  getLastAllocated(): number | null
  register(num: number): boolean
  deallocate(num: number): void
  clear(): void
}

export type PacketCallback = (error?: Error, packet?: Packet) => any
export type ClientSubscribeCallback = (err: Error | null, granted?: ISubscriptionGrant[], packet?: ISubackPacket) => void
export type OnMessageCallback = (topic: string, payload: Buffer, packet: IPublishPacket) => void
export type OnPacketCallback = (packet: Packet) => void
export type OnCloseCallback = () => void
export type OnErrorCallback = (error: Error | ErrorWithReasonCode) => void
export type OnConnectCallback = (packet: IConnackPacket) => void
export type OnDisconnectCallback = (packet: IDisconnectPacket) => void
export type CloseCallback = (error?: Error) => void
export type DoneCallback = (error?: Error) => void

export interface MqttClientEventCallbacks {
  connect: OnConnectCallback
  message: OnMessageCallback
  packetsend: OnPacketCallback
  packetreceive: OnPacketCallback
  disconnect: OnDisconnectCallback
  error: OnErrorCallback
  close: OnCloseCallback
  end: () => void
  reconnect: () => void
  offline: () => void
  outgoingEmpty: () => void
}

export declare class MqttClient extends EventEmitter {
  static VERSION: string
  static defaultId(): string
  options: IClientOptions
  connected: boolean
  reconnecting: boolean
  disconnecting: boolean
  disconnected: boolean | undefined
  queue: Array<{ packet: Packet, cb?: PacketCallback }>
  outgoing: Record<number, { volatile: boolean, cmd: string, cb: (err?: Error, packet?: Packet) => void }>
  messageIdProvider: IMessageIdProvider
  incomingStore: Store
  outgoingStore: Store
  readonly serverProperties: IConnackPacket['properties'] | undefined
  readonly keepalive: number

  constructor(options: IClientOptions)

  on<K extends keyof MqttClientEventCallbacks>(event: K, listener: MqttClientEventCallbacks[K]): this
  once<K extends keyof MqttClientEventCallbacks>(event: K, listener: MqttClientEventCallbacks[K]): this
  off<K extends keyof MqttClientEventCallbacks>(event: K, listener: MqttClientEventCallbacks[K]): this
  emit<K extends keyof MqttClientEventCallbacks>(event: K, ...args: Parameters<MqttClientEventCallbacks[K]>): boolean

  connect(): this
  publish(topic: string, message: string | Buffer): this
  publish(topic: string, message: string | Buffer, callback?: PacketCallback): this
  publish(topic: string, message: string | Buffer, opts?: IClientPublishOptions, callback?: PacketCallback): this
  publishAsync(topic: string, message: string | Buffer, opts?: IClientPublishOptions): Promise<Packet | undefined>
  subscribe(topicObject: string | string[] | ISubscriptionMap): this
  subscribe(topicObject: string | string[] | ISubscriptionMap, callback?: ClientSubscribeCallback): this
  subscribe(topicObject: string | string[] | ISubscriptionMap, opts?: IClientSubscribeOptions | IClientSubscribeProperties): this
  subscribe(topicObject: string | string[] | ISubscriptionMap, opts?: IClientSubscribeOptions | IClientSubscribeProperties, callback?: ClientSubscribeCallback): this
  subscribeAsync(topicObject: string | string[] | ISubscriptionMap, opts?: IClientSubscribeOptions | IClientSubscribeProperties): Promise<ISubscriptionGrant[]>
  unsubscribe(topic: string | string[], opts?: IClientUnsubscribeProperties, callback?: PacketCallback): this
  unsubscribe(topic: string | string[], callback?: PacketCallback): this
  unsubscribeAsync(topic: string | string[], opts?: IClientUnsubscribeProperties): Promise<Packet | undefined>
  end(cb?: DoneCallback): this
  end(force?: boolean): this
  end(opts?: Partial<IDisconnectPacket>, cb?: DoneCallback): this
  end(force?: boolean, cb?: DoneCallback): this
  end(force?: boolean, opts?: Partial<IDisconnectPacket>, cb?: DoneCallback): this
  endAsync(force?: boolean, opts?: Partial<IDisconnectPacket>): Promise<void>
  reconnect(opts?: IClientReconnectOptions): this
  removeOutgoingMessage(messageId: number): this
  getLastMessageId(): number | null
  handleMessage(packet: IPublishPacket, callback: DoneCallback): void
  handleAuth(packet: IAuthPacket, callback: (err?: Error, packet?: Partial<IAuthPacket>) => void): void
}

export declare class Store {
  constructor(options?: { clean?: boolean })
  put(packet: Packet, cb?: () => void): this
  get(packet: { messageId: number }, cb: (err?: Error | null, packet?: Packet) => void): this
  del(packet: { messageId: number }, cb: (err?: Error | null, packet?: Packet) => void): this
  createStream(): NodeJS.ReadableStream
  close(cb?: () => void): void
}

export declare class DefaultMessageIdProvider implements IMessageIdProvider {
  allocate(): number
  getLastAllocated(): number | null
  register(num: number): boolean
  deallocate(num: number): void
  clear(): void
}

export declare class UniqueMessageIdProvider implements IMessageIdProvider {
  allocate(): number | null
  getLastAllocated(): number | null
  register(num: number): boolean
  deallocate(num: number): void
  clear(): void
}

export declare class ErrorWithReasonCode extends Error {
  code: number
  constructor(message: string, code: number)
}

export declare class ErrorWithSubackPacket extends Error {
  packet: ISubackPacket
  constructor(message: string, packet: ISubackPacket)
}

export declare const ReasonCodes: { [code: number]: string }
export declare const MQTTJS_VERSION: string
export declare function validateTopic(topic: string): boolean
export declare function validateTopics(topics: string[]): string | null
export declare function connect(brokerUrl: string): MqttClient
export declare function connect(opts: IClientOptions): MqttClient
export declare function connect(brokerUrl: string, opts?: IClientOptions): MqttClient
export declare function connectAsync(brokerUrl: string): Promise<MqttClient>
export declare function connectAsync(opts: IClientOptions): Promise<MqttClient>
export declare function connectAsync(brokerUrl: string, opts?: IClientOptions, allowRetries?: boolean): Promise<MqttClient>
export { MqttClient as Client }

declare const mqtt: {
  connect: typeof connect
  connectAsync: typeof connectAsync
  MqttClient: typeof MqttClient
  Client: typeof MqttClient
  Store: typeof Store
  DefaultMessageIdProvider: typeof DefaultMessageIdProvider
  UniqueMessageIdProvider: typeof UniqueMessageIdProvider
  ErrorWithReasonCode: typeof ErrorWithReasonCode
  ErrorWithSubackPacket: typeof ErrorWithSubackPacket
  ReasonCodes: typeof ReasonCodes
  validateTopic: typeof validateTopic
  validateTopics: typeof validateTopics
  MQTTJS_VERSION: string
}
export default mqtt
