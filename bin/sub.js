#!/usr/bin/env node
'use strict'
// `mqtt_sub`: the same as `mqtt subscribe`.
require('../lib/cli/sub').subscribe(process.argv.slice(2), { prog: 'mqtt_sub' })
