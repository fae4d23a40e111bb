"""Messages RG6xxx: configuration, trace specifications (RG62xx) and the Liberty import
(RG61xx). Loaded by :mod:`realmgate.messages`.
"""

from __future__ import annotations

from realmgate.catalogue import define

# --- RG6xxx: configuration -----------------------------------------------------------
define(
    "RG6001E",
    "Cannot read configuration file {file}: {detail}.",
    "The configuration file is missing or unreadable.",
    "Pass --config with the right path, or set REALMGATE_CONFIG.",
)
define(
    "RG6002E",
    "{file}:{line}: configuration is not valid TOML: {detail}.",
    "The file could not be parsed as TOML.",
    "Fix the syntax at the line shown.",
)
define(
    "RG6003E",
    "{file}:{line}: unknown setting {key!r} in {table}{hint}.",
    "Unknown settings are refused rather than ignored, because a misspelt security setting "
    "would otherwise silently fall back to its default.",
    "Correct the spelling; 'realmgate check' lists the known settings.",
)
define(
    "RG6004E",
    "{file}:{line}: {key} in {table}: {detail}.",
    "A setting has a value of the wrong type or out of range.",
    "Correct the value as described.",
)
define(
    "RG6005E",
    "{file}:{line}: algorithm {alg!r} in {table} is not accepted: {detail}.",
    "Algorithms come from an explicit list: RS256/384/512, PS256/384/512, ES256/384/512, "
    "EdDSA, HS256/384/512. 'none' is never accepted.",
    "Use one of the listed algorithms.",
)
define(
    "RG6006E",
    "{file}:{line}: key file {path} for {table} cannot be used: {detail}.",
    "A trust store, key or certificate file named in the configuration is missing, "
    "unreadable, or not in a supported format.",
    "Check the path (relative paths are relative to the configuration file) and format.",
)
define(
    "RG6007E",
    "{file}:{line}: duplicate id {id!r}; first defined at line {first_line}.",
    "Definition and filter ids must be unique.",
    "Rename one of them.",
)
define(
    "RG6008E",
    "{file}:{line}: trust_alias {alias!r} is not in trust store {path}; aliases "
    "there: {available}.",
    "trust_alias names the certificate or key (PKCS#12 friendly name, PEM file stem, or JWK "
    "kid) to trust, like Liberty's trustAliasName.",
    "Use one of the aliases listed ('realmgate keys show' lists them), or import the "
    "certificate under that alias.",
)
define(
    "RG6009E",
    "{file}:{line}: {table} is missing the required setting {key!r}.",
    "This setting has no safe default.",
    "Add the setting.",
)
define(
    "RG6010E",
    "{file}:{line}: {table} refers to auth_filter {ref!r}, which is not defined.",
    "auth_filter must name the id of an [[auth_filter]] table.",
    "Define the filter or correct the reference.",
)
define(
    "RG6011E",
    "{file}:{line}: {detail}.",
    "The definition's key material could not be unlocked (for example the PKCS#12 password "
    "variable is not set, or the password is wrong).",
    "Set the environment variable named by trust_store_password_env to the right password.",
)
define(
    "RG6012E",
    "{file}:{line}: condition in auth_filter {filter!r} is not acceptable: {detail}.",
    "Filter conditions take a kind (remote_address, request_url, host, user_agent, "
    "request_header, cookie), a match type (equals, contains, not_contains; greater_than and "
    "less_than for addresses) and a value; IP patterns follow Liberty's rules (after the "
    "first '*' or range every later part must be '*').",
    "Correct the condition as described.",
)
define(
    "RG6013E",
    "{file}:{line}: definitions {clients} share issuer {iss!r} and more than one "
    "has use_issuer = true.",
    "At most one definition per issuer may serve issuer-based selection. WebSphere silently "
    "disabled all of them in this case; realmgate refuses the configuration instead.",
    "Set use_issuer = true on exactly one of them (or allow_issuer_selection on the one "
    "that should win).",
)
define(
    "RG6014E",
    "{file}:{line}: {table} sets {keys} together; choose one.",
    "Some settings exclude each other (for example two key sources, or realm with realm_claim).",
    "Keep only one of them.",
)
define(
    "RG6020E",
    "Configuration {file} refused: {count} problem(s); the previous configuration "
    "(if any) stays in force.",
    "All problems are reported at once; the configuration is loaded only when there are none.",
    "Fix each problem listed above it.",
)
define(
    "RG6050W",
    "Definitions {clients} overlap: the same issuer {iss!r} and filters that can "
    "both accept one request; {first} wins because it comes first.",
    "When several definitions can handle a token, the first in file order is used; the "
    "others never see those tokens.",
    "Give the definitions disjoint filters or issuers, or remove the unused one.",
)
define(
    "RG6051W",
    "The same key {fingerprint} is trusted for several issuers: {issuers}.",
    "One key trusted under several issuers lets whoever holds it speak for all of them (the "
    "blog's 'one certificate for two purposes' lesson).",
    "Use a separate key per issuer.",
)
define(
    "RG6052W",
    "Definition {client} accepts any request and any audience.",
    'A definition without a filter and with audiences = "any" accepts tokens from its '
    "issuers for every route and every audience.",
    "Add an auth_filter or list the audiences.",
)
define(
    "RG6053W",
    "Definition {client}: the shared secret in {env} is {length} bytes, shorter "
    "than the {bits}-bit hash of {alg}.",
    "RFC 7518 section 3.2 requires an HMAC key at least as long as the hash output.",
    "Use a random secret of at least {min_bytes} bytes.",
)
define(
    "RG6054W",
    "Definition {client}: key {kid!r} is a {bits}-bit RSA key; tokens it signs "
    "will be refused (minimum 2048).",
    "RSA keys shorter than 2048 bits are refused at verification time.",
    "Replace the key with a 2048-bit or larger one.",
)
define(
    "RG6055W",
    "Definition {client} sets clock_skew to {skew}s (over 300s).",
    "A large clock skew extends every token's life by that much.",
    "Fix the clocks (NTP) and keep clock_skew at 300 s or less.",
)
define(
    "RG6056W",
    "Definition {client} lists no audiences; tokens are accepted for any audience.",
    "Without an audience check a token issued for another service can be replayed here.",
    'List the audiences, or write audiences = "any" to make the choice explicit.',
)

