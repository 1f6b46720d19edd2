#!/usr/bin/env node
'use strict'
// `mqtt`: the command line of mqtt-native (`mqtt help` lists the commands).
require('../lib/cli/main').main(process.argv.slice(2))
