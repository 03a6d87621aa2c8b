#!/usr/bin/env bash
# A tour of the Control API with grpcurl alone, against a running master and
# demo platform: create an account, log it in by QR (the "scan" is an HTTP
# call to the demo platform), see an injected comment, mark it read, reply,
# and find the reply on the platform.
#
# Usage: scripts/grpcurl_tour.sh [MASTER] [DEMOSITE_URL]
#   MASTER defaults to $HISCRM_MASTER or 127.0.0.1:50051, DEMOSITE_URL to
#   http://127.0.0.1:8300; the token comes from $HISCRM_TOKEN or
#   $HISCRM_HOME/token (default ./var/token).
set -euo pipefail

MASTER="${1:-${HISCRM_MASTER:-127.0.0.1:50051}}"
SITE="${2:-http://127.0.0.1:8300}"
TOKEN="${HISCRM_TOKEN:-$(cat "${HISCRM_HOME:-./var}/token")}"
GRPCURL="${GRPCURL:-grpcurl}"
# the demo platform's admin API wants its token (written next to the master's)
ADMIN_TOKEN="${HISCRM_DEMOSITE_ADMIN_TOKEN:-$(cat "${HISCRM_HOME:-./var}/demosite-admin-token" 2>/dev/null || true)}"
ADMIN_H="X-Admin-Token: $ADMIN_TOKEN"
ACCOUNT="tour-$RANDOM"
USERNAME="${TOUR_USER:-demo2}"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

call() { # METHOD JSON
    "$GRPCURL" -plaintext -H "authorization: Bearer $TOKEN" -d "$2" "$MASTER" "hiscrm.v1.Control/$1"
}
field() { # FILE KEY -> first string value of "KEY": "..."
    sed -n "s/.*\"$2\": \"\\([^\"]*\\)\".*/\\1/p" "$1" | head -1
}
wait_for() { # SECONDS COMMAND...
    local until=$((SECONDS + $1)); shift
    until "$@"; do
        if ((SECONDS > until)); then echo "tour: timed out waiting for: $*" >&2; exit 1; fi
        sleep 0.5
    done
}

echo "== create $ACCOUNT on the demo platform as $USERNAME"
call CreateAccount "{\"account_id\":\"$ACCOUNT\",\"spec\":{\"platform\":\"PLATFORM_DEMO\",\"enabled\":true,\"monitor_interval_ms\":2000,\"demo\":{\"base_url\":\"$SITE\",\"username\":\"$USERNAME\"}}}" >/dev/null
needs_login() { call GetAccount "{\"account_id\":\"$ACCOUNT\"}" | grep -q RUN_STATE_NEEDS_LOGIN; }
wait_for 60 needs_login

echo "== start the login (a server stream) and scan the QR it relays"
call StartLogin "{\"account_id\":\"$ACCOUNT\"}" >"$work/login.json" 2>&1 &
has_qr() { grep -q '"content"' "$work/login.json"; }
wait_for 60 has_qr
qr_url=$(field "$work/login.json" content)
curl -fsS -X POST -H 'Content-Type: application/json' -H "$ADMIN_H" \
    -d "{\"username\":\"$USERNAME\",\"token\":\"${qr_url##*token=}\"}" "$SITE/admin/scan" >/dev/null
logged_in() { grep -q '"success"' "$work/login.json"; }
wait_for 60 logged_in
echo "logged in as $(field "$work/login.json" nickname)"

echo "== inject a comment on the platform and find it with ListItems"
marker="tour-comment-$RANDOM"
curl -fsS -X POST -H 'Content-Type: application/json' -H "$ADMIN_H" \
    -d "{\"username\":\"$USERNAME\",\"text\":\"$marker\"}" "$SITE/admin/comments" >/dev/null
listed() { call ListItems "{\"account_ids\":[\"$ACCOUNT\"],\"query\":\"$marker\"}" >"$work/items.json" && grep -q "$marker" "$work/items.json"; }
wait_for 60 listed
item_id=$(field "$work/items.json" id)
echo "item $item_id: $marker"

echo "== mark it read"
call MarkRead "{\"item_ids\":[\"$item_id\"]}"

echo "== reply to it"
call SendReply "{\"request_id\":\"tour-$RANDOM$RANDOM\",\"item_id\":\"$item_id\",\"text\":\"thanks $marker\"}" | tee "$work/reply.json"
grep -q '"ok": true' "$work/reply.json"

echo "== the reply is on the platform"
curl -fsS -H "$ADMIN_H" "$SITE/admin/replies?username=$USERNAME" | grep -q "thanks $marker"
echo "tour complete"
