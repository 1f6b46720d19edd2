'use strict'
// The differential suite (mqtt-native against MQTT.js) over tcp: see differential-suite.js.
require('./differential-suite').defineDifferentialSuite('tcp')
