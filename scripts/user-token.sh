#!/usr/bin/env bash
# Signs a user in through the authorization-code flow (PKCE S256) with curl, the way a browser would: opens
# /authorize, posts the login form, posts the consent form (Allow, every scope ticked) when it is shown, and
# exchanges the code at the token endpoint. Prints the token response (JSON) on stdout.
#
#   scripts/user-token.sh [--client smart-demo] [--redirect-uri http://localhost:8080/callback] \
#     [--scope 'openid fhirUser user/*.rs'] [--aud "$FHIR"] [--email "$ADMIN_EMAIL"] [--password "$ADMIN_PASSWORD"] \
#     [--oauth "$OAUTH"] [extra authorize parameters as name=value ...]
#
# The client must be a public client (tokenEndpointAuthMethod none) with the authorization_code grant; the
# defaults are the demo seed's `smart-demo` client and the owner's credentials. The redirect URI is never
# contacted: the code is read from the redirect the server answers with. The patient picker of a standalone launch
# is not driven: for `launch/patient`, sign in as a user whose Membership links a Patient.
# Needs bash, curl, jq and openssl. Exit status 1 with a message on stderr when a step fails.
set -euo pipefail

oauth=${OAUTH:-}
client=smart-demo
redirect_uri=http://localhost:8080/callback
scope='openid fhirUser user/*.rs'
aud=${FHIR:-}
email=${ADMIN_EMAIL:-}
password=${ADMIN_PASSWORD:-}
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --oauth) oauth=$2; shift 2 ;;
    --client) client=$2; shift 2 ;;
    --redirect-uri) redirect_uri=$2; shift 2 ;;
    --scope) scope=$2; shift 2 ;;
    --aud) aud=$2; shift 2 ;;
    --email) email=$2; shift 2 ;;
    --password) password=$2; shift 2 ;;
    *=*) extra+=(--data-urlencode "$1"); shift ;;
    *) echo "user-token.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for required in oauth email password; do
  if [ -z "${!required}" ]; then echo "user-token.sh: --$required (or its variable) is required" >&2; exit 2; fi
done

fail() { echo "user-token.sh: $*" >&2; exit 1; }
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
field() { sed -n "s/.*name=\"$1\" value=\"\([^\"]*\)\".*/\1/p" | head -n 1; }

jar=$(mktemp)
page=$(mktemp)
trap 'rm -f "$jar" "$page"' EXIT

verifier=$(openssl rand 32 | b64url)
challenge=$(printf '%s' "$verifier" | openssl dgst -sha256 -binary | b64url)
state=$(openssl rand -hex 8)
aud_param=()
if [ -n "$aud" ]; then aud_param=(--data-urlencode "aud=$aud"); fi

# 1. /authorize: a 303 to the login page (or, with a session, further on).
location=$(curl -sS -G -o /dev/null -c "$jar" -b "$jar" -w '%{redirect_url}' "$oauth/authorize" \
  --data-urlencode response_type=code --data-urlencode "client_id=$client" \
  --data-urlencode "redirect_uri=$redirect_uri" --data-urlencode "scope=$scope" --data-urlencode "state=$state" \
  --data-urlencode "code_challenge=$challenge" --data-urlencode code_challenge_method=S256 \
  "${aud_param[@]}" "${extra[@]}")
[ -n "$location" ] || fail "/authorize answered with an error page (unknown client or redirect URI?)"

# 2. the login page and its form
if [[ "$location" == */login\?* ]]; then
  curl -sS -f -o "$page" -c "$jar" -b "$jar" "$location" || fail "the login page did not load"
  interaction=$(field interaction < "$page")
  csrf=$(field csrf < "$page")
  location=$(curl -sS -o "$page" -c "$jar" -b "$jar" -w '%{redirect_url}' "$oauth/login" \
    --data-urlencode "interaction=$interaction" --data-urlencode "csrf=$csrf" \
    --data-urlencode "email=$email" --data-urlencode "password=$password")
  [ -n "$location" ] || fail "sign-in refused: $(sed -n 's/.*role="alert"[^>]*>\([^<]*\)<.*/\1/p' "$page" | head -n 1)"
fi

# 3. the consent page: Allow with every requested scope ticked
if [[ "$location" == */consent\?* ]]; then
  curl -sS -f -o "$page" -c "$jar" -b "$jar" "$location" || fail "the consent page did not load"
  interaction=$(field interaction < "$page")
  csrf=$(field csrf < "$page")
  scopes=()
  while IFS= read -r s; do scopes+=(--data-urlencode "scope=$s"); done \
    < <(sed -n 's/.*type="checkbox" id="[^"]*" name="scope" value="\([^"]*\)" checked>.*/\1/p' "$page" | sed 's/&amp;/\&/g')
  location=$(curl -sS -o /dev/null -c "$jar" -b "$jar" -w '%{redirect_url}' "$oauth/consent" \
    --data-urlencode "interaction=$interaction" --data-urlencode "csrf=$csrf" --data-urlencode decision=allow \
    "${scopes[@]}")
fi

if [[ "$location" == */patient-picker\?* ]]; then
  fail "the flow asks for a patient (standalone launch/patient): this script does not drive the patient picker; sign in as a user whose Membership links a Patient"
fi
[[ "$location" == "$redirect_uri"* ]] || fail "the flow did not return to the app (at: ${location:-nowhere})"
code=$(printf '%s' "$location" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
[ -n "$code" ] || fail "no code in the redirect: $location"

# 4. the token request (public client: client_id and the PKCE verifier, no secret)
curl -sS --fail-with-body "$oauth/token" -d grant_type=authorization_code --data-urlencode "code=$code" \
  --data-urlencode "redirect_uri=$redirect_uri" --data-urlencode "client_id=$client" \
  --data-urlencode "code_verifier=$verifier"
echo
