// mqtt-native's getStatistics() and its diagnostics channels' messages (compiled against mqtt-native only).
import { connect, type IClientStatistics, type IMessageChannelMessage, type ITraceContext } from 'mqtt-native'
import * as diagnostics_channel from 'node:diagnostics_channel'

const client = connect('mqtt://localhost')
const s: IClientStatistics = client.getStatistics()
export const lines: string[] = [
  `mqtt_state{state="${s.state}"} 1`,
  `mqtt_state_seconds ${s.stateMs / 1000}`,
  ...s.messagesSent.map((n: number, qos: number) => `mqtt_messages_sent_total{qos="${qos}"} ${n}`),
  `mqtt_inflight ${s.inflight.count} ${s.inflight.bytes} ${s.inflight.max}`,
  `mqtt_offline ${s.offline.count} ${s.waiting.bytes}`,
  `mqtt_rtt ${s.rtt.meanMs ?? 0}`,
  `mqtt_backlog ${s.persistence ? s.persistence.backlog : 0}`
]
const code: string | number | null = s.lastErrorCode
export const failed = code === 'ECONNREFUSED'

diagnostics_channel.subscribe('mqtt-native:message', (message: unknown) => {
  const m = message as IMessageChannelMessage
  console.log(m.topic, m.qos, m.messageId, m.payload.length, m.client.options.clientId)
})
diagnostics_channel.tracingChannel<ITraceContext>('mqtt-native:publish').subscribe({
  start: (ctx) => console.log(ctx.topic, ctx.qos),
  end: () => {},
  asyncStart: () => {},
  asyncEnd: (ctx) => console.log(ctx.messageId, ctx.reasonCode),
  error: (ctx) => console.log(ctx.error)
})
