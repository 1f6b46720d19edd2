'use strict'
// Help texts of the `mqtt` command. They list the flags MQTT.js's CLI lists, in our own words,
// plus ours (marked "mqtt-native").

const general = `mqtt: an MQTT client on the command line (mqtt-native, compatible with MQTT.js's \`mqtt\`)

Usage: mqtt <command> [options]

Commands:
  publish, pub       send one message, or one per line of stdin
  subscribe, sub     print the messages arriving on one or more topics
  version            print the version
  help [command]     show this, or the options of a command

A command may be shortened to any unique beginning: "mqtt s" is "mqtt subscribe".
mqtt_pub and mqtt_sub are "mqtt publish" and "mqtt subscribe" under their own names.
Exit status: 0 when done, 1 on a usage or connection error (reported in one line on stderr).
`

const connection = `Connection:
  -h, --hostname HOST      broker host (default localhost; also --host)
  -p, --port PORT          broker port (default 1883 for mqtt, 8883 for mqtts)
  -l, --protocol PROTO     mqtt, mqtts, ws or wss (default mqtt)
  -i, --client-id ID       client identifier (also --id, --clientId; default random)
  -u, --username USER      user name
  -P, --password PASS      password
  --key FILE               client private key (PEM)
  --cert FILE              client certificate (PEM)
  --ca FILE                CA certificate(s) to trust (PEM; also --cafile)
                           any of --key, --cert, --ca without --protocol selects mqtts
  --insecure               do not verify the broker's certificate
  --will-topic TOPIC       topic of the last-will message
  --will-message BODY      body of the last-will message (also --will-payload)
  --will-qos 0|1|2         QoS of the last-will message (default 0)
  --will-retain            retain the last-will message
  --<client option> VALUE  any of these client options, as in MQTT.js: --protocolVersion,
                           --reconnectPeriod, --connectTimeout, --keepalive, --clean,
                           --protocolId, --reschedulePings, --queueQoSZero, --resubscribe,
                           --reconnectOnConnackError, --rejectUnauthorized, --servername,
                           --path, --maxInflight, --properties.sessionExpiryInterval, ...
                           (kebab-case works too: --protocol-version 5)
  -H, --help               show this`

const publish = `Usage: mqtt publish [options] topic [message]
       mqtt_pub [options] topic [message]

Connects, publishes, and disconnects once the broker has the message.

Message:
  -t, --topic TOPIC        topic to publish to (or the first argument)
  -m, --message BODY       message body (or the second argument; default empty)
  -q, --qos 0|1|2          quality of service (default 0)
  -r, --retain             ask the broker to retain the message
  -s, --stdin              read the body from stdin (all of it, as one message)
  -M, --multiline          with -s, publish each line of stdin as its own message
  -C PROTO                 same as --protocol (MQTT.js's short form)

${connection}
`

const subscribe = `Usage: mqtt subscribe [options] [topic ...]
       mqtt_sub [options] [topic ...]

Subscribes and prints the body of each message on its own line, until interrupted
(Ctrl-C or SIGTERM end the session cleanly, with exit status 0).

Subscription:
  -t, --topic TOPIC        topic filter to subscribe to (or the arguments; repeatable)
  -q, --qos 0|1|2          maximum quality of service (default 0)
  -v, --verbose            print "topic body" instead of the body alone
  -c, --clean              start a clean session (the default)
  --no-clean               keep the session (and its queued messages) for this client id;
                           needs --client-id
  -k, --keepalive SEC      ping the broker after SEC seconds of silence (default 60)
  -C, --count N            exit after N messages (mqtt-native; for scripts and tests).
                           For compatibility, -C with a protocol name (-C mqtts) is --protocol.

${connection}
`

const texts = { general, publish, subscribe }

/** The help text for `topic` (general, publish or subscribe). */
function helpText (topic = 'general') {
  return texts[topic]
}

module.exports = { helpText }
