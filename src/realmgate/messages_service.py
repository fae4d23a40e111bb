"""Messages RG7xxx-RG9xxx: remote keys and the verify API modes, the HTTP service, the
PostgreSQL registry (RG55xx), shared state across nodes (RG85xx), internal faults.
Loaded by :mod:`realmgate.messages`.
"""

from __future__ import annotations

from realmgate.catalogue import define

# --- RG7xxx: remote keys (JWKS, OIDC discovery) and the verify API modes -------------
define(
    "RG7001E",
    "Cannot fetch the {what} from {url}: {detail}.",
    "The HTTPS request did not complete: connection refused, DNS or TLS failure, or no "
    "complete answer within the timeout. Keys already cached stay in use up to max_stale.",
    "Check that the URL is reachable from this host (firewall, proxy, DNS, CA certificates); "
    "raise http_timeout if the issuer is slow.",
)
define(
    "RG7002E",
    "The {what} at {url} answered HTTP {status}{detail}.",
    "Only a 200 answer (or 304 to a revalidation) is accepted. Redirects are never followed: "
    "a key URL that moves must be changed in the configuration, so a compromised or "
    "misconfigured web server cannot point realmgate at other keys.",
    "Check the URL in the configuration (jwks_uri, discovery) or the issuer's "
    "discovery document; if the issuer moved it, configure the new URL.",
)
define(
    "RG7003E",
    "The {what} at {url} is over the size limit of {limit} bytes ({size}).",
    "Remote documents are read with a size limit (max_response_bytes) so a broken or hostile "
    "server cannot exhaust memory; the limit is enforced while reading.",
    "Check the URL; if the issuer really publishes a larger key set, raise max_response_bytes.",
)
define(
    "RG7004E",
    "The {what} at {url} is not usable: {detail}.",
    "A JWK Set must be a JSON object with a 'keys' array holding at least one usable "
    "signature key; a discovery document must be a JSON object with 'issuer' and "
    "'jwks_uri'. The last good copy, if any, stays in use.",
    "Check what the URL serves (curl it); fix the issuer's publication or the URL.",
)
define(
    "RG7005E",
    "Refusing to fetch the {what} from {url}: {detail}.",
    "Keys are fetched over https only; plain http needs allow_insecure_http = true on the "
    "definition (meant for loopback tests). URLs taken from a discovery document follow the "
    "same rule.",
    "Use the issuer's https URL.",
)
define(
    "RG7010E",
    "Keys for {client} from {url} are unavailable: the last good copy was fetched {age} ago "
    "and has been stale for {stale_for}, over max_stale {max_stale}; last error: {error}.",
    "When the issuer cannot be reached, realmgate keeps verifying with the last good keys "
    "for at most max_stale after they expire (degraded health). Past that bound it refuses "
    "with status 503 (keys unavailable), not 401: the token may be fine, the keys are not "
    "known.",
    "Restore access to the issuer's key URL (see the last error). Raise jwks_max_stale only "
    "if keys that old are acceptable to you.",
)
define(
    "RG7011E",
    "Keys for {client} are unavailable: {url} has not been fetched successfully{retry}; "
    "last error: {error}.",
    "No copy of the keys has ever been obtained, so no token of this issuer can be "
    "verified. realmgate answers 503 (keys unavailable) and retries at most once per "
    "cool-down, so a down issuer is not hammered.",
    "Restore access to the key URL (see the last error); check the URL in the configuration.",
)
define(
    "RG7012E",
    "Key {kid!r} is not in the JWK Set of {client} from {url} (fetched {age} ago){refetch}; "
    "keys available: {available}.",
    "A kid that the cached JWK Set does not hold causes one refetch (the issuer may have "
    "rotated its keys); after that, unknown kids are refused without a request for the "
    "cool-down (jwks_unknown_kid_cooldown), so a flood of made-up kids cannot hammer the "
    "issuer.",
    "If the issuer really signs with this key, wait for the cool-down or check that it "
    "publishes the key in its JWK Set; otherwise the token was not issued by it.",
)
define(
    "RG7020E",
    "The discovery document at {url} names issuer {seen!r}, not the expected {expected!r}.",
    "OpenID Connect Discovery requires the document's 'issuer' to equal the issuer it was "
    "fetched for, exactly (scheme, host, port, path, trailing slash). Otherwise one issuer "
    "could publish keys that verify tokens in another's name.",
    "Configure the issuer exactly as the document names it, or point discovery at the "
    "right document.",
)
define(
    "RG7021E",
    "The token's issuer {iss!r} is not the issuer {seen!r} named by the discovery document "
    "at {url}.",
    "With an explicit discovery URL the document's 'issuer' must still equal the token's "
    "'iss', so a token from another issuer is not verified with these keys.",
    "Pass the discovery URL of the issuer that issued the token.",
)
define(
    "RG7022E",
    "Issuer {iss!r} {detail} and is not allowed for discovery (discovery_allow: {allowed}); "
    "no request was made.",
    "verify_jwt and verify_jwt_using_discovery derive the discovery URL from the token's "
    "'iss', which anyone can write. realmgate fetches it only for issuers listed in "
    "[discovery] allow (exact issuers or host patterns such as '*.example.com').",
    "Configure a definition for the issuer, or add it to [discovery] allow if any token "
    "it signs should be accepted.",
)
define(
    "RG7023E",
    "Issuer {iss!r} signed with {alg}, which is not usable for it: allowed {allowed}{detail}.",
    "Tokens verified through discovery may use the asymmetric algorithms the issuer's "
    "discovery document lists in id_token_signing_alg_values_supported; shared-secret "
    "(HS*) algorithms never, since a published document cannot convey a secret.",
    "Have the issuer sign with an algorithm its document lists, or configure a definition "
    "for it with explicit algorithms.",
)
define(
    "RG7024E",
    "Definitions {clients} trust issuer {iss!r} but none serves issuer-based selection for "
    "the verify API: {detail}.",
    "verify_jwt and verify_jwt_using_config pick the definition by issuer alone. When "
    "several definitions share the issuer, exactly one must say use_issuer = true (or "
    "allow_issuer_selection = true); use_issuer = false keeps a definition out of it.",
    "Set use_issuer = true on the definition that should serve the API for this issuer.",
)
define(
    "RG7025E",
    "{mode} needs the token's 'iss' claim to find the issuer; the token has none.",
    "Discovery matches the document's issuer against the token's 'iss'; without one there "
    "is nothing to match.",
    "Have the issuer set 'iss', or use verify_jwt/verify_jwt_using_config with a default "
    "issuer that has a definition.",
)
define(
    "RG7026E",
    "Discovery for new issuer {iss!r} refused: {count} new issuers were discovered in the "
    "last {window}, the limit is {limit}; no request was made.",
    "Host patterns in [discovery] allow admit many issuers; discovering a new one costs a "
    "request, so their number per cool-down is bounded and issuers made up by an attacker "
    "cannot turn realmgate into a request generator.",
    "Retry later; if many legitimate issuers appear at once, list them exactly or configure "
    "definitions for them.",
)

