'use strict'
// The differential suite (mqtt-native against MQTT.js) over wss: see differential-suite.js.
require('./differential-suite').defineDifferentialSuite('wss')
