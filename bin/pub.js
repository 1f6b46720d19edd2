#!/usr/bin/env node
'use strict'
// `mqtt_pub`: the same as `mqtt publish`.
require('../lib/cli/pub').publish(process.argv.slice(2), { prog: 'mqtt_pub' })