# --- RG8xxx: the HTTP service, live reload, admin (server/, middleware.py) ------------
define(
    "RG8001E",
    "The request line and headers are {size} bytes, over the limit of {limit} bytes.",
    "Requests with oversized headers are refused (431) before any token work, to bound the "
    "memory and time one request can take.",
    "Send fewer or smaller headers (cookies are a common cause), or raise [limits] "
    "max_header_bytes if such requests are legitimate.",
)
define(
    "RG8002E",
    "The request was not completed within {timeout}s: {detail}.",
    "Each request must deliver its body within [server] request_timeout; a slow client "
    "would otherwise hold a connection and memory indefinitely.",
    "Send the whole request promptly; raise request_timeout only for slow legitimate links.",
)
define(
    "RG8003E",
    "There is no endpoint {method} {path}.",
    "The service answers /auth, /v1/verify, /v1/token, /jwks.json, "
    "/.well-known/openid-configuration, /issuers/<id>/…, /healthz, /readyz and /metrics; "
    "admin endpoints are only on the admin listener.",
    "Check the URL (docs/server.md lists the endpoints).",
)
define(
    "RG8004E",
    "Method {method} is not allowed on {path}; use {allowed}.",
    "Each endpoint accepts only the methods it documents.",
    "Use one of the methods listed in the Allow header.",
)
define(
    "RG8005E",
    "{file}:{line}: setting in {table} is not usable: {detail}.",
    "A [server], [admin] or [demo] setting is missing a setting it depends on, or two "
    "settings contradict each other.",
    "Add or correct the setting as described.",
)
define(
    "RG8006E",
    "{file}:{line}: local issuer {issuer!r} cannot be used: {detail}.",
    "Every [[issuer]] key is loaded when the configuration is loaded, so a key that cannot "
    "be read, is locked, cannot sign the configured algorithm or reuses another issuer's "
    "kid is reported now rather than when a token is requested.",
    "Fix the key path, key_password_env or algorithm, or give the issuer its own kid.",
)
define(
    "RG8010E",
    "POST /v1/token is disabled on this server.",
    "The token endpoint is off unless [server] token_endpoint = true, because it signs "
    "tokens in the local issuers' names.",
    "Set token_endpoint = true and token_issuers_allowed_users in [server] to enable it.",
)
define(
    "RG8011E",
    "Local user {local_user!r} (subject {subject!r}, realm {realm!r}) may not issue tokens: "
    "it is not in [server] token_issuers_allowed_users.",
    "The caller's bearer token was verified and mapped, but only the local users listed in "
    "token_issuers_allowed_users may call POST /v1/token.",
    "Call with a token that maps to an allowed local user, or add this user to the list.",
)
define(
    "RG8012E",
    "No local issuer {issuer!r}; configured issuers: {available}.",
    "POST /v1/token signs for an [[issuer]] named by its id; 'issuer' may be omitted only "
    "when exactly one is configured.",
    "Pass the id of a configured [[issuer]].",
)
define(
    "RG8013E",
    "Nothing is published here: {detail}.",
    "A discovery document names exactly one issuer, so the root "
    "/.well-known/openid-configuration is served only when exactly one local issuer has a "
    "public key; each issuer always has /issuers/<id>/.well-known/openid-configuration and "
    "/issuers/<id>/jwks.json.",
    "Use the per-issuer path, or configure exactly one asymmetric [[issuer]].",
)
define(
    "RG8014W",
    "The trace was withheld: the caller {peer} is not in [server] explain_from.",
    "A trace shows every check with configuration details (definitions, filters, key "
    "sources), so it is returned only to addresses listed in explain_from (loopback by "
    "default). The decision itself is returned.",
    "Ask from an allowed address, use 'realmgate explain' on the server, or add the caller's "
    "network to explain_from.",
)
define(
    "RG8020E",
    "The admin request is not authorized: {detail}.",
    "Admin endpoints require 'Authorization: Bearer <token>' with the token held in the "
    "environment variable named by [admin] token_env, compared in constant time.",
    "Send the admin token from that variable.",
)
define(
    "RG8021I",
    "Configuration {file} reloaded ({trigger}); generation {generation} is in force: {changes}.",
    "A reload replaces the whole configuration at once; requests in flight finish on the old "
    "one. Caches are dropped only for what changed.",
    "None.",
)
define(
    "RG8022E",
    "Configuration {file} not reloaded ({trigger}): {count} problem(s), listed above; "
    "generation {generation} stays in force.",
    "A new configuration that fails to load is refused as a whole and the one in service "
    "keeps serving, so a typo cannot take the service down.",
    "Fix the problems listed before this message; the file watcher reloads on the next save, "
    "or send SIGHUP / POST /admin/reload.",
)
define(
    "RG8023E",
    "Admin request refused: {detail}.",
    "An admin call carried a body or parameters that are not acceptable.",
    "Correct the request as described (docs/server.md lists the admin endpoints).",
)
define(
    "RG8030E",
    "Not ready: failing checks {failing}.",
    "Readiness needs a loaded configuration, keys that are fresh or within their stale limit "
    "for every definition, and a readable identity registry. A proxy or orchestrator should "
    "not route tokens here until it is ready.",
    "See the JSON body of /readyz for the detail of each failing check.",
)
define(
    "RG8031E",
    "Verify mode {mode!r} is not available: {detail}.",
    "The verify API's mode selects how the definition and keys are found.",
    "Use a mode this build supports, or configure the issuer as a [[client]].",
)
define(
    "RG8040I",
    "realmgate serving on {url} with configuration {file} (generation {generation}, "
    "{workers} worker(s)){admin}.",
    "The HTTP service started.",
    "None.",
)
define(
    "RG8041E",
    "Cannot listen on {address}: {detail}.",
    "The listening socket could not be opened: the port is in use, the address is not "
    "local, or the unix socket path is not writable.",
    "Choose another --port/--host (or [admin] listen/socket), or stop what uses it.",
)
define(
    "RG8042E",
    "The admin listener is not started: {detail}.",
    "The admin endpoints change mappings and configuration, so they never run without their token.",
    "Export the variable named by [admin] token_env with a random value of at least 16 "
    "characters, or disable the admin listener.",
)
define(
    "RG8050E",
    "Path rule {rule!r} for the middleware is not acceptable: {detail}.",
    "Middleware path rules are URL path prefixes ('/api/') or exact paths ('=/login'), each "
    "marked as requiring a token or not.",
    "Write the rule as documented in docs/server.md (Middleware).",
)

