"""The message catalogue: every refusal, warning and configuration problem has an id here.

An id is ``RG`` + four digits + a severity letter (``E`` error, ``W`` warning, ``I`` info,
``S`` severe: an internal fault). The first digit names the pipeline stage, so an operator
can tell from the id alone where to look:

==========  ===============================================================
``RG0xxx``  command line and HTTP input (usage)
``RG1xxx``  finding and parsing the token (extract, jws)
``RG2xxx``  choosing the trusted-client definition (select)
``RG3xxx``  keys and signature (keys, jws)
``RG4xxx``  claims: time, issuer, audience, replay (claims)
``RG5xxx``  identity mapping and the registry (mapping, registry)
``RG6xxx``  configuration (config, check, liberty import, trace spec)
``RG7xxx``  remote keys: JWKS and OIDC discovery
``RG8xxx``  the HTTP service, reload and shared state across nodes
``RG9xxx``  internal faults
==========  ===============================================================

Templates name their values (``{exp}``); :func:`render` fills them and shows a missing one
as ``<?>`` rather than failing, because a message about a failure must never fail itself.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SEVERITIES = {"E": "error", "W": "warning", "I": "info", "S": "severe"}


@dataclass(frozen=True, slots=True)
class MessageDef:
    id: str
    text: str
    explanation: str
    action: str

    @property
    def severity(self) -> str:
        return SEVERITIES[self.id[-1]]


CATALOGUE: dict[str, MessageDef] = {}


def _m(msg_id: str, text: str, explanation: str, action: str) -> None:
    if msg_id in CATALOGUE:
        raise RuntimeError(f"duplicate message id {msg_id}")
    CATALOGUE[msg_id] = MessageDef(msg_id, text, explanation, action)


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "<?>"


_FORMATTER = string.Formatter()


def render(msg_id: str, values: Mapping[str, Any] | None = None) -> str:
    """Return ``"RGnnnnE text"`` with the values filled in; never raises."""
    definition = CATALOGUE.get(msg_id)
    if definition is None:
        return f"{msg_id} (message text not in catalogue) {dict(values or {})}"
    try:
        body = _FORMATTER.vformat(definition.text, (), _Lenient(values or {}))
    except (ValueError, IndexError, AttributeError, KeyError):
        body = definition.text
    return f"{msg_id} {body}"


# --- RG0xxx: usage (CLI arguments, HTTP bodies) ---------------------------------------
_m(
    "RG0001E",
    "Invalid command-line argument: {detail}.",
    "An argument or option given to the realmgate command is missing, malformed or out of range.",
    "Run the command with --help to see the accepted arguments, then correct the one named.",
)
_m(
    "RG0002E",
    "Cannot read {what} from {source}: {detail}.",
    "An input file, standard input or environment variable named on the command line could "
    "not be read.",
    "Check that the path or variable exists and is readable by this user.",
)
_m(
    "RG0003E",
    "The request body is not acceptable: {detail}.",
    "An HTTP API call carried a body that is not the JSON object the endpoint expects, or "
    "is larger than the configured limit.",
    "Send a JSON object with the documented fields; see docs for the endpoint.",
)

# --- RG1xxx: finding and parsing the token -------------------------------------------
_m(
    "RG1001E",
    "No token found in the request: {detail}.",
    "The request carries no JSON Web Token where the candidate definitions look for one "
    "(the Authorization header with the Bearer scheme, or the definition's custom header).",
    "Send the token as 'Authorization: Bearer <token>' or in the header the definition names.",
)
_m(
    "RG1002E",
    "The token is {size} bytes, over the limit of {limit} bytes.",
    "Tokens larger than the configured limit are refused before any parsing, to bound the "
    "work an attacker can cause.",
    "Issue a smaller token (fewer claims), or raise [limits] max_token_bytes if such tokens "
    "are legitimate.",
)
_m(
    "RG1003E",
    "The token is a JWE (5 segments); this definition accepts only signed tokens "
    "(JWS, 3 segments).",
    "Encrypted tokens (JWE) are not accepted: realmgate verifies signed JWTs in compact "
    "serialization.",
    "Configure the issuer to send a signed (JWS) token.",
)
_m(
    "RG1004E",
    "The token is not a compact JWS: it has {parts} dot-separated segments, expected 3.",
    "A compact JWS is header.payload.signature, each base64url-encoded.",
    "Check that the whole token was sent, with nothing appended, and no line breaks.",
)
_m(
    "RG1005E",
    "The token's {segment} segment is not strict base64url: {detail}.",
    "RFC 7515 requires unpadded base64url (A-Z a-z 0-9 - _) with canonical trailing bits. "
    "Padding, '+', '/', whitespace or a non-canonical final character is refused so that "
    "one token has exactly one encoding.",
    "Have the issuer encode with unpadded base64url; check the token was not altered in "
    "transit (copy and paste often adds characters).",
)
_m(
    "RG1006E",
    "The token's {segment} is not acceptable JSON: {detail}.",
    "The decoded header or payload must be UTF-8 JSON without duplicate member names and "
    "without excessive nesting.",
    "Have the issuer produce a well-formed JSON object.",
)
_m(
    "RG1007E",
    "The token's {segment} is JSON {found}, not an object.",
    "The JOSE header and the JWT claims set must each be a JSON object.",
    "Have the issuer put the claims in a JSON object.",
)
_m(
    "RG1008E",
    "The token's header has no usable 'alg': {detail}.",
    "Every JWS header must name its signature algorithm as a string.",
    "Have the issuer set the 'alg' header parameter.",
)
_m(
    "RG1009E",
    "The token's algorithm '{alg}' means 'unsigned'; unsigned tokens are never accepted.",
    "Tokens with alg 'none' (in any letter case) carry no signature and could be forged by "
    "anyone. realmgate refuses them whatever the configuration says.",
    "Have the issuer sign the token with one of the definition's algorithms.",
)
_m(
    "RG1010E",
    "The token's header marks {names} as critical, and realmgate does not understand them.",
    "RFC 7515 section 4.1.11: a recipient must refuse a JWS whose 'crit' header lists "
    "extensions it does not implement (including 'b64' unencoded payloads).",
    "Have the issuer drop the critical extension, or use a verifier that implements it.",
)
_m(
    "RG1011E",
    "The token's header parameter '{name}' is not acceptable: {detail}.",
    "A header parameter has the wrong type or is too long (for example a 'kid' of 10 KB, "
    "or a 'b64' parameter asking for an unencoded payload).",
    "Have the issuer send a standard header: short string 'kid', no 'b64'.",
)
_m(
    "RG1012E",
    "The token is a nested JWT (cty '{cty}'); nested tokens are not accepted.",
    "A JWS whose content type says the payload is itself a JWT would need a second "
    "verification; realmgate accepts only a claims set as payload.",
    "Send the inner token directly.",
)
_m(
    "RG1013E",
    "The {header} header does not carry a bearer token: {detail}.",
    "The Authorization header must be 'Bearer <token>' (RFC 6750) and a custom header must "
    "hold only the token (a leading 'Bearer ' is allowed).",
    "Send 'Authorization: Bearer <token>'.",
)

# --- RG2xxx: choosing the definition -------------------------------------------------
_m(
    "RG2001E",
    "No trusted-client definition trusts issuer {iss!r}; definitions considered: {considered}.",
    "Each definition lists the issuers it trusts, compared exactly (case and spaces "
    "matter). No definition lists this token's 'iss' claim. Liberty reports this case only "
    "as 'SEND_401'.",
    "Add the issuer to the 'issuers' of the definition that should handle it, or correct "
    "the issuer the client puts in the token. Run 'realmgate explain' to see each "
    "definition.",
)
_m(
    "RG2002E",
    "The token has no 'iss' claim and no default issuer was given.",
    "The issuer selects the definition; without it realmgate cannot tell which keys to trust.",
    "Have the client set 'iss', or pass a default issuer (verify_jwt(default_issuer=...)).",
)
_m(
    "RG2003E",
    "Definitions {clients} trust issuer {iss!r}, but their request filters refuse "
    "this request: {reasons}.",
    "A definition handles a request only if its auth_filter accepts it (remote address, "
    "URL, host, headers, cookies). The definitions for this issuer all refused.",
    "Check the request's address, URL and headers against the filter shown, or widen the filter.",
)
_m(
    "RG2004E",
    "No trusted-client definition accepts this request: {reasons}.",
    "Every definition's request filter refused the request, so no token location or issuer "
    "could be chosen.",
    "Check the request's address, URL and headers against the filters shown.",
)
_m(
    "RG2005E",
    "Definition {client} is not usable: {detail}.",
    "The definition could not be prepared (for example its key source failed to load); it "
    "is skipped and this message names why.",
    "Fix the definition's key source; 'realmgate check' shows the details.",
)

# --- RG3xxx: keys and signature ------------------------------------------------------
_m(
    "RG3001E",
    "Definition {client} does not allow algorithm {alg}; allowed: {allowed}.",
    "Each definition has an explicit allow-list of algorithms and the token's 'alg' header "
    "must be in it. This blocks algorithm-substitution attacks.",
    "Add the algorithm to 'algorithms' if the issuer really uses it, or have the issuer "
    "sign with an allowed algorithm.",
)
_m(
    "RG3002E",
    "Definition {client} has no key with kid {kid!r} for {alg} in {source}; keys "
    "available: {available}.",
    "The token names a key id that the trust store or JWKS of this definition does not "
    "hold (or holds only for other algorithms).",
    "Add the issuer's certificate or public key to the trust store (or set trust_alias), "
    "or check that the issuer signs with the key you expect.",
)
_m(
    "RG3003E",
    "Key {kid!r} of definition {client} is a {kty} key and cannot verify {alg}.",
    "Keys are bound to their algorithm family: an RSA key verifies RS*/PS*, an EC key only "
    "the ES algorithm of its curve, an Ed25519 key EdDSA, a shared secret HS*. A mismatch "
    "is an attack or a misconfiguration.",
    "Use the key that matches the algorithm, or change the issuer's algorithm.",
)
_m(
    "RG3004E",
    "Signature verification failed for definition {client} using {alg} with key "
    "{kid!r} from {source}{tried}.",
    "The signature does not match the token's header and payload under this key: the token "
    "was altered, or it was signed by a different private key than the one trusted here.",
    "Compare the key fingerprint ('realmgate keys show') with the issuer's signing key; "
    "re-export the issuer's certificate into the trust store.",
)
_m(
    "RG3005E",
    "Definition {client} uses {alg} but its shared secret variable {env} is not set or empty.",
    "HS* algorithms need a shared secret, read from the environment variable named by "
    "shared_secret_env when the configuration is loaded.",
    "Export the variable with the shared secret before starting realmgate.",
)
_m(
    "RG3006E",
    "Key {kid!r} is a {bits}-bit RSA key; at least 2048 bits are required.",
    "RSA keys shorter than 2048 bits are refused (NIST SP 800-131A).",
    "Have the issuer use a 2048-bit or larger RSA key.",
)
_m(
    "RG3007E",
    "Definition {client} has no key source for {alg}: {detail}.",
    "The definition has no trust store, JWKS, discovery or shared secret that can provide a "
    "key for this algorithm.",
    "Give the definition a key source suited to its algorithms.",
)

# --- RG4xxx: claims ------------------------------------------------------------------
_m(
    "RG4001E",
    "The token expired at {exp_iso} (exp {exp}); now is {now_iso}, clock skew "
    "{skew}s, so it was refused {late}s after expiry.",
    "A token is accepted until exp + clock_skew. Liberty reports this as CWWKS1773E 'outside "
    "of its valid range'.",
    "Issue a new token. If tokens expire too early, compare the clocks of the issuer and "
    "this server (the times are shown), or raise clock_skew.",
)
_m(
    "RG4002E",
    "The token has no 'exp' claim; definition {client} requires one.",
    "Tokens without an expiry would be valid for ever and are refused.",
    "Have the issuer set 'exp' (realmgate token create sets it from --ttl).",
)
_m(
    "RG4003E",
    "The token is not valid before {nbf_iso} (nbf {nbf}); now is {now_iso}, clock skew {skew}s.",
    "The 'nbf' claim says when the token starts to be valid.",
    "Wait until the token is valid, or check the issuer's clock against this server's.",
)
_m(
    "RG4004E",
    "The token was issued in the future: iat {iat_iso} ({iat}) is after now "
    "{now_iso} plus clock skew {skew}s.",
    "An issue time ahead of this server's clock by more than the allowed skew means the "
    "clocks disagree or the token was forged.",
    "Synchronise the clocks (NTP) of the issuer and this server, or raise clock_skew.",
)
_m(
    "RG4005E",
    "The token is {age}s old (iat {iat_iso}); definition {client} accepts at most "
    "max_age {max_age}s.",
    "max_age caps the time since issue, whatever 'exp' says.",
    "Issue a fresh token, or raise max_age.",
)
_m(
    "RG4006E",
    "The token's issue time iat {iat_iso} is after its expiry exp {exp_iso}.",
    "Such a token can never be valid.",
    "Fix how the issuer computes iat and exp.",
)
_m(
    "RG4007E",
    "The token's claim {claim!r} has the wrong type or value: {detail}.",
    "Time claims must be JSON numbers (seconds since the epoch, finite, not negative, not "
    "booleans); 'aud' must be a string or a list of strings; 'iss', 'sub' and 'jti' strings.",
    "Have the issuer produce standard claim types (RFC 7519 section 4.1).",
)
_m(
    "RG4008E",
    "Issuer {iss!r} is not trusted by definition {client}; expected one of {expected}{hint}.",
    "The token's 'iss' must equal one of the definition's issuers exactly.",
    "Correct the issuer in the token or add it to the definition's issuers.",
)
_m(
    "RG4009E",
    "Audience {aud} is not accepted by definition {client}; expected one of {expected}.",
    "The token's 'aud' must contain at least one of the definition's audiences.",
    "Have the issuer set the right 'aud', or add it to 'audiences' (or set audiences = "
    '"any" to skip the check deliberately).',
)
_m(
    "RG4010E",
    "The token has no 'aud' claim, but definition {client} requires one of {expected}.",
    "The definition lists audiences, so tokens must name one.",
    "Have the issuer set 'aud', or set audiences = \"any\".",
)
_m(
    "RG4011E",
    "The token lacks the claim(s) {claims} that definition {client} requires.",
    "required_claims lists claims that must be present.",
    "Have the issuer include the claims, or remove them from required_claims.",
)
_m(
    "RG4012E",
    "Token replay: jti {jti!r} from issuer {iss!r} was already used; definition "
    "{client} has token_reuse = false.",
    "Each token may be used once when token_reuse is false (Liberty CWWKS1743E).",
    "Issue a new token with a fresh 'jti' for each request.",
)
_m(
    "RG4013E",
    "The token has no 'jti' claim; definition {client} has token_reuse = false and "
    "needs one to detect replay.",
    "Replay protection keys on (iss, jti). A token without 'jti' cannot be protected, so it "
    "is refused rather than silently accepted.",
    "Have the issuer set a unique 'jti' (realmgate token create --jti).",
)
_m(
    "RG4014E",
    "The token's user claim {claim!r} is missing or not a non-empty string (definition {client}).",
    "The user claim (user_claim, default 'sub') names the subject to map to a local user.",
    "Have the issuer set the claim, or change user_claim.",
)

# --- RG5xxx: identity mapping --------------------------------------------------------
_m(
    "RG5001E",
    "Distributed identity is not defined: user {user!r} realm {realm!r} has no "
    "mapping to a local user (filters tried: {tried}).",
    "The identity registry has no filter matching this (user, realm) pair, like RACF's "
    "ICH408I 'DISTRIBUTED IDENTITY IS NOT DEFINED'. The realm came from {realm_source}.",
    "Add a mapping: realmgate map add --user USER --realm REALM --local-user LOCAL. Check "
    "that the realm is the one you expect (see the trace).",
)
_m(
    "RG5002E",
    "The identity registry is unavailable: {detail}.",
    "The registry store could not be opened or read; no identity can be mapped.",
    "Check the registry path and permissions, and the disk.",
)
_m(
    "RG5003E",
    "Mapping rule not acceptable: {detail}.",
    "A mapping needs a user filter, a realm filter and a local user; the filters are exact "
    "values, distinguished names or '*'.",
    "Correct the rule; see 'realmgate map add --help'.",
)
_m(
    "RG5004E",
    "No mapping rule for user filter {user!r} and realm filter {realm!r}.",
    "The rule to remove or test does not exist in the registry.",
    "List the rules with 'realmgate map list'.",
)
_m(
    "RG5005E",
    "A mapping rule for user filter {user!r} and realm filter {realm!r} already "
    "exists (to {local_user!r}).",
    "Like RACMAP, a filter is defined once; remove it before adding it again.",
    "Remove the rule first (realmgate map remove), then add the new one.",
)

# --- RG6xxx: configuration -----------------------------------------------------------
_m(
    "RG6001E",
    "Cannot read configuration file {file}: {detail}.",
    "The configuration file is missing or unreadable.",
    "Pass --config with the right path, or set REALMGATE_CONFIG.",
)
_m(
    "RG6002E",
    "{file}:{line}: configuration is not valid TOML: {detail}.",
    "The file could not be parsed as TOML.",
    "Fix the syntax at the line shown.",
)
_m(
    "RG6003E",
    "{file}:{line}: unknown setting {key!r} in {table}{hint}.",
    "Unknown settings are refused rather than ignored, because a misspelt security setting "
    "would otherwise silently fall back to its default.",
    "Correct the spelling; 'realmgate check' lists the known settings.",
)
_m(
    "RG6004E",
    "{file}:{line}: {key} in {table}: {detail}.",
    "A setting has a value of the wrong type or out of range.",
    "Correct the value as described.",
)
_m(
    "RG6005E",
    "{file}:{line}: algorithm {alg!r} in {table} is not accepted: {detail}.",
    "Algorithms come from an explicit list: RS256/384/512, PS256/384/512, ES256/384/512, "
    "EdDSA, HS256/384/512. 'none' is never accepted.",
    "Use one of the listed algorithms.",
)
_m(
    "RG6006E",
    "{file}:{line}: key file {path} for {table} cannot be used: {detail}.",
    "A trust store, key or certificate file named in the configuration is missing, "
    "unreadable, or not in a supported format.",
    "Check the path (relative paths are relative to the configuration file) and format.",
)
_m(
    "RG6007E",
    "{file}:{line}: duplicate id {id!r}; first defined at line {first_line}.",
    "Definition and filter ids must be unique.",
    "Rename one of them.",
)
_m(
    "RG6008E",
    "{file}:{line}: trust_alias {alias!r} is not in trust store {path}; aliases "
    "there: {available}.",
    "trust_alias names the certificate or key (PKCS#12 friendly name, PEM file stem, or JWK "
    "kid) to trust, like Liberty's trustAliasName.",
    "Use one of the aliases listed ('realmgate keys show' lists them), or import the "
    "certificate under that alias.",
)
_m(
    "RG6009E",
    "{file}:{line}: {table} is missing the required setting {key!r}.",
    "This setting has no safe default.",
    "Add the setting.",
)
_m(
    "RG6010E",
    "{file}:{line}: {table} refers to auth_filter {ref!r}, which is not defined.",
    "auth_filter must name the id of an [[auth_filter]] table.",
    "Define the filter or correct the reference.",
)
_m(
    "RG6011E",
    "{file}:{line}: {detail}.",
    "The definition's key material could not be unlocked (for example the PKCS#12 password "
    "variable is not set, or the password is wrong).",
    "Set the environment variable named by trust_store_password_env to the right password.",
)
_m(
    "RG6012E",
    "{file}:{line}: condition in auth_filter {filter!r} is not acceptable: {detail}.",
    "Filter conditions take a kind (remote_address, request_url, host, user_agent, "
    "request_header, cookie), a match type (equals, contains, not_contains; greater_than and "
    "less_than for addresses) and a value; IP patterns follow Liberty's rules (after the "
    "first '*' or range every later part must be '*').",
    "Correct the condition as described.",
)
_m(
    "RG6013E",
    "{file}:{line}: definitions {clients} share issuer {iss!r} and more than one "
    "has use_issuer = true.",
    "At most one definition per issuer may serve issuer-based selection. WebSphere silently "
    "disabled all of them in this case; realmgate refuses the configuration instead.",
    "Set use_issuer = true on exactly one of them (or allow_issuer_selection on the one "
    "that should win).",
)
_m(
    "RG6014E",
    "{file}:{line}: {table} sets {keys} together; choose one.",
    "Some settings exclude each other (for example two key sources, or realm with realm_claim).",
    "Keep only one of them.",
)
_m(
    "RG6020E",
    "Configuration {file} refused: {count} problem(s); the previous configuration "
    "(if any) stays in force.",
    "All problems are reported at once; the configuration is loaded only when there are none.",
    "Fix each problem listed above it.",
)
_m(
    "RG6050W",
    "Definitions {clients} overlap: the same issuer {iss!r} and filters that can "
    "both accept one request; {first} wins because it comes first.",
    "When several definitions can handle a token, the first in file order is used; the "
    "others never see those tokens.",
    "Give the definitions disjoint filters or issuers, or remove the unused one.",
)
_m(
    "RG6051W",
    "The same key {fingerprint} is trusted for several issuers: {issuers}.",
    "One key trusted under several issuers lets whoever holds it speak for all of them (the "
    "blog's 'one certificate for two purposes' lesson).",
    "Use a separate key per issuer.",
)
_m(
    "RG6052W",
    "Definition {client} accepts any request and any audience.",
    'A definition without a filter and with audiences = "any" accepts tokens from its '
    "issuers for every route and every audience.",
    "Add an auth_filter or list the audiences.",
)
_m(
    "RG6053W",
    "Definition {client}: the shared secret in {env} is {length} bytes, shorter "
    "than the {bits}-bit hash of {alg}.",
    "RFC 7518 section 3.2 requires an HMAC key at least as long as the hash output.",
    "Use a random secret of at least {min_bytes} bytes.",
)
_m(
    "RG6054W",
    "Definition {client}: key {kid!r} is a {bits}-bit RSA key; tokens it signs "
    "will be refused (minimum 2048).",
    "RSA keys shorter than 2048 bits are refused at verification time.",
    "Replace the key with a 2048-bit or larger one.",
)
_m(
    "RG6055W",
    "Definition {client} sets clock_skew to {skew}s (over 300s).",
    "A large clock skew extends every token's life by that much.",
    "Fix the clocks (NTP) and keep clock_skew at 300 s or less.",
)
_m(
    "RG6056W",
    "Definition {client} lists no audiences; tokens are accepted for any audience.",
    "Without an audience check a token issued for another service can be replayed here.",
    'List the audiences, or write audiences = "any" to make the choice explicit.',
)

# --- RG62xx: trace specifications (tracespec.py) ---------------------------------------
_m(
    "RG6201W",
    "Trace specification clause {clause!r}: unknown level {level!r}; the clause is ignored.",
    "The level of a clause name=level[=enabled|disabled] must be one of, most to least "
    "verbose: all, finest, finer, fine, detail, config, info, audit, warning, severe, "
    "fatal, off (aliases dump, debug, entryExit, event, error; any letter case). Liberty "
    "reports this as TRACE_STRING_BAD_LEVEL.",
    "Correct the level in the clause; the other clauses are in force.",
)
_m(
    "RG6202W",
    "Trace specification clause {clause!r}: {action!r} is not enabled, disabled, on or "
    "off; the clause is ignored.",
    "The optional third field of a clause says whether the level is switched on "
    "(enabled, on) or off (disabled, off). Liberty reports this as "
    "TRACE_STRING_BAD_ACTION.",
    "Write name=level, name=level=enabled or name=level=disabled.",
)
_m(
    "RG6203I",
    "Trace specification clause {clause!r} matches no logger under {root}; it has no "
    "effect. Known loggers: {known}.",
    "A clause names a logger or a prefix ending in '*'. This one matches none of the "
    "loggers realmgate uses (for example a Liberty package name such as "
    "com.ibm.ws.security.* pasted from server.xml). Liberty reports this as "
    "UNKNOWN_TRACE_SPEC.",
    "Use one of the known logger names, or '*' for all of them.",
)
_m(
    "RG6204W",
    "Trace specification clause {clause!r} has {fields} '='-separated fields, at most 3 "
    "(name=level=enabled); the clause is ignored.",
    "Clauses are separated by ':' and each has at most three fields separated by '='.",
    "Check for a missing ':' between two clauses.",
)

# --- RG7xxx: remote keys (JWKS, OIDC discovery) and the verify API modes -------------
_m(
    "RG7001E",
    "Cannot fetch the {what} from {url}: {detail}.",
    "The HTTPS request did not complete: connection refused, DNS or TLS failure, or no "
    "complete answer within the timeout. Keys already cached stay in use up to max_stale.",
    "Check that the URL is reachable from this host (firewall, proxy, DNS, CA certificates); "
    "raise http_timeout if the issuer is slow.",
)
_m(
    "RG7002E",
    "The {what} at {url} answered HTTP {status}{detail}.",
    "Only a 200 answer (or 304 to a revalidation) is accepted. Redirects are never followed: "
    "a key URL that moves must be changed in the configuration, so a compromised or "
    "misconfigured web server cannot point realmgate at other keys.",
    "Check the URL in the configuration (jwks_uri, discovery) or the issuer's "
    "discovery document; if the issuer moved it, configure the new URL.",
)
_m(
    "RG7003E",
    "The {what} at {url} is over the size limit of {limit} bytes ({size}).",
    "Remote documents are read with a size limit (max_response_bytes) so a broken or hostile "
    "server cannot exhaust memory; the limit is enforced while reading.",
    "Check the URL; if the issuer really publishes a larger key set, raise max_response_bytes.",
)
_m(
    "RG7004E",
    "The {what} at {url} is not usable: {detail}.",
    "A JWK Set must be a JSON object with a 'keys' array holding at least one usable "
    "signature key; a discovery document must be a JSON object with 'issuer' and "
    "'jwks_uri'. The last good copy, if any, stays in use.",
    "Check what the URL serves (curl it); fix the issuer's publication or the URL.",
)
_m(
    "RG7005E",
    "Refusing to fetch the {what} from {url}: {detail}.",
    "Keys are fetched over https only; plain http needs allow_insecure_http = true on the "
    "definition (meant for loopback tests). URLs taken from a discovery document follow the "
    "same rule.",
    "Use the issuer's https URL.",
)
_m(
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
_m(
    "RG7011E",
    "Keys for {client} are unavailable: {url} has not been fetched successfully{retry}; "
    "last error: {error}.",
    "No copy of the keys has ever been obtained, so no token of this issuer can be "
    "verified. realmgate answers 503 (keys unavailable) and retries at most once per "
    "cool-down, so a down issuer is not hammered.",
    "Restore access to the key URL (see the last error); check the URL in the configuration.",
)
_m(
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
_m(
    "RG7020E",
    "The discovery document at {url} names issuer {seen!r}, not the expected {expected!r}.",
    "OpenID Connect Discovery requires the document's 'issuer' to equal the issuer it was "
    "fetched for, exactly (scheme, host, port, path, trailing slash). Otherwise one issuer "
    "could publish keys that verify tokens in another's name.",
    "Configure the issuer exactly as the document names it, or point discovery at the "
    "right document.",
)
_m(
    "RG7021E",
    "The token's issuer {iss!r} is not the issuer {seen!r} named by the discovery document "
    "at {url}.",
    "With an explicit discovery URL the document's 'issuer' must still equal the token's "
    "'iss', so a token from another issuer is not verified with these keys.",
    "Pass the discovery URL of the issuer that issued the token.",
)
_m(
    "RG7022E",
    "Issuer {iss!r} {detail} and is not allowed for discovery (discovery_allow: {allowed}); "
    "no request was made.",
    "verify_jwt and verify_jwt_using_discovery derive the discovery URL from the token's "
    "'iss', which anyone can write. realmgate fetches it only for issuers listed in "
    "[discovery] allow (exact issuers or host patterns such as '*.example.com').",
    "Configure a definition for the issuer, or add it to [discovery] allow if any token "
    "it signs should be accepted.",
)
_m(
    "RG7023E",
    "Issuer {iss!r} signed with {alg}, which is not usable for it: allowed {allowed}{detail}.",
    "Tokens verified through discovery may use the asymmetric algorithms the issuer's "
    "discovery document lists in id_token_signing_alg_values_supported; shared-secret "
    "(HS*) algorithms never, since a published document cannot convey a secret.",
    "Have the issuer sign with an algorithm its document lists, or configure a definition "
    "for it with explicit algorithms.",
)
_m(
    "RG7024E",
    "Definitions {clients} trust issuer {iss!r} but none serves issuer-based selection for "
    "the verify API: {detail}.",
    "verify_jwt and verify_jwt_using_config pick the definition by issuer alone. When "
    "several definitions share the issuer, exactly one must say use_issuer = true (or "
    "allow_issuer_selection = true); use_issuer = false keeps a definition out of it.",
    "Set use_issuer = true on the definition that should serve the API for this issuer.",
)
_m(
    "RG7025E",
    "{mode} needs the token's 'iss' claim to find the issuer; the token has none.",
    "Discovery matches the document's issuer against the token's 'iss'; without one there "
    "is nothing to match.",
    "Have the issuer set 'iss', or use verify_jwt/verify_jwt_using_config with a default "
    "issuer that has a definition.",
)
_m(
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
_m(
    "RG8001E",
    "The request line and headers are {size} bytes, over the limit of {limit} bytes.",
    "Requests with oversized headers are refused (431) before any token work, to bound the "
    "memory and time one request can take.",
    "Send fewer or smaller headers (cookies are a common cause), or raise [limits] "
    "max_header_bytes if such requests are legitimate.",
)
_m(
    "RG8002E",
    "The request was not completed within {timeout}s: {detail}.",
    "Each request must deliver its body within [server] request_timeout; a slow client "
    "would otherwise hold a connection and memory indefinitely.",
    "Send the whole request promptly; raise request_timeout only for slow legitimate links.",
)
_m(
    "RG8003E",
    "There is no endpoint {method} {path}.",
    "The service answers /auth, /v1/verify, /v1/token, /jwks.json, "
    "/.well-known/openid-configuration, /issuers/<id>/…, /healthz, /readyz and /metrics; "
    "admin endpoints are only on the admin listener.",
    "Check the URL (docs/server.md lists the endpoints).",
)
_m(
    "RG8004E",
    "Method {method} is not allowed on {path}; use {allowed}.",
    "Each endpoint accepts only the methods it documents.",
    "Use one of the methods listed in the Allow header.",
)
_m(
    "RG8005E",
    "{file}:{line}: setting in {table} is not usable: {detail}.",
    "A [server], [admin] or [demo] setting is missing a setting it depends on, or two "
    "settings contradict each other.",
    "Add or correct the setting as described.",
)
_m(
    "RG8006E",
    "{file}:{line}: local issuer {issuer!r} cannot be used: {detail}.",
    "Every [[issuer]] key is loaded when the configuration is loaded, so a key that cannot "
    "be read, is locked, cannot sign the configured algorithm or reuses another issuer's "
    "kid is reported now rather than when a token is requested.",
    "Fix the key path, key_password_env or algorithm, or give the issuer its own kid.",
)
_m(
    "RG8010E",
    "POST /v1/token is disabled on this server.",
    "The token endpoint is off unless [server] token_endpoint = true, because it signs "
    "tokens in the local issuers' names.",
    "Set token_endpoint = true and token_issuers_allowed_users in [server] to enable it.",
)
_m(
    "RG8011E",
    "Local user {local_user!r} (subject {subject!r}, realm {realm!r}) may not issue tokens: "
    "it is not in [server] token_issuers_allowed_users.",
    "The caller's bearer token was verified and mapped, but only the local users listed in "
    "token_issuers_allowed_users may call POST /v1/token.",
    "Call with a token that maps to an allowed local user, or add this user to the list.",
)
_m(
    "RG8012E",
    "No local issuer {issuer!r}; configured issuers: {available}.",
    "POST /v1/token signs for an [[issuer]] named by its id; 'issuer' may be omitted only "
    "when exactly one is configured.",
    "Pass the id of a configured [[issuer]].",
)
_m(
    "RG8013E",
    "Nothing is published here: {detail}.",
    "A discovery document names exactly one issuer, so the root "
    "/.well-known/openid-configuration is served only when exactly one local issuer has a "
    "public key; each issuer always has /issuers/<id>/.well-known/openid-configuration and "
    "/issuers/<id>/jwks.json.",
    "Use the per-issuer path, or configure exactly one asymmetric [[issuer]].",
)
_m(
    "RG8014W",
    "The trace was withheld: the caller {peer} is not in [server] explain_from.",
    "A trace shows every check with configuration details (definitions, filters, key "
    "sources), so it is returned only to addresses listed in explain_from (loopback by "
    "default). The decision itself is returned.",
    "Ask from an allowed address, use 'realmgate explain' on the server, or add the caller's "
    "network to explain_from.",
)
_m(
    "RG8020E",
    "The admin request is not authorized: {detail}.",
    "Admin endpoints require 'Authorization: Bearer <token>' with the token held in the "
    "environment variable named by [admin] token_env, compared in constant time.",
    "Send the admin token from that variable.",
)
_m(
    "RG8021I",
    "Configuration {file} reloaded ({trigger}); generation {generation} is in force: {changes}.",
    "A reload replaces the whole configuration at once; requests in flight finish on the old "
    "one. Caches are dropped only for what changed.",
    "None.",
)
_m(
    "RG8022E",
    "Configuration {file} not reloaded ({trigger}): {count} problem(s), listed above; "
    "generation {generation} stays in force.",
    "A new configuration that fails to load is refused as a whole and the one in service "
    "keeps serving, so a typo cannot take the service down.",
    "Fix the problems listed before this message; the file watcher reloads on the next save, "
    "or send SIGHUP / POST /admin/reload.",
)
_m(
    "RG8023E",
    "Admin request refused: {detail}.",
    "An admin call carried a body or parameters that are not acceptable.",
    "Correct the request as described (docs/server.md lists the admin endpoints).",
)
_m(
    "RG8030E",
    "Not ready: failing checks {failing}.",
    "Readiness needs a loaded configuration, keys that are fresh or within their stale limit "
    "for every definition, and a readable identity registry. A proxy or orchestrator should "
    "not route tokens here until it is ready.",
    "See the JSON body of /readyz for the detail of each failing check.",
)
_m(
    "RG8031E",
    "Verify mode {mode!r} is not available: {detail}.",
    "The verify API's mode selects how the definition and keys are found.",
    "Use a mode this build supports, or configure the issuer as a [[client]].",
)
_m(
    "RG8040I",
    "realmgate serving on {url} with configuration {file} (generation {generation}, "
    "{workers} worker(s)){admin}.",
    "The HTTP service started.",
    "None.",
)
_m(
    "RG8041E",
    "Cannot listen on {address}: {detail}.",
    "The listening socket could not be opened: the port is in use, the address is not "
    "local, or the unix socket path is not writable.",
    "Choose another --port/--host (or [admin] listen/socket), or stop what uses it.",
)
_m(
    "RG8042E",
    "The admin listener is not started: {detail}.",
    "The admin endpoints change mappings and configuration, so they never run without their token.",
    "Export the variable named by [admin] token_env with a random value of at least 16 "
    "characters, or disable the admin listener.",
)
_m(
    "RG8050E",
    "Path rule {rule!r} for the middleware is not acceptable: {detail}.",
    "Middleware path rules are URL path prefixes ('/api/') or exact paths ('=/login'), each "
    "marked as requiring a token or not.",
    "Write the rule as documented in docs/server.md (Middleware).",
)

# --- RG55xx: the PostgreSQL registry (registry/postgres.py) -- issue 8 ----------------
_m(
    "RG5501I",
    "PostgreSQL registry {target}: schema migrated from version {old} to {new}.",
    "Schema migrations are applied when a node opens the registry (or by 'realmgate registry "
    "migrate'); concurrent nodes serialise on an advisory lock, so each step runs once.",
    "None.",
)
_m(
    "RG5502W",
    "Lost the connection to the PostgreSQL registry {target} ({detail}); the last snapshot "
    "stays in force for up to {grace}s while reconnecting.",
    "A node keeps its in-memory mappings and revocations; changes cannot be made or seen "
    "while the database is unreachable. Past the grace period lookups fail closed (RG5002E).",
    "Check the database server and the network; the node reconnects by itself.",
)
_m(
    "RG5503I",
    "Reconnected to the PostgreSQL registry {target} after {seconds}s.",
    "The change listener is back; any change made meanwhile is picked up from the change counter.",
    "None.",
)

# --- RG85xx: shared state across nodes: Redis replay store, revocation -- issue 8 -----
_m(
    "RG8501E",
    "Replay protection is unavailable ({store}: {detail}), so token jti {jti!r} from "
    '{iss!r} was refused: client {client!r} has replay_unavailable = "refuse".',
    "With token_reuse = false every jti must be recorded in the shared replay store before "
    "the token is accepted; when the store cannot be reached a replay cannot be ruled out.",
    "Restore the replay store (Redis); or, if accepting possible replays is acceptable for "
    'this client, set replay_unavailable = "allow". The request may be retried.',
)
_m(
    "RG8502W",
    "Replay protection is unavailable ({store}: {detail}); token jti {jti!r} from {iss!r} "
    "was accepted without a replay check because client {client!r} has "
    'replay_unavailable = "allow".',
    "The definition prefers availability over replay protection while the shared replay "
    "store cannot be reached. The token could be a replay.",
    "Restore the replay store (Redis); /readyz reports the replay check as degraded.",
)
_m(
    "RG8503W",
    "Lost the connection to the replay store {store}: {detail}.",
    "Tokens of definitions with token_reuse = false are refused (RG8501E) or accepted "
    "without a replay check (RG8502W), as each definition's replay_unavailable says, until "
    "the store answers again. Retries are spaced by [replay] retry_interval.",
    "Check the Redis server and the network.",
)
_m(
    "RG8504I",
    "The replay store {store} answers again.",
    "Replay protection is back in force for every definition.",
    "None.",
)
_m(
    "RG8510E",
    "The token is revoked: its {kind} {value!r} was revoked at {when}{scope}{reason}.",
    "The revocation list (stored in the identity registry and shared by every node) names "
    "this token's jti, its subject or the id of the key that signed it. The signature was "
    "valid; the token is refused because of the revocation.",
    "If the revocation is no longer wanted, remove it with 'realmgate unrevoke'; otherwise "
    "obtain a new token (a revoked key id needs a new signing key).",
)
_m(
    "RG8511E",
    "{kind} {value!r}{scope} is already revoked (since {when}).",
    "A revocation is recorded once; its reason and time are kept as first written.",
    "List the revocations with 'realmgate revoke list'; remove one with 'realmgate unrevoke'.",
)
_m(
    "RG8512E",
    "No revocation of {kind} {value!r}{scope}.",
    "The revocation to remove does not exist in the registry.",
    "List the revocations with 'realmgate revoke list' (the issuer scope must match too).",
)
_m(
    "RG8513E",
    "Revocation not acceptable: {detail}.",
    "A revocation names exactly one jti, subject or key id, optionally scoped to one issuer.",
    "Correct the value; see 'realmgate revoke --help'.",
)
_m(
    "RG8514E",
    "[replay] setting {key} is not usable: {detail}.",
    "The shared replay store is configured in the [replay] table (url, key_prefix, timeout, "
    "retry_interval).",
    "Correct the setting; see docs/deploy.md.",
)

# --- RG61xx: Liberty server.xml import (liberty/) -- issue 7 ------------------------
_m(
    "RG6101E",
    "Cannot read the Liberty configuration {file}: {detail}.",
    "The server.xml (or an included file) is missing, unreadable or too large.",
    "Check the path and permissions.",
)
_m(
    "RG6102E",
    "{file}:{line}: the Liberty configuration is not well-formed XML: {detail}.",
    "The file could not be parsed as XML, or its root element is not <server>.",
    "Fix the XML at the line shown; Liberty would refuse the file too.",
)
_m(
    "RG6103E",
    "{file}:{line}: {detail} is refused.",
    "Liberty configuration needs no DTD or entity declarations; they are refused so that "
    "no entity is ever expanded or fetched (entity bombs, external entities).",
    "Remove the declaration and write the values out, or use <variable> elements.",
)
_m(
    "RG6104E",
    "{file}:{line}: include {location!r} cannot be read: {detail}.",
    'An <include> without optional="true" names a file that does not exist or cannot be '
    "read. Liberty reports this as an error too.",
    "Correct the location (relative to the including file), or mark the include optional.",
)
_m(
    "RG6105W",
    "{file}:{line}: optional include {location!r} is skipped: {detail}.",
    'An <include optional="true"> names a file that does not exist; its definitions are '
    "not imported.",
    "Nothing to do if that is expected; otherwise correct the location.",
)
_m(
    "RG6106E",
    "{file}:{line}: include cycle: {cycle}.",
    "A file includes itself, directly or through other files.",
    "Remove one of the includes in the cycle.",
)
_m(
    "RG6107E",
    "{file}:{line}: <{element}> {id!r}: {attribute} refers to <{target}> {ref!r}, which is "
    "not defined (defined: {known}).",
    "A reference attribute (authFilterRef, trustStoreRef, keyStoreRef, sslRef) names an "
    "element id that no file defines; the definition is not imported.",
    "Correct the reference or add the missing element (ids are case-sensitive).",
)
_m(
    "RG6108W",
    "{file}:{line}: variable ${{{name}}} is not defined; the text is kept as written.",
    "The variable is not defined by a <variable>, the environment (also in upper case with "
    "'_' for other characters), bootstrap.properties or --var. Liberty also keeps the text.",
    "Define the variable, export it, or pass --var NAME=VALUE to the import.",
)
_m(
    "RG6109W",
    "{file}:{line}: <{element}> has no realmgate equivalent and is ignored ({places}): {detail}.",
    "Only <openidConnectClient>, <mpJwt>, <authFilter>, <jwtBuilder>, <keyStore>, <ssl>, "
    "<sslDefault>, <variable> and <include> are imported.",
    "Nothing to do unless the element changes how tokens are verified; see the report.",
)
_m(
    "RG6110W",
    "{file}:{line}: <{element}> {id!r} {attribute}: {detail}.",
    "The attribute is imported with a difference from Liberty, or ignored.",
    "Read the note; the import report shows what each attribute became.",
)
_m(
    "RG6111E",
    "{file}:{line}: <{element}> {id!r} {attribute}={value!r}: {detail}; not imported.",
    "The value cannot be imported faithfully (an unreadable duration or boolean, an algorithm "
    "realmgate never accepts, a feature realmgate does not have), so the definition is left "
    "out rather than imported with a different meaning.",
    "Correct the value in the XML, or edit the generated TOML by hand (use --partial to "
    "write the other definitions).",
)
_m(
    "RG6112W",
    "{file}:{line}: <keyStore> {id!r} is the SAF key ring {ring!r}, which cannot be read "
    "off z/OS; placeholder {path} written: {detail}.",
    "realmgate reads certificates from files. The generated configuration names a "
    "placeholder path and will not load until the exported certificate is there.",
    "Export the certificate as the message says, or import again with --keystore ID=FILE.",
)
_m(
    "RG6113W",
    "{file}:{line}: <{element}> {id!r} is not imported: {detail}.",
    "The definition does nothing realmgate does (for example browser sign-in only).",
    "Nothing to do if that is expected.",
)
_m(
    "RG6114E",
    "Liberty import of {file}: {count} error(s); nothing was written (--partial writes the "
    "definitions that could be imported).",
    "Definitions with errors are left out of the TOML; writing the rest silently would look "
    "complete while missing some.",
    "Fix the errors listed above, or pass --partial.",
)

# --- RG9xxx: internal faults ---------------------------------------------------------
_m(
    "RG9001S",
    "Internal error while {during}: {detail}. The request was refused.",
    "An unexpected fault occurred. The request was refused (fail closed) and the fault was "
    "logged with a short token hash.",
    "Report the message and the log record to the maintainers.",
)
