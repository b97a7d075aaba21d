// This file is the one home of every code: its name, domain, retryability,
// rule and one-line meaning and fix. docs/ERRORS.md and the code table of
// docs/PROTOCOL.md are generated from it (go test ./codes -update).

package codes

// The codes, each declared once.
const (
	TokenMalformed               = "token_malformed"
	TokenAlgorithm               = "token_algorithm"
	KidInvalid                   = "kid_invalid"
	KidDateMismatch              = "kid_date_mismatch"
	SignatureInvalid             = "signature_invalid"
	UnknownApplication           = "unknown_application"
	SubjectMismatch              = "subject_mismatch"
	UserIDInvalid                = "user_id_invalid"
	ClaimMissing                 = "claim_missing"
	ClaimInvalid                 = "claim_invalid"
	TokenExpired                 = "token_expired"
	TokenNotYetValid             = "token_not_yet_valid"
	TokenTTLTooShort             = "token_ttl_too_short"
	InstanceTTLTooShort          = "instance_ttl_too_short"
	NonceReused                  = "nonce_reused"
	SequenceNotIncreasing        = "sequence_not_increasing"
	SecretNotBase64Decoded       = "secret_not_base64_decoded"
	KeyNotDerived                = "key_not_derived"
	KidDateNotUTC                = "kid_date_not_utc"
	TimestampsInMilliseconds     = "timestamps_in_milliseconds"
	HeaderTypo                   = "header_typo"
	TokenTTLLong                 = "token_ttl_long"
	ClaimOrder                   = "claim_order"
	TypHeader                    = "typ_header"
	UnknownClaim                 = "unknown_claim"
	Valid                        = "valid"
	InstanceTTLRequired          = "instance_ttl_required"
	InstanceDeviceMismatch       = "instance_device_mismatch"
	InstanceExpired              = "instance_expired"
	InstanceNotFound             = "instance_not_found"
	InstanceReplaced             = "instance_replaced"
	InstanceTTLShortened         = "instance_ttl_shortened"
	InstanceCreationRateExceeded = "instance_creation_rate_exceeded"
	CallNotFound                 = "call_not_found"
	CallRateExceeded             = "call_rate_exceeded"
	ConcurrentCallsExceeded      = "concurrent_calls_exceeded"
	ProtocolError                = "protocol_error"
	NotAuthenticated             = "not_authenticated"
	LegacyDisabled               = "legacy_disabled"
	InternalError                = "internal_error"
	Unavailable                  = "unavailable"
	ClockSkew                    = "clock_skew"
	AlreadyStarted               = "already_started"
	Terminated                   = "terminated"
	NotStarted                   = "not_started"
	RegistrationFailed           = "registration_failed"
	NoCredentials                = "no_credentials"
	ConnectionFailed             = "connection_failed"
	PushNotEnabled               = "push_not_enabled"
	DeviceStore                  = "device_store"
	InvalidArgument              = "invalid_argument"
	InvalidCallState             = "invalid_call_state"
)

