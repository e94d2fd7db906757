#!/bin/sh
# Example: feeding central's intake API with curl (docs/protocol.md, docs/schemas/openapi.json).
#
#   INTAKE=http://127.0.0.1:5580 TOKEN_FILE=/etc/packstation-central/intake.token \
#       examples/intake.sh orders ORDERS.json
#
# orders FILE     POST /v1/orders      (ORDERS.json, or one ORDER.json)
# inventory FILE  PUT  /v1/inventory   (INVENTORY.json: the full vault)
# badges FILE     PUT  /v1/badges      (BADGES.json: the full allow-list)
# status ID       GET  /v1/orders/ID   (where the order is)
# withdraw ID     DELETE /v1/orders/ID
# health          GET  /v1/health      (no token)
#
# FILE may be - for stdin. Each write carries an Idempotency-Key: $IDEMPOTENCY_KEY, or a new
# random one. Give the same key when you retry a change whose answer you did not get (a timeout):
# central applies it once and answers the retry as the first time. Prints central's JSON answer;
# exits 0 on 2xx, 1 otherwise (a 400 names the bad field's JSON path).
set -eu
: "${INTAKE:=http://127.0.0.1:5580}"
: "${TOKEN_FILE:=/etc/packstation-central/intake.token}"
what=${1:?usage: intake.sh orders|inventory|badges FILE | status|withdraw ID | health}

call() { # METHOD PATH [curl args...]
    method=$1 path=$2
    shift 2
    code=$(curl -sS -o "$out" -w '%{http_code}' -X "$method" "$INTAKE$path" \
        -H "Authorization: Bearer $(cat "$TOKEN_FILE")" "$@")
    cat "$out"
    echo
    case $code in 2*) return 0 ;; *) echo "intake.sh: HTTP $code" >&2; return 1 ;; esac
}

out=$(mktemp)
body=$(mktemp)
trap 'rm -f "$out" "$body"' EXIT
case $what in
orders | inventory | badges)
    file=${2:?a FILE (or -) to send}
    cat -- "$file" >"$body"
    key=${IDEMPOTENCY_KEY:-$(cat /proc/sys/kernel/random/uuid)}
    method=PUT
    [ "$what" = orders ] && method=POST
    call "$method" "/v1/$what" -H 'Content-Type: application/json' \
        -H "Idempotency-Key: $key" --data-binary "@$body"
    ;;
status | withdraw)
    id=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' \
        "${2:?an order id}") # percent-encoded: "10 41" is 10%2041
    if [ "$what" = status ]; then call GET "/v1/orders/$id"; else call DELETE "/v1/orders/$id"; fi
    ;;
health)
    curl -sS "$INTAKE/v1/health"
    echo
    ;;
*)
    echo "intake.sh: unknown command $what" >&2
    exit 2
    ;;
esac
