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

/** TLS options, as MQTT.js declares them (read by mqtts:// and wss://). */
export interface ISecureClientOptions {
  key?: string | string[] | Buffer | Buffer[] | any[]
  keyPath?: string
  cert?: string | string[] | Buffer | Buffer[]
  certPath?: string
  ca?: string | string[] | Buffer | Buffer[]
  caPaths?: string | string[]
  rejectUnauthorized?: boolean
  ALPNProtocols?: string[] | Buffer[] | Uint8Array[] | Buffer | Uint8Array
}

export type TimerVariant = 'auto' | 'worker' | 'native'
export interface Timer {
  set: (callback: () => void, ms: number) => number | NodeJS.Timeout
  clear: (timer: any) => void
}

export type AckHandler = (topic: string, message: Buffer, packet: any, cb: (error: Error | number, code?: number) => void) => void

export interface IClientOptions extends ISecureClientOptions {
  encoding?: BufferEncoding
  browserBufferSize?: number
  binary?: boolean
  my?: any
  manualConnect?: boolean
  authPacket?: Partial<IAuthPacket>
  writeCache?: boolean
  servername?: string
  /** The passphrase of an encrypted `key` (Node's TLS option; MQTT.js passes it through). */
  passphrase?: string
  defaultProtocol?: MqttProtocol
  query?: Record<string, string>
  auth?: string
  /**
   * SOCKS proxy for `mqtt://` and `mqtts://`: `socks5://`, `socks5h://` (the proxy resolves the
   * broker's host name), `socks4://` or `socks4a://` URL with a port, optionally with
   * `user:password@` (SOCKS5) or `userid@` (SOCKS4). Defaults to `MQTTJS_SOCKS_PROXY`.
   */
  socksProxy?: string
  /** Milliseconds for reaching the SOCKS proxy and its handshake (default 30000). */
  socksTimeout?: number
  customHandleAcks?: AckHandler
  port?: number
  host?: string
  hostname?: string
  unixSocket?: boolean
  path?: string
  protocol?: MqttProtocol
  wsOptions?: { [key: string]: any }
  reconnectPeriod?: number
  reconnectOnConnackError?: boolean
  connectTimeout?: number
  incomingStore?: IStore
  outgoingStore?: IStore
  queueQoSZero?: boolean
  log?: (...args: any[]) => void
  autoUseTopicAlias?: boolean
  autoAssignTopicAlias?: boolean
  reschedulePings?: boolean
  servers?: Array<{
    host: string
    port: number
    protocol?: 'wss' | 'ws' | 'mqtt' | 'mqtts' | 'tcp' | 'ssl' | 'wx' | 'wxs'
  }>
  resubscribe?: boolean
  subscribeBatchSize?: number
  transformWsUrl?: (url: string, options: IClientOptions, client: MqttClient) => string
  createWebsocket?: (url: string, websocketSubProtocols: string[], options: IClientOptions) => any
  messageIdProvider?: IMessageIdProvider
  browserBufferTimeout?: number
  objectMode?: boolean
  clientId?: string
  protocolVersion?: ProtocolVersion
  protocolId?: 'MQTT' | 'MQIsdp'
  clean?: boolean
  keepalive?: number
  username?: string
  password?: Buffer | string
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
  timerVariant?: TimerVariant | Timer
  forceNativeWebSocket?: boolean
  /**
   * mqtt-native: the largest packet accepted from the broker, in bytes, on every protocol
   * version (default 16 MiB); a bigger one is refused from its fixed header with one error and
   * the connection is closed. MQTT 5's `properties.maximumPacketSize` overrides it.
   */
  maxIncomingPacketSize?: number
  /**
   * mqtt-native: keep this client's QoS 1/2 state in `dir` so that it survives a crash of the
   * process. Needs `clean: false`, a fixed `clientId` and, on MQTT 5,
   * `properties.sessionExpiryInterval` above 0. With it, a publish's `cbStorePut` fires once its
   * record is synced to disk. Throws `ERR_MQTT_PERSISTENCE` when it cannot work.
   */
  persistence?: {
    /** The directory of the log (`<clientId>.mqttlog`); created if missing. */
    dir: string
  }
  /**
   * mqtt-native: the most QoS 1/2 publishes in flight when the broker sets no Receive Maximum
   * (always before MQTT 5). Default 1000, and none sent while 20 QoS 2 exchanges are open (mosquitto
   * 2.0 drops an MQTT 3.1.1 client's publishes beyond that quota); a value given bounds both alike.
   */
  maxInflight?: number
  /**
   * mqtt-native: the most entries in the offline queue (`client.queue`: QoS 0 publishes,
   * subscribes and unsubscribes made while offline). A call beyond it fails with
   * `ERR_MQTT_QUEUE_FULL`. Unbounded by default, as in MQTT.js.
   */
  queueLimit?: number
  /**
   * mqtt-native: exponential backoff between reconnection attempts instead of the fixed
   * `reconnectPeriod` (off by default). `true` uses the defaults shown.
   */
  reconnectBackoff?: boolean | {
    /** The first wait in ms (default `reconnectPeriod`). */
    initialDelay?: number
    /** The longest wait in ms (default 30000). */
    maxDelay?: number
    /** The growth per attempt (default 2). */
    factor?: number
    /** The largest random fraction taken off a wait, 0 to 1 (default 0.5). */
    jitter?: number
  }
  /**
   * mqtt-native: `false` stops reconnecting after a failure retrying cannot heal (an untrusted
   * certificate, a wrong port or scheme, an HTTP 4xx to the WebSocket upgrade); default `true`.
   */
  reconnectOnUnhealableError?: boolean
  /**
   * mqtt-native: the order in which `servers` is tried. `'ordered'` (the default, as MQTT.js):
   * the first entry first, then in turn. `'shuffle'`: each client walks the list in its own
   * random order, so that a fleet spreads over the servers, and the clients of a failed server
   * over the others.
   */
  serverSelection?: 'ordered' | 'shuffle'
  /**
   * mqtt-native: the first reconnect attempt after a lost connection waits a random 0 to
   * `reconnectJitter` ms more than usual, so that many clients do not all come back at once
   * (default 0, as MQTT.js).
   */
  reconnectJitter?: number
  /**
   * mqtt-native: follow MQTT 5 server redirection (a CONNACK or DISCONNECT with reason 0x9C
   * Use another server or 0x9D Server moved and a Server Reference, MQTT 5 §4.11). Default
   * `true`; MQTT.js ignores redirection.
   */
  serverRedirection?: boolean
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

export type ISubscriptionMap = {
  [topic: string]: IClientSubscribeOptions
} & {
  resubscribe?: boolean
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

export type PacketCallback = (error?: Error | ErrorWithReasonCode, packet?: Packet) => any
export type ClientSubscribeCallback = (err: Error | null, granted?: ISubscriptionGrant[], packet?: ISubackPacket) => void
export type OnMessageCallback = (topic: string, payload: Buffer, packet: IPublishPacket) => void
export type OnPacketCallback = (packet: Packet) => void
export type OnCloseCallback = () => void
export type OnErrorCallback = (error: Error | ErrorWithReasonCode) => void
export type OnConnectCallback = (packet: IConnackPacket) => void
export type OnDisconnectCallback = (packet: IDisconnectPacket) => void
export type CloseCallback = (error?: Error) => void
export type DoneCallback = (error?: Error) => void
export type GenericCallback<T> = (error?: Error, result?: T) => void
export type VoidCallback = () => void
export type Callback = () => void
export type StorePutCallback = () => void
/** What `client.stream` offers: the connection as MQTT.js code touches it. */
export type IStream = NodeJS.EventEmitter & {
  destroyed: boolean
  end(): void
  destroy(error?: Error): void
  socket?: any
}

/** A message store (MQTT.js's `IStore`). */
export interface IStore {
  put(packet: Packet, cb: DoneCallback): IStore
  createStream(): NodeJS.ReadableStream
  del(packet: Pick<Packet, 'messageId'>, cb: PacketCallback): IStore
  get(packet: Pick<Packet, 'messageId'>, cb: PacketCallback): IStore
  close(cb: DoneCallback): void
}

export interface MqttClientEventCallbacks {
  connect: OnConnectCallback
  message: OnMessageCallback
  packetsend: OnPacketCallback
  packetreceive: OnPacketCallback
  disconnect: OnDisconnectCallback
  error: OnErrorCallback
  close: OnCloseCallback
  end: VoidCallback
  reconnect: VoidCallback
  offline: VoidCallback
  outgoingEmpty: VoidCallback
}

type Events = MqttClientEventCallbacks

/** The shape of MQTT.js's KeepaliveManager that mqtt-native provides (not constructible). */
export interface KeepaliveManager {
  /** The keepalive interval in milliseconds. */
  readonly keepalive: number
  readonly intervalEvery: number
  /** When the broker is given up on unless a packet restarts the countdown (ms since epoch). */
  readonly keepaliveTimeoutTimestamp: number
  readonly destroyed: boolean
  reschedule(): void
  destroy(): void
  clear(): void
}

/** A count of publishes and their payload bytes. */
export interface IStatisticsGauge {
  count: number
  bytes: number
}

/**
 * mqtt-native: what `client.getStatistics()` returns (README "Watching it in production").
 * Arrays by QoS are indexed by the QoS (`messagesSent[1]` is QoS 1); bytes are payload bytes.
 */
export interface IClientStatistics {
  /** The connection state, and since when (Date.now()) and for how long (ms) it holds. */
  state: 'connecting' | 'connected' | 'reconnecting' | 'disconnecting' | 'closed'
  stateSince: number
  stateMs: number
  /** Connection attempts, accepted CONNACKs, reconnect attempts, session takeovers. */
  attempts: number
  connects: number
  reconnects: number
  takeovers: number
  /** The `code` of the last error (a string such as 'ECONNREFUSED', or a reason code), or null. */
  lastErrorCode: string | number | null
  /** PUBLISH packets written for the first time, and their payload bytes, by QoS. */
  messagesSent: [number, number, number]
  bytesSent: [number, number, number]
  /** PUBLISH packets received, and their payload bytes, by QoS. */
  messagesReceived: [number, number, number]
  bytesReceived: [number, number, number]
  /** QoS 1/2 publishes written again (DUP) on a later connection. */
  resent: number
  /** QoS 1/2 exchanges awaiting their acks; `max` is the broker's Receive Maximum (or `maxInflight`). */
  inflight: IStatisticsGauge & { max: number }
  /** QoS 1/2 publishes waiting behind the flow-control window (while connected). */
  waiting: IStatisticsGauge
  /** Publishes waiting for a connection (the offline queue and QoS 1/2 made or held offline). */
  offline: IStatisticsGauge
  /** Inbound QoS 2 messages acknowledged with PUBREC, awaiting PUBREL. */
  incomingQos2: number
  /** Round-trip time of acknowledged requests (one timed at a time): the last and the mean, in ms. */
  rtt: { lastMs: number | null, meanMs: number | null, samples: number }
  /** With `persistence`: records written but not yet synced to disk; null without. */
  persistence: { backlog: number } | null
}

/** mqtt-native: the message of the `mqtt-native:connect` diagnostics channel (every CONNACK). */
export interface IConnectChannelMessage {
  client: MqttClient
  clientId: string
  protocolVersion: number
  reasonCode: number
  sessionPresent: boolean
  packet: IConnackPacket
}

/** mqtt-native: the message of the `mqtt-native:publish` diagnostics channel (a PUBLISH handed to the session). */
export interface IPublishChannelMessage {
  client: MqttClient
  clientId: string
  topic: string
  qos: QoS
  retain: boolean
  messageId: number | undefined
  payload: Buffer | Uint8Array
}

/** mqtt-native: the message of the `mqtt-native:message` diagnostics channel (a message delivered). */
export interface IMessageChannelMessage {
  client: MqttClient
  clientId: string
  topic: string
  qos: QoS
  retain: boolean
  dup: boolean
  messageId: number | undefined
  payload: Buffer
  packet: IPublishPacket
}

/** mqtt-native: the message of the `mqtt-native:close` diagnostics channel. */
export interface ICloseChannelMessage {
  client: MqttClient
  clientId: string
  wasConnected: boolean
  ending: boolean
  error: Error | null
}

/** mqtt-native: the context of the `mqtt-native:publish` and `mqtt-native:subscribe` tracing channels. */
export interface ITraceContext {
  client: MqttClient
  clientId: string
  topic: string | string[]
  qos: QoS
  retain?: boolean
  messageId: number | undefined
  reasonCode: number | undefined
  reasonCodes?: number[]
  result?: unknown
  error?: Error
}

export declare class MqttClient extends EventEmitter {
  static VERSION: string
  static defaultId(): string
  options: IClientOptions
  connected: boolean
  reconnecting: boolean
  disconnecting: boolean
  /** Starts undefined at runtime, as in MQTT.js (whose typings also say boolean). */
  disconnected: boolean
  queueQoSZero: boolean
  queue: Array<{ packet: Packet, cb: PacketCallback }>
  outgoing: Record<number, { volatile: boolean, cmd: string, cb: (err: Error, packet?: Packet) => void }>
  messageIdToTopic: Record<number, string[]>
  messageIdProvider: IMessageIdProvider
  incomingStore: IStore
  outgoingStore: IStore
  stream: IStream
  log: (...args: any[]) => void
  noop: (error?: any) => void
  readonly serverProperties: IConnackPacket['properties']
  readonly keepalive: number
  /** MQTT.js's keepalive manager, on JavaScript timers: null until CONNACK and after the close. */
  keepaliveManager: KeepaliveManager | null

  constructor(options: IClientOptions)
  /**
   * MQTT.js's form: every connection runs over the stream `streamBuilder` returns (the
   * Node-stream path; README "Options that need Node's networking").
   */
  constructor(streamBuilder: (client: MqttClient) => import('stream').Duplex, options: IClientOptions)

  /** Sends a PINGREQ now. */
  sendPing(): void
  /** Restarts the keepalive countdown (with `reschedulePings`, or when `force` is true). */
  reschedulePing(force?: boolean): void
  /** Gives up on a silent broker: 'Keepalive timeout', the close, then a reconnect. */
  onKeepaliveTimeout(): void

  on<K extends keyof Events>(event: K, listener: Events[K]): this
  once<K extends keyof Events>(event: K, listener: Events[K]): this
  prependListener<K extends keyof Events>(event: K, listener: Events[K]): this
  prependOnceListener<K extends keyof Events>(event: K, listener: Events[K]): this
  addListener<K extends keyof Events>(event: K, listener: Events[K]): this
  removeListener<K extends keyof Events>(event: K, listener: Events[K]): this
  off<K extends keyof Events>(event: K, listener: Events[K]): this
  removeAllListeners(event?: keyof Events): this
  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): boolean
  listeners<K extends keyof Events>(event: K): Array<Events[K]>
  rawListeners<K extends keyof Events>(event: K): Array<Events[K]>
  listenerCount<K extends keyof Events>(event: K, listener?: Events[K]): number
  eventNames(): Array<keyof Events>

  connect(): this
  publish(topic: string, message: string | Buffer): this
  publish(topic: string, message: string | Buffer, callback?: PacketCallback): this
  publish(topic: string, message: string | Buffer, opts?: IClientPublishOptions, callback?: PacketCallback): this
  publishAsync(topic: string, message: string | Buffer): Promise<Packet | undefined>
  publishAsync(topic: string, message: string | Buffer, opts?: IClientPublishOptions): Promise<Packet | undefined>
  subscribe(topicObject: string | string[] | ISubscriptionMap): this
  subscribe(topicObject: string | string[] | ISubscriptionMap, callback?: ClientSubscribeCallback): this
  subscribe(topicObject: string | string[] | ISubscriptionMap, opts?: IClientSubscribeOptions | IClientSubscribeProperties): this
  subscribe(topicObject: string | string[] | ISubscriptionMap, opts?: IClientSubscribeOptions | IClientSubscribeProperties, callback?: ClientSubscribeCallback): this
  subscribeAsync(topicObject: string | string[] | ISubscriptionMap): Promise<ISubscriptionGrant[]>
  subscribeAsync(topicObject: string | string[] | ISubscriptionMap, opts?: IClientSubscribeOptions | IClientSubscribeProperties): Promise<ISubscriptionGrant[]>
  unsubscribe(topic: string | string[]): this
  unsubscribe(topic: string | string[], opts?: IClientUnsubscribeProperties): this
  unsubscribe(topic: string | string[], callback?: PacketCallback): this
  unsubscribe(topic: string | string[], opts?: IClientUnsubscribeProperties, callback?: PacketCallback): this
  unsubscribeAsync(topic: string | string[]): Promise<Packet | undefined>
  unsubscribeAsync(topic: string | string[], opts?: IClientUnsubscribeProperties): Promise<Packet | undefined>
  end(cb?: DoneCallback): this
  end(force?: boolean): this
  end(opts?: Partial<IDisconnectPacket>, cb?: DoneCallback): this
  end(force?: boolean, cb?: DoneCallback): this
  end(force?: boolean, opts?: Partial<IDisconnectPacket>, cb?: DoneCallback): this
  endAsync(): Promise<void>
  endAsync(force?: boolean): Promise<void>
  endAsync(opts?: Partial<IDisconnectPacket>): Promise<void>
  endAsync(force?: boolean, opts?: Partial<IDisconnectPacket>): Promise<void>
  reconnect(opts?: Pick<IClientOptions, 'incomingStore' | 'outgoingStore'>): this
  removeOutgoingMessage(messageId: number): this
  /** The last message id handed out (MQTT.js declares number; null before the first). */
  getLastMessageId(): number
  handleMessage(packet: IPublishPacket, callback: DoneCallback): void
  handleAuth(packet: IAuthPacket, callback: PacketCallback): void
  /** mqtt-native: what this client has done and holds (one N-API call). */
  getStatistics(): IClientStatistics
}

export declare class Store implements IStore {
  constructor(options?: { clean?: boolean })
  put(packet: Packet, cb?: DoneCallback): this
  get(packet: Pick<Packet, 'messageId'>, cb: PacketCallback): this
  del(packet: Pick<Packet, 'messageId'>, cb: PacketCallback): this
  createStream(): NodeJS.ReadableStream
  close(cb?: DoneCallback): void
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

/**
 * The string codes of errors mqtt-native makes (README.md, Error codes; lib/errors.js). MQTT.js
 * leaves `code` undefined on most of the errors that carry one of these.
 */
export type MqttErrorCode =
  | 'ERR_MQTT_CONNECTION_CLOSED'
  | 'ERR_MQTT_CLIENT_DISCONNECTING'
  | 'ERR_MQTT_NOT_CONNECTED'
  | 'ERR_MQTT_INVALID_TOPIC'
  | 'ERR_MQTT_MESSAGE_REMOVED'
  | 'ERR_MQTT_CONNACK_TIMEOUT'
  | 'ERR_MQTT_KEEPALIVE_TIMEOUT'
  | 'ERR_MQTT_TOPIC_ALIAS'
  | 'ERR_MQTT_NO_AUTH_METHOD'
  | 'ERR_MQTT_WRONG_REASON_CODE'
  | 'ERR_MQTT_CONNECT_FAILED'
  | 'ERR_MQTT_PACKET_NOT_FOUND'
  | 'ERR_MQTT_URL_NO_SCHEME'
  | 'ERR_MQTT_URL_SCHEME'
  | 'ERR_MQTT_INVALID_OPTION'
  | 'ERR_MQTT_INVALID_ARGUMENT'
  | 'ERR_MQTT_INVALID_PACKET'
  | 'ERR_MQTT_URL_PORT'
  | 'ERR_MQTT_UNSUPPORTED'
  | 'ERR_MQTT_SOCKS_URL'
  | 'ERR_MQTT_SOCKS_OPTIONS'
  | 'ERR_MQTT_QUEUE_FULL'
  | 'ERR_MQTT_PERSISTENCE'
  | 'ERR_MQTT_SESSION_TAKEN_OVER'
  | 'ERR_MQTT_INVALID'
  | 'ERR_MQTT_PROTOCOL_ERROR'
  | 'ERR_MQTT_TIMEOUT'
  | 'ERR_MQTT_INTERNAL'
  | 'ERR_MQTT_NATIVE_DELIVERY'
  | 'ERR_MQTT_STREAM'
  | 'ERR_MQTT_WS'
  | 'ERR_MQTT_WS_URL'
  | 'ERR_MQTT_WS_UPGRADE_REFUSED'
  | 'ERR_MQTT_WS_UPGRADE_FAILED'
  | 'ERR_MQTT_WS_SUBPROTOCOL'
  | 'ERR_MQTT_HTTP_PORT'
  | 'ERR_MQTT_TLS_PORT'
  | 'ERR_MQTT_PLAIN_PORT'
  | 'ERR_MQTT_NOT_WEBSOCKET'
  | 'ERR_MQTT_TLS_OPTIONS'
  | 'ERR_MQTT_TLS_CERTIFICATE'
  | 'ERR_MQTT_TLS_HANDSHAKE'
  | 'ERR_MQTT_TLS_ALERT'
  | 'ERR_MQTT_NATIVE_RUNTIME'
  | 'ERR_MQTT_NATIVE_MISSING'
  | 'ERR_MQTT_NATIVE_LOAD'
  | 'ERR_MQTT_NATIVE_VERSION'
  | 'ERR_MQTT_NATIVE_PLATFORM'

/**
 * What an error the client emits or passes to a callback carries in `code`: one of ours, Node's
 * (`'ECONNREFUSED'`, …), or an MQTT reason code (a number, as in MQTT.js). Errors from a store
 * or `customHandleAcks` you supply pass through unchanged.
 */
export interface MqttError extends Error {
  code?: MqttErrorCode | (string & {}) | number
}

export declare class ErrorWithReasonCode extends Error {
  code: number
  /** mqtt-native: the Server Reference of a redirection (reason 0x9C or 0x9D, MQTT 5 §4.11). */
  serverReference?: string
  constructor(message: string, code: number)
}

export declare class ErrorWithSubackPacket extends Error {
  packet: ISubackPacket
  constructor(message: string, packet: ISubackPacket)
}

export declare const ReasonCodes: { [code: number]: string }
/** The MQTT.js version whose API mqtt-native implements ('5.16.0'). */
export declare const MQTTJS_VERSION: string
/** MQTT.js's helper: copies the methods of `mixin`'s prototype chain onto `target`'s prototype. */
export declare function applyMixin(target: Function, mixin: Function, includeConstructor?: boolean): void
/** `process.nextTick`. */
export declare const nextTick: (callback: (...args: any[]) => void, ...args: any[]) => void
/** mqtt-native's own version. */
export declare const NATIVE_VERSION: string
export declare function validateTopic(topic: string): boolean
export declare function validateTopics(topics: string[]): string | null
export declare function connect(brokerUrl: string): MqttClient
export declare function connect(opts: IClientOptions): MqttClient
export declare function connect(brokerUrl: string, opts?: IClientOptions): MqttClient
export declare function connectAsync(brokerUrl: string): Promise<MqttClient>
export declare function connectAsync(opts: IClientOptions): Promise<MqttClient>
export declare function connectAsync(brokerUrl: string, opts?: IClientOptions, allowRetries?: boolean): Promise<MqttClient>
export { MqttClient as Client }

// The default export is the module itself, as MQTT.js's is (`import mqtt from …` then
// `mqtt.connect(…)`, and `mqtt.MqttClient` / `mqtt.IClientOptions` as types).
export * as default from './index'