# --- RG55xx: the PostgreSQL registry (registry/postgres.py) -- issue 8 ----------------
define(
    "RG5501I",
    "PostgreSQL registry {target}: schema migrated from version {old} to {new}.",
    "Schema migrations are applied when a node opens the registry (or by 'realmgate registry "
    "migrate'); concurrent nodes serialise on an advisory lock, so each step runs once.",
    "None.",
)
define(
    "RG5502W",
    "Lost the connection to the PostgreSQL registry {target} ({detail}); the last snapshot "
    "stays in force for up to {grace}s while reconnecting.",
    "A node keeps its in-memory mappings and revocations; changes cannot be made or seen "
    "while the database is unreachable. Past the grace period lookups fail closed (RG5002E).",
    "Check the database server and the network; the node reconnects by itself.",
)
define(
    "RG5503I",
    "Reconnected to the PostgreSQL registry {target} after {seconds}s.",
    "The change listener is back; any change made meanwhile is picked up from the change counter.",
    "None.",
)

# --- RG85xx: shared state across nodes: Redis replay store, revocation -- issue 8 -----
define(
    "RG8501E",
    "Replay protection is unavailable ({store}: {detail}), so token jti {jti!r} from "
    '{iss!r} was refused: client {client!r} has replay_unavailable = "refuse".',
    "With token_reuse = false every jti must be recorded in the shared replay store before "
    "the token is accepted; when the store cannot be reached a replay cannot be ruled out.",
    "Restore the replay store (Redis); or, if accepting possible replays is acceptable for "
    'this client, set replay_unavailable = "allow". The request may be retried.',
)
define(
    "RG8502W",
    "Replay protection is unavailable ({store}: {detail}); token jti {jti!r} from {iss!r} "
    "was accepted without a replay check because client {client!r} has "
    'replay_unavailable = "allow".',
    "The definition prefers availability over replay protection while the shared replay "
    "store cannot be reached. The token could be a replay.",
    "Restore the replay store (Redis); /readyz reports the replay check as degraded.",
)
define(
    "RG8503W",
    "Lost the connection to the replay store {store}: {detail}.",
    "Tokens of definitions with token_reuse = false are refused (RG8501E) or accepted "
    "without a replay check (RG8502W), as each definition's replay_unavailable says, until "
    "the store answers again. Retries are spaced by [replay] retry_interval.",
    "Check the Redis server and the network.",
)
define(
    "RG8504I",
    "The replay store {store} answers again.",
    "Replay protection is back in force for every definition.",
    "None.",
)
define(
    "RG8510E",
    "The token is revoked: its {kind} {value!r} was revoked at {when}{scope}{reason}.",
    "The revocation list (stored in the identity registry and shared by every node) names "
    "this token's jti, its subject or the id of the key that signed it. The signature was "
    "valid; the token is refused because of the revocation.",
    "If the revocation is no longer wanted, remove it with 'realmgate unrevoke'; otherwise "
    "obtain a new token (a revoked key id needs a new signing key).",
)
define(
    "RG8511E",
    "{kind} {value!r}{scope} is already revoked (since {when}).",
    "A revocation is recorded once; its reason and time are kept as first written.",
    "List the revocations with 'realmgate revoke list'; remove one with 'realmgate unrevoke'.",
)
define(
    "RG8512E",
    "No revocation of {kind} {value!r}{scope}.",
    "The revocation to remove does not exist in the registry.",
    "List the revocations with 'realmgate revoke list' (the issuer scope must match too).",
)
define(
    "RG8513E",
    "Revocation not acceptable: {detail}.",
    "A revocation names exactly one jti, subject or key id, optionally scoped to one issuer.",
    "Correct the value; see 'realmgate revoke --help'.",
)
define(
    "RG8514E",
    "[replay] setting {key} is not usable: {detail}.",
    "The shared replay store is configured in the [replay] table (url, key_prefix, timeout, "
    "retry_interval).",
    "Correct the setting; see docs/deploy.md.",
)

# --- RG9xxx: internal faults ---------------------------------------------------------
define(
    "RG9001S",
    "Internal error while {during}: {detail}. The request was refused.",
    "An unexpected fault occurred. The request was refused (fail closed) and the fault was "
    "logged with a short token hash.",
    "Report the message and the log record to the maintainers.",
)
