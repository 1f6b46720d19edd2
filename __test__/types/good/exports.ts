// The type names MQTT.js exports at its top level that a drop-in must also export.
import type {
  BaseMqttProtocol, MqttProtocolWithUnix, MqttProtocol, StorePutCallback, AckHandler,
  ISecureClientOptions, IClientOptions, IClientPublishOptions, IClientReconnectOptions,
  IClientSubscribeProperties, IClientSubscribeOptions, ISubscriptionRequest, ISubscriptionGrant,
  ISubscriptionMap, IClientUnsubscribeProperties, IConnackPacket, IDisconnectPacket, IPublishPacket,
  Packet, OnConnectCallback, OnDisconnectCallback, ClientSubscribeCallback, OnMessageCallback,
  OnPacketCallback, OnCloseCallback, OnErrorCallback, PacketCallback, CloseCallback,
  MqttClientEventCallbacks, DoneCallback, GenericCallback, VoidCallback, IStream, Callback,
  TimerVariant, Timer, IStore
} from 'mqtt-native'
import {
  MqttClient, Client, Store, DefaultMessageIdProvider, UniqueMessageIdProvider, ErrorWithReasonCode,
  ErrorWithSubackPacket, ReasonCodes, connect, connectAsync, validateTopic, validateTopics, MQTTJS_VERSION
} from 'mqtt-native'

export type All = [BaseMqttProtocol, MqttProtocolWithUnix, MqttProtocol, StorePutCallback, AckHandler,
  ISecureClientOptions, IClientOptions, IClientPublishOptions, IClientReconnectOptions,
  IClientSubscribeProperties, IClientSubscribeOptions, ISubscriptionRequest, ISubscriptionGrant,
  ISubscriptionMap, IClientUnsubscribeProperties, IConnackPacket, IDisconnectPacket, IPublishPacket,
  Packet, OnConnectCallback, OnDisconnectCallback, ClientSubscribeCallback, OnMessageCallback,
  OnPacketCallback, OnCloseCallback, OnErrorCallback, PacketCallback, CloseCallback,
  MqttClientEventCallbacks, DoneCallback, GenericCallback<string>, VoidCallback, IStream, Callback,
  TimerVariant, Timer, IStore]

const store: IStore = new Store()
const client: MqttClient = connect({ manualConnect: true, incomingStore: store })
const grant: ISubscriptionGrant = { topic: 'a', qos: 128 }
export const values = [client, grant, Client, Store, DefaultMessageIdProvider, UniqueMessageIdProvider, ErrorWithReasonCode,
  ErrorWithSubackPacket, ReasonCodes, connect, connectAsync, validateTopic('a'), validateTopics(['a']), MQTTJS_VERSION]