var table = []Info{
	{Code: TokenMalformed, Group: GroupCredentials, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "1",
		Meaning:     "Not three base64url parts (or over 8 KiB), or a header or payload that is not one strict JSON object: duplicate members, invalid UTF-8, padding `=`, `+`/`/`, trailing data, `typ` other than `JWT`, `crit`.",
		Fix:         "Encode each part as unpadded base64url of minified or plain JSON; emit each member once.",
		WireMeaning: "The JWT is not three base64url parts with a JSON-object header and payload."},
	{Code: TokenAlgorithm, Group: GroupCredentials, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "2",
		Meaning:     "The header's `alg` is missing or not exactly `\"HS256\"` (`none`, `HS384`, `RS256`, `hs256`, a number...).",
		Fix:         "Sign with HMAC-SHA256 and set `\"alg\":\"HS256\"`.",
		WireMeaning: "The JWT header's `alg` is not exactly `HS256`."},
	{Code: KidInvalid, Group: GroupCredentials, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "3",
		Meaning:     "`kid` is missing, not a string, or not `hkdfv1-YYYYMMDD` with a real calendar date.",
		Fix:         "Set `\"kid\":\"hkdfv1-\"` + the UTC date as 8 digits.",
		WireMeaning: "`kid` is missing or not `hkdfv1-YYYYMMDD` with a real date."},
	{Code: KidDateMismatch, Group: GroupCredentials, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "3",
		Meaning:     "The kid date is neither the UTC date of the challenge (when the client was asked for credentials) nor today's UTC date (± the leeway around midnight).",
		Fix:         "Use the current **UTC** date when the token is made, for the kid and the key alike.",
		Check:       "WARN across tokens: The kid date changed between tokens while this machine's UTC date did not. Use the UTC date.",
		WireMeaning: "The `kid` date is neither the UTC date of this connection's `welcome` nor the UTC date of now ± the leeway (30 s by default: around midnight UTC both dates are accepted)."},
	{Code: SignatureInvalid, Group: GroupCredentials, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "4, 12",
		Meaning:     "The HS256 signature does not match the key derived from the secret for the kid date (or the 32-byte signature is missing); for legacy registrations, the SHA-1 signature does not match.",
		Fix:         "Derive `signingKey = HMAC-SHA256(BASE64-DECODE(secret), \"YYYYMMDD\")` and sign with it; `sinchsim token explain` names the usual mistakes.",
		WireMeaning: "The JWT signature, the legacy signature or the authenticate proof does not match."},
	{Code: UnknownApplication, Group: GroupCredentials, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "5",
		Meaning:     "`iss` names an application key the backend does not know.",
		Fix:         "Use the application key of the secret that signs the token.",
		WireMeaning: "The application key (or the JWT's `iss`) names no known application."},
	{Code: SubjectMismatch, Group: GroupCredentials, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "5",
		Meaning:     "`sub` is not `iss + \"/users/\" + userId`, or names another user than the one registering.",
		Fix:         "Build `sub` from the same application key and the registering user's id.",
		WireMeaning: "`sub` is not `iss` + `/users/` + the connecting user."},
	{Code: UserIDInvalid, Group: GroupCredentials, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "5",
		Meaning:     "The user id is empty, longer than 255 bytes, not UTF-8, or holds a character outside `A-Z a-z 0-9 - _ =`.",
		Fix:         "Map user ids onto the allowed alphabet (e.g. base64url of a hash).",
		WireMeaning: "The user id is empty, over 255 bytes, or has a character outside `A-Z a-z 0-9 - _ =`."},
	{Code: ClaimMissing, Group: GroupCredentials, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "5–7",
		Meaning: "A required claim (`iss`, `sub`, `iat`, `exp`, `nonce`) is absent.",
		Fix:     "Add the claim; all five are required."},
	{Code: ClaimInvalid, Group: GroupCredentials, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "5–8",
		Meaning:     "A claim has the wrong JSON type or an impossible value: a time as a string, zero, negative or out of range; an empty or over-256-byte nonce; `iss` not `//rtc.sinch.com/applications/{KEY}`.",
		Fix:         "Times are JSON numbers of seconds; strings are non-empty; `iss` has the exact prefix.",
		WireMeaning: "A claim has the wrong JSON type or an impossible value."},
	{Code: TokenExpired, Group: GroupCredentials, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "6",
		Meaning:     "`exp` has passed, beyond the leeway (30 s by default).",
		Fix:         "Fetch a fresh token for each registration; check the server clock.",
		WireMeaning: "`exp` has passed, beyond the leeway: mint a new token."},
	{Code: TokenNotYetValid, Group: GroupCredentials, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "6",
		Meaning:     "`iat` (or `nbf`) lies in the future beyond the leeway; often milliseconds used as seconds.",
		Fix:         "Use seconds since 1970 (`Math.floor(Date.now()/1000)`); sync the server clock (NTP).",
		WireMeaning: "`iat` (or `nbf`) lies in the future beyond the leeway: check the auth server's clock, or `iat` and `exp` are both in milliseconds instead of seconds."},
	{Code: TokenTTLTooShort, Group: GroupCredentials, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "6",
		Meaning:     "`exp - iat` is under 60 seconds (also when only `iat` is in milliseconds: the difference is then negative).",
		Fix:         "Give the token at least a minute; 10 minutes is usual.",
		WireMeaning: "`exp - iat` is under 60 seconds; also when only `iat` is in milliseconds (the difference is then negative)."},
	{Code: InstanceTTLTooShort, Group: GroupCredentials, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "8",
		Meaning:     "`sinch:rtc:instance:exp` is under `iat` + 48 hours.",
		Fix:         "Limit instances to 48 h or more; 12 months is recommended.",
		WireMeaning: "`sinch:rtc:instance:exp` is earlier than `iat` + 48 hours."},
	{Code: NonceReused, Group: GroupCredentials, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "7",
		Meaning:     "The nonce was used before with this application while the earlier token could still be valid.",
		Fix:         "Generate a fresh random nonce (e.g. a UUID v4) for every token; never cache tokens.",
		Check:       "FAIL: Two tokens from the server carry the same nonce (or the server returned the same token twice): the second registration would be refused. A fresh random nonce per token; never cache tokens.",
		WireMeaning: "The nonce was already used while the earlier token could still be valid."},
	{Code: SequenceNotIncreasing, Group: GroupCredentials, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "12",
		Meaning:     "A legacy registration's sequence is not greater than the last one accepted for the user.",
		Fix:         "Keep the last sequence per user on the auth server and increment it for every signature.",
		WireMeaning: "Legacy: `sequence` is not greater than the last one accepted for the user."},
	{Code: SecretNotBase64Decoded, Group: GroupCredentials, Kind: "diagnosis, FAIL", Rules: "4",
		Meaning: "The key was derived from the secret's base64 **text** instead of its decoded bytes (the bug in the SDK reference's own pseudo-code).",
		Fix:     "`BASE64-DECODE(secret)` before the HMAC that derives the key."},
	{Code: KeyNotDerived, Group: GroupCredentials, Kind: "diagnosis, FAIL", Rules: "4",
		Meaning: "The token was signed with the secret itself (decoded or not) instead of the per-day derived key.",
		Fix:     "Derive the day's key first, then sign with it."},
	{Code: KidDateNotUTC, Group: GroupCredentials, Kind: "diagnosis, FAIL (WARN if accepted)", Rules: "3, 4",
		Meaning: "The kid date, or the date of the key, is a day off the UTC date of `iat`: the date was formatted in local time.",
		Fix:     "Format the date in UTC, for the kid and the key."},
	{Code: TimestampsInMilliseconds, Group: GroupCredentials, Kind: "diagnosis, FAIL for `iat`/`nbf`, WARN for `exp`/instance", Rules: "6, 8",
		Meaning: "A time claim is in milliseconds. In `iat` it gives `token_not_yet_valid` when `exp` is in milliseconds too, and `token_ttl_too_short` when `exp` is in seconds; in `exp` or `sinch:rtc:instance:exp` it is accepted but lasts for millennia.",
		Fix:     "Divide by 1000."},
	{Code: HeaderTypo, Group: GroupCredentials, Kind: "diagnosis, WARN (FAIL when it hides `alg` or `kid`)", Rules: "2, 3",
		Meaning: "The header has unexpected members: `type` for `typ`, `Kid`/`ALG` for `kid`/`alg`, or anything else.",
		Fix:     "Send exactly `{\"alg\":\"HS256\",\"kid\":\"hkdfv1-YYYYMMDD\"}` (a `typ` of `JWT` is fine)."},
	{Code: TokenTTLLong, Group: GroupCredentials, Kind: "diagnosis, WARN", Rules: "6",
		Meaning: "The token lives longer than an hour; it is single-use and should be short-lived.",
		Fix:     "Use a TTL of about 10 minutes."},
	{Code: ClaimOrder, Group: GroupCredentials, Kind: "note, PASS",
		Meaning: "Claims are not in the documentation's order. Accepted.",
		Fix:     "Nothing to fix."},
	{Code: TypHeader, Group: GroupCredentials, Kind: "note, PASS",
		Meaning: "The header carries `typ` (golang-jwt, jjwt, PyJWT and jsonwebtoken add it). Accepted.",
		Fix:     "Nothing to fix."},
	{Code: UnknownClaim, Group: GroupCredentials, Kind: "note, PASS",
		Meaning: "The payload has claims Sinch does not define. Ignored.",
		Fix:     "Nothing to fix."},
	{Code: Valid, Group: GroupCredentials, Kind: "verdict, PASS",
		Meaning: "No FAIL: with the secret, the token passed every rule; without it, every rule that needs no secret.",
		Fix:     "–"},
	{Code: InstanceTTLRequired, Group: GroupBackend, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "9",
		Meaning: "This user's instance on this device has a limited TTL, so the JWT must carry `sinch:rtc:instance:exp`.",
		Fix:     "Once a device registered with a limited TTL, every later token for that user there must carry `sinch:rtc:instance:exp`: have the auth server add it whenever the client asks for an instance TTL.",
		Check:   "FAIL (with `--instance-ttl-expected`): A token lacks `sinch:rtc:instance:exp` although a limited TTL was asked for: once a device's registration is limited, every later token must be. Add the claim whenever the request asks for an instance TTL."},
	{Code: InstanceDeviceMismatch, Group: GroupBackend, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "10",
		Meaning: "The instance is bound to another device.",
		Fix:     "Authenticate from the device the instance was created on, or register this device anew (it gets its own instance)."},
	{Code: InstanceExpired, Group: GroupBackend, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "10, 15",
		Meaning: "The instance's TTL ran out: register anew. On `callUser`: the calling connection's instance expired, so it can no longer call.",
		Fix:     "Register anew with a fresh token. To keep an instance, renew its TTL before it runs out: the client does so on its own when its listener answers the renewal's credentials request."},
	{Code: InstanceNotFound, Group: GroupBackend, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "10",
		Meaning: "No such instance for this application and user (never created, revoked, or replaced by a newer registration): register anew. In `instanceRevoked`: an administrator revoked it.",
		Fix:     "Register anew: the stored instance was never created here, was revoked, or the backend's state was reset."},
	{Code: InstanceReplaced, Group: GroupBackend, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "13",
		Meaning: "Only in `instanceRevoked`: another connection took the instance over, or a new registration of the same user and device replaced it. Do not register again automatically.",
		Fix:     "Another connection authenticated the instance, or a new registration of this user on this device replaced it. Do not take it back automatically: run one client per user and device, or Start again deliberately."},
	{Code: InstanceTTLShortened, Group: GroupBackend, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "14",
		Meaning: "`updateInstanceTtl` asked for an expiry earlier than the instance's current one: an update can only prolong an instance.",
		Fix:     "Ask for a token whose `sinch:rtc:instance:exp` is not earlier than the current expiry (a longer instance TTL, or later); the current expiry stands."},
	{Code: InstanceCreationRateExceeded, Group: GroupBackend, Kind: "rejection", Domain: DomainAPI, Retryable: true, Wire: true, Rules: "11",
		Meaning: "\"Instance creation rate exceeded\": too many creations for this user in the window; retry after `retryAfterMs`.",
		Fix:     "Wait `retryAfterMs`, then retry. Reuse the stored instance (authenticate) instead of creating one on every start."},
	{Code: CallNotFound, Group: GroupBackend, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "15",
		Meaning: "`answerCall`, `declineCall` or `hangupCall` names no call that this connection can act on that way: unknown, over, or not ringing or established here.",
		Fix:     "Act only on a call this connection got as `incomingCall` (answer, decline) or placed, and only until its `callEnded`; the call may have ended just before the request."},
	{Code: CallRateExceeded, Group: GroupBackend, Kind: "rejection", Domain: DomainAPI, Retryable: true, Wire: true, Rules: "15",
		Meaning: "The user placed the maximum number of calls within the last minute; retry after `retryAfterMs`.",
		Fix:     "Wait `retryAfterMs`, then call again; place fewer calls per user (the limit is `serve --calls-per-minute`)."},
	{Code: ConcurrentCallsExceeded, Group: GroupBackend, Kind: "rejection", Domain: DomainAPI, Retryable: true, Wire: true, Rules: "15",
		Meaning: "The user already takes part in the maximum number of calls at once; retry when one has ended.",
		Fix:     "Hang up a call first, or retry when one has ended (the limit is `serve --max-concurrent-calls`)."},
	{Code: ProtocolError, Group: GroupBackend, Kind: "rejection", Domain: DomainHTTP, Wire: true,
		Meaning: "The message is not valid protocol v1 (see [Message format](PROTOCOL.md#message-format)); the message says why.",
		Fix:     "A bug in the sender: compare the message with PROTOCOL.md (the error names the member at fault) and do not retry it unchanged."},
	{Code: NotAuthenticated, Group: GroupBackend, Kind: "rejection", Domain: DomainAPI, Wire: true,
		Meaning: "The request needs a connection bound to an instance (after `instanceCreated` or `authenticated`).",
		Fix:     "Send the request only after `instanceCreated` or `authenticated` on the same connection."},
	{Code: LegacyDisabled, Group: GroupBackend, Kind: "rejection", Domain: DomainAPI, Wire: true, Rules: "12",
		Meaning: "`legacyRegister` is switched off on this server.",
		Fix:     "Register with a JWT (`createInstance`), or run the backend without `--legacy=false`."},
	{Code: InternalError, Group: GroupBackend, Kind: "rejection", Domain: DomainNetwork, Retryable: true, Wire: true,
		Meaning: "The server failed unexpectedly; retry with backoff.",
		Fix:     "Retry with backoff; if it persists, read the backend's log."},
	{Code: Unavailable, Group: GroupBackend, Kind: "rejection", Domain: DomainNetwork, Retryable: true, Wire: true,
		Meaning: "The server is shutting down, or a fault was injected; retry with backoff.",
		Fix:     "Retry with backoff, no sooner than `retryAfterMs`; look for an armed fault (`GET /admin/faults`), a backend shutting down, or replicas whose Redis does not answer (docs/SCALING.md)."},
	{Code: ClockSkew, Group: GroupCheck, Kind: "WARN beyond 5 s, FAIL when it makes the token not yet valid or expired",
		Meaning: "`iat` differs from this machine's clock.",
		Fix:     "Sync the auth server's clock (NTP)."},
	{Code: AlreadyStarted, Group: GroupClient, Kind: "client", Domain: DomainGeneric,
		Meaning: "Start on a client that is not idle or failed, or EnableManagedPush after Start.",
		Fix:     "Call Start once; after OnClientFailed, Start again. Enable managed push before Start."},
	{Code: Terminated, Group: GroupClient, Kind: "client", Domain: DomainGeneric,
		Meaning: "The client was terminated and cannot be used again.",
		Fix:     "Build a new client (with the same device store to keep the instance)."},
	{Code: NotStarted, Group: GroupClient, Kind: "client", Domain: DomainGeneric,
		Meaning: "The operation needs a started client.",
		Fix:     "Call Start and wait for OnClientStarted (WaitStarted)."},
	{Code: RegistrationFailed, Group: GroupClient, Kind: "client", Domain: DomainGeneric,
		Meaning: "No registration token could be obtained: the application answered RegisterFailed, or the credentials provider failed.",
		Fix:     "Look at the wrapped error: the auth server's answer or the provider's failure."},
	{Code: NoCredentials, Group: GroupClient, Kind: "client", Domain: DomainGeneric,
		Meaning: "Credentials are required but there is neither a provider nor a listener to ask.",
		Fix:     "Set WithCredentialsProvider or a Listener that answers OnCredentialsRequired."},
	{Code: ConnectionFailed, Group: GroupClient, Kind: "client", Domain: DomainNetwork, Retryable: true,
		Meaning: "The backend could not be reached, or the connection was lost (after the reconnect limit, the client fails).",
		Fix:     "Check the URL and that the backend runs; raise WithReconnectLimit for flaky networks."},
	{Code: PushNotEnabled, Group: GroupClient, Kind: "client", Domain: DomainGeneric,
		Meaning: "A push call before EnableManagedPush.",
		Fix:     "Call EnableManagedPush before Start."},
	{Code: DeviceStore, Group: GroupClient, Kind: "client", Domain: DomainGeneric,
		Meaning: "Loading or saving the device record failed.",
		Fix:     "Look at the wrapped error: the directory's permissions or disk space."},
	{Code: InvalidArgument, Group: GroupClient, Kind: "client", Domain: DomainGeneric,
		Meaning: "An argument to client.New or a client method is invalid (an empty application key or push token, a malformed environment URL, call headers over their limit).",
		Fix:     "Pass the application key, a host:port or ws:// URL, a non-empty push token, and at most 16 call headers of 1024 bytes in all."},
	{Code: InvalidCallState, Group: GroupClient, Kind: "client", Domain: DomainGeneric,
		Meaning: "Answer or Decline of a call that is not an incoming call ringing on this client, or that is already being answered or declined.",
		Fix:     "Answer or decline a call from OnIncomingCall while its State is ringing; Hangup ends any call."},
}