# --- RG62xx: trace specifications (tracespec.py) ---------------------------------------
define(
    "RG6201W",
    "Trace specification clause {clause!r}: unknown level {level!r}; the clause is ignored.",
    "The level of a clause name=level[=enabled|disabled] must be one of, most to least "
    "verbose: all, finest, finer, fine, detail, config, info, audit, warning, severe, "
    "fatal, off (aliases dump, debug, entryExit, event, error; any letter case). Liberty "
    "reports this as TRACE_STRING_BAD_LEVEL.",
    "Correct the level in the clause; the other clauses are in force.",
)
define(
    "RG6202W",
    "Trace specification clause {clause!r}: {action!r} is not enabled, disabled, on or "
    "off; the clause is ignored.",
    "The optional third field of a clause says whether the level is switched on "
    "(enabled, on) or off (disabled, off). Liberty reports this as "
    "TRACE_STRING_BAD_ACTION.",
    "Write name=level, name=level=enabled or name=level=disabled.",
)
define(
    "RG6203I",
    "Trace specification clause {clause!r} matches no logger under {root}; it has no "
    "effect. Known loggers: {known}.",
    "A clause names a logger or a prefix ending in '*'. This one matches none of the "
    "loggers realmgate uses (for example a Liberty package name such as "
    "com.ibm.ws.security.* pasted from server.xml). Liberty reports this as "
    "UNKNOWN_TRACE_SPEC.",
    "Use one of the known logger names, or '*' for all of them.",
)
define(
    "RG6204W",
    "Trace specification clause {clause!r} has {fields} '='-separated fields, at most 3 "
    "(name=level=enabled); the clause is ignored.",
    "Clauses are separated by ':' and each has at most three fields separated by '='.",
    "Check for a missing ':' between two clauses.",
)

