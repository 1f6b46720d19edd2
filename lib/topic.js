'use strict'
// Topic filter validation, as MQTT.js 5.15+ exports it (MQTT 5 §4.7.1).

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

module.exports = { validateTopic, validateTopics }
