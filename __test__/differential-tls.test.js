'use strict'
// The differential suite (mqtt-native against MQTT.js) over tls: see differential-suite.js.
require('./differential-suite').defineDifferentialSuite('tls')
