#!/bin/sh
# Sends one profile event to the Opentime demo gateway through its signed webhook (POST /v1/events):
# an "attribute" event that sets FIELD to VALUE on reader UID. Written by `serve --demo` for this run only;
# the webhook key in it is ephemeral and dies with the demo.
#
# Usage: sh send-event.sh UID FIELD VALUE      (VALUE: plain text, no double quotes or backslashes)
# Needs: curl, openssl, date.
set -eu
if [ $# -ne 3 ]; then
  echo "usage: sh $0 UID FIELD VALUE" >&2
  exit 2
fi
uid=$1 field=$2 value=$3
ts=$(date +%s)
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
body=$(printf '{"events":[{"id":"demo-%s-%s","uid":"%s","type":"attribute","time":"%s","attributes":{"%s":"%s"}}]}' \
  "$ts" "$$" "$uid" "$now" "$field" "$value")
sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -mac HMAC -macopt hexkey:{{KEY_HEX}} | sed 's/^.* //')
curl -sS -X POST -H 'Content-Type: application/json' -H "Opentime-Timestamp: $ts" \
  -H "Opentime-Signature: {{KID}}=$sig" --data "$body" '{{BASE}}/v1/events'
echo
