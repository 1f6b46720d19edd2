'use strict'
// Topic filter validation, as MQTT.js 5.15+ exports it (MQTT 5 §4.7.1), and the checks for
// shared subscriptions (MQTT 5 §4.8.2) that MQTT.js leaves to the broker.
const { ErrorWithReasonCode, codedError } = require('./errors')

/** Whether `topic` is a valid topic filter: `+` and `#` occupy whole levels, `#` only last. */
function validateTopic (topic) {
  const parts = topic.split('/')
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === '+') continue
    if (parts[i] === '#') return i === parts.length - 1
    if (parts[i].includes('+') || parts[i].includes('#')) return false
  }
  return true
}

/** Returns the first invalid topic of `topics`, `'empty_topic_list'` for none, or null. */
function validateTopics (topics) {
  if (topics.length === 0) return 'empty_topic_list'
  for (const topic of topics) {
    if (!validateTopic(topic)) return topic
  }
  return null
}

const SHARE_PREFIX = '$share/'

/**
 * Why `topic`, a shared subscription (`$share/<ShareName>/<filter>`, MQTT 5 §4.8.2), cannot be
 * used, or null when it can (or is not a shared subscription). The ShareName is at least one
 * character without `/`, `+` or `#` [MQTT-4.8.2-1, 4.8.2-2], and a filter follows it.
 */
function sharedTopicError (topic) {
  if (!topic.startsWith(SHARE_PREFIX)) return null
  const rest = topic.slice(SHARE_PREFIX.length)
  const slash = rest.indexOf('/')
  const group = slash === -1 ? rest : rest.slice(0, slash)
  const filter = slash === -1 ? '' : rest.slice(slash + 1)
  if (!group || /[+#]/.test(group)) return 'the share name must be at least one character without "/", "+" or "#"'
  if (!filter) return 'a topic filter must follow the share name'
  if (!validateTopic(filter)) return `"${filter}" is not a valid topic filter`
  return null
}

/** Whether `topic` names a shared subscription. */
function isShared (topic) {
  return typeof topic === 'string' && topic.startsWith(SHARE_PREFIX)
}

/**
 * The error for a SUBSCRIBE (or, with `optionsOf` null, an UNSUBSCRIBE) naming a shared
 * subscription that cannot work, or null. `optionsOf(topic)` gives a topic's subscription
 * options; `serverProperties` are the current CONNACK's (MQTT 5). Checked here rather than left
 * to the broker, whose answer would be a SUBACK failure at best and a DISCONNECT at worst:
 * - a malformed `$share/...` filter (MQTT 5 §4.8.2);
 * - No Local on a shared subscription, a Protocol Error (MQTT 5 §3.8.3.1 [MQTT-3.8.3-4]);
 * - a broker whose CONNACK says Shared Subscription Available = 0 (MQTT 5 §3.2.2.3.13), which
 *   would refuse it with 0x9E.
 */
function sharedSubscriptionError (topics, optionsOf, version, serverProperties) {
  for (const topic of topics) {
    if (!isShared(topic)) continue
    const why = sharedTopicError(topic)
    if (why) return codedError(`Invalid topic ${topic}: ${why} (a shared subscription is $share/<share name>/<filter>, MQTT 5 §4.8.2)`, 'ERR_MQTT_INVALID_TOPIC')
    if (!optionsOf) continue
    if (version === 5 && serverProperties && serverProperties.sharedSubscriptionAvailable === false) {
      return new ErrorWithReasonCode(`Subscribe error: Shared Subscriptions not supported: the broker's CONNACK says Shared Subscription Available = 0 (MQTT 5 §3.2.2.3.13), so ${topic} was not sent`, 158)
    }
    const options = optionsOf(topic)
    if (version === 5 && options && options.nl) {
      return new ErrorWithReasonCode(`Subscribe error: No Local (nl: true) must not be set on the shared subscription ${topic} (MQTT 5 §3.8.3.1 [MQTT-3.8.3-4]); it was not sent`, 130)
    }
  }
  return null
}

module.exports = { validateTopic, validateTopics, sharedTopicError, sharedSubscriptionError, isShared }
