'use strict'
// The differential suite (mqtt-native against MQTT.js) over ws: see differential-suite.js.
require('./differential-suite').defineDifferentialSuite('ws')
