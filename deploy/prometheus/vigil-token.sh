#!/bin/sh
# Logs in to Vigil and writes the access token (a JWT, 15 minutes by default) to $VIGIL_TOKEN_FILE atomically,
# for Prometheus's `authorization: { credentials_file: ... }` (re-read at every scrape). Use an `operator`
# account (metrics:read, nothing more). Environment: VIGIL_URL, VIGIL_METRICS_USER, VIGIL_METRICS_PASSWORD_FILE,
# VIGIL_TOKEN_FILE; VIGIL_CA_FILE for a private CA.
set -eu
: "${VIGIL_URL:?}" "${VIGIL_METRICS_USER:?}" "${VIGIL_METRICS_PASSWORD_FILE:?}" "${VIGIL_TOKEN_FILE:?}"
# JSON-escaped: backslashes and double quotes
password=$(sed 's/\\/\\\\/g; s/"/\\"/g' "$VIGIL_METRICS_PASSWORD_FILE")
body=$(printf '{"username":"%s","password":"%s"}' "$VIGIL_METRICS_USER" "$password")
ca=""
[ -n "${VIGIL_CA_FILE:-}" ] && ca="--cacert $VIGIL_CA_FILE"
# shellcheck disable=SC2086
answer=$(curl -fsS $ca -H 'content-type: application/json' --data-binary @- "$VIGIL_URL/auth/login" <<JSON
$body
JSON
)
token=$(printf '%s' "$answer" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "vigil-token: no access_token in the login answer" >&2; exit 1; }
tmp="$VIGIL_TOKEN_FILE.tmp.$$"
umask 077
printf '%s' "$token" > "$tmp"
mv -f "$tmp" "$VIGIL_TOKEN_FILE"