# --- RG61xx: Liberty server.xml import (liberty/) -- issue 7 ------------------------
define(
    "RG6101E",
    "Cannot read the Liberty configuration {file}: {detail}.",
    "The server.xml (or an included file) is missing, unreadable or too large.",
    "Check the path and permissions.",
)
define(
    "RG6102E",
    "{file}:{line}: the Liberty configuration is not well-formed XML: {detail}.",
    "The file could not be parsed as XML, or its root element is not <server>.",
    "Fix the XML at the line shown; Liberty would refuse the file too.",
)
define(
    "RG6103E",
    "{file}:{line}: {detail} is refused.",
    "Liberty configuration needs no DTD or entity declarations; they are refused so that "
    "no entity is ever expanded or fetched (entity bombs, external entities).",
    "Remove the declaration and write the values out, or use <variable> elements.",
)
define(
    "RG6104E",
    "{file}:{line}: include {location!r} cannot be read: {detail}.",
    'An <include> without optional="true" names a file that does not exist or cannot be '
    "read. Liberty reports this as an error too.",
    "Correct the location (relative to the including file), or mark the include optional.",
)
define(
    "RG6105W",
    "{file}:{line}: optional include {location!r} is skipped: {detail}.",
    'An <include optional="true"> names a file that does not exist; its definitions are '
    "not imported.",
    "Nothing to do if that is expected; otherwise correct the location.",
)
define(
    "RG6106E",
    "{file}:{line}: include cycle: {cycle}.",
    "A file includes itself, directly or through other files.",
    "Remove one of the includes in the cycle.",
)
define(
    "RG6107E",
    "{file}:{line}: <{element}> {id!r}: {attribute} refers to <{target}> {ref!r}, which is "
    "not defined (defined: {known}).",
    "A reference attribute (authFilterRef, trustStoreRef, keyStoreRef, sslRef) names an "
    "element id that no file defines; the definition is not imported.",
    "Correct the reference or add the missing element (ids are case-sensitive).",
)
define(
    "RG6108W",
    "{file}:{line}: variable ${{{name}}} is not defined; the text is kept as written.",
    "The variable is not defined by a <variable>, the environment (also in upper case with "
    "'_' for other characters), bootstrap.properties or --var. Liberty also keeps the text.",
    "Define the variable, export it, or pass --var NAME=VALUE to the import.",
)
define(
    "RG6109W",
    "{file}:{line}: <{element}> has no realmgate equivalent and is ignored ({places}): {detail}.",
    "Only <openidConnectClient>, <mpJwt>, <authFilter>, <jwtBuilder>, <keyStore>, <ssl>, "
    "<sslDefault>, <variable> and <include> are imported.",
    "Nothing to do unless the element changes how tokens are verified; see the report.",
)
define(
    "RG6110W",
    "{file}:{line}: <{element}> {id!r} {attribute}: {detail}.",
    "The attribute is imported with a difference from Liberty, or ignored.",
    "Read the note; the import report shows what each attribute became.",
)
define(
    "RG6111E",
    "{file}:{line}: <{element}> {id!r} {attribute}={value!r}: {detail}; not imported.",
    "The value cannot be imported faithfully (an unreadable duration or boolean, an algorithm "
    "realmgate never accepts, a feature realmgate does not have), so the definition is left "
    "out rather than imported with a different meaning.",
    "Correct the value in the XML, or edit the generated TOML by hand (use --partial to "
    "write the other definitions).",
)
define(
    "RG6112W",
    "{file}:{line}: <keyStore> {id!r} is the SAF key ring {ring!r}, which cannot be read "
    "off z/OS; placeholder {path} written: {detail}.",
    "realmgate reads certificates from files. The generated configuration names a "
    "placeholder path and will not load until the exported certificate is there.",
    "Export the certificate as the message says, or import again with --keystore ID=FILE.",
)
define(
    "RG6113W",
    "{file}:{line}: <{element}> {id!r} is not imported: {detail}.",
    "The definition does nothing realmgate does (for example browser sign-in only).",
    "Nothing to do if that is expected.",
)
define(
    "RG6114E",
    "Liberty import of {file}: {count} error(s); nothing was written (--partial writes the "
    "definitions that could be imported).",
    "Definitions with errors are left out of the TOML; writing the rest silently would look "
    "complete while missing some.",
    "Fix the errors listed above, or pass --partial.",
)
