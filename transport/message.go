package transport

import "time"

// Protocol is the protocol version this package speaks; the server states its
// version in [Welcome.Protocol].
const Protocol = 1

// Message types: the value of the "type" member of each message.
const (
	TypeWelcome               = "welcome"               // server greeting, first message
	TypeCreateInstance        = "createInstance"        // request: register a new instance with a JWT
	TypeInstanceCreated       = "instanceCreated"       // answer to createInstance and legacyRegister
	TypeAuthenticate          = "authenticate"          // request: bind to an existing instance
	TypeAuthenticated         = "authenticated"         // answer to authenticate
	TypeUpdateInstanceTTL     = "updateInstanceTtl"     // request: prolong the bound instance
	TypeInstanceTTLUpdated    = "instanceTtlUpdated"    // answer to updateInstanceTtl
	TypeLegacyRegister        = "legacyRegister"        // request: register with the legacy signature
	TypeRegisterPushToken     = "registerPushToken"     // request: store a push token
	TypePushTokenRegistered   = "pushTokenRegistered"   // answer to registerPushToken
	TypeUnregisterPushToken   = "unregisterPushToken"   // request: remove the push token
	TypePushTokenUnregistered = "pushTokenUnregistered" // answer to unregisterPushToken
	TypeError                 = "error"                 // answer refusing a request
	TypeInstanceRevoked       = "instanceRevoked"       // unsolicited: the bound instance is gone
	TypeCallUser              = "callUser"              // request: call another user
	TypeCallProgressing       = "callProgressing"       // answer to callUser: the call exists
	TypeIncomingCall          = "incomingCall"          // unsolicited: a call rings on this connection
	TypeAnswerCall            = "answerCall"            // request: answer a ringing call
	TypeDeclineCall           = "declineCall"           // request: decline a ringing call
	TypeHangupCall            = "hangupCall"            // request: end a call
	TypeCallEstablished       = "callEstablished"       // the call was answered (answer to answerCall, or unsolicited)
	TypeCallEnded             = "callEnded"             // the call ended (answer to declineCall or hangupCall, or unsolicited)
)

// MaxIDLen is the longest request id; an id is 1..MaxIDLen bytes of
// printable ASCII other than space (0x21-0x7E).
const MaxIDLen = 64

// Message is one protocol v1 message. The set is closed: the concrete types
// are the pointer types declared in this package (*Welcome, *CreateInstance,
// ...). Switch on the type to handle one:
//
//	switch m := m.(type) {
//	case *transport.CreateInstance: ...
//	}
type Message interface {
	// MessageType returns the "type" member, one of the Type* constants.
	MessageType() string
	// fields describes the message's members to the codec, in wire order.
	fields(c *codec)
}

// Request is a message the client sends and the server answers with a
// [Reply] carrying the same id.
type Request interface {
	Message
	// RequestID returns the client-chosen id.
	RequestID() string
	isRequest()
}

// Reply is the server's answer to a [Request]: a success message or an
// [ErrorMessage]. RequestID echoes the request's id ("" for an error that is
// not tied to a request).
type Reply interface {
	Message
	// RequestID returns the id of the request this answers.
	RequestID() string
	isReply()
}

// Instance is a registered, device-bound instance as the server hands it out
// once, on creation.
type Instance struct {
	ID       string
	Secret   string    // base64url (no padding) of 32 random bytes; see Proof
	DeviceID string    // the device the instance is bound to
	ExpireAt time.Time // zero: unlimited TTL (null on the wire)
	// Capabilities the instance was registered with.
	Capabilities []string
}

// Welcome is the server's first message on every connection.
type Welcome struct {
	Protocol   int       // protocol version; this package speaks [Protocol]
	Challenge  string    // base64url (no padding) of 32 random bytes; see Proof
	ServerTime time.Time // the server's clock, second precision, UTC
}

// CreateInstance registers a new instance for a user on a device with a
// registration token (JWT). Answered by [InstanceCreated]; on success the
// connection is bound to the new instance.
type CreateInstance struct {
	ID             string
	ApplicationKey string
	UserID         string
	DeviceID       string
	Capabilities   []string
	SDKVersion     string
	JWT            string
}

// InstanceCreated answers [CreateInstance] and [LegacyRegister].
type InstanceCreated struct {
	ID       string
	Instance Instance
}

// Authenticate binds the connection to an existing instance by proving
// possession of its secret (see [Proof]). Answered by [Authenticated].
type Authenticate struct {
	ID             string
	ApplicationKey string
	UserID         string
	InstanceID     string
	DeviceID       string
	Proof          string
}

// Authenticated answers [Authenticate].
type Authenticated struct {
	ID           string
	InstanceID   string
	ExpireAt     time.Time // zero: unlimited TTL
	Capabilities []string
	PushToken    string // omitted on the wire when none is registered
}

// UpdateInstanceTTL prolongs the bound instance's life with a JWT carrying a
// new sinch:rtc:instance:exp. Answered by [InstanceTTLUpdated].
type UpdateInstanceTTL struct {
	ID  string
	JWT string
}

// InstanceTTLUpdated answers [UpdateInstanceTTL] with the new expiry.
type InstanceTTLUpdated struct {
	ID         string
	InstanceID string
	ExpireAt   time.Time // zero: unlimited TTL
}

// LegacyRegister registers a new instance with the legacy signature and
// sequence scheme. Answered by [InstanceCreated].
type LegacyRegister struct {
	ID             string
	ApplicationKey string
	UserID         string
	DeviceID       string
	Capabilities   []string
	SDKVersion     string
	Signature      string
	Sequence       uint64
}

// RegisterPushToken stores a push device token with the bound instance
// (managed push). Answered by [PushTokenRegistered].
type RegisterPushToken struct {
	ID        string
	PushToken string
	PushType  string // optional, e.g. "fcm" or "apns"
}

// PushTokenRegistered answers [RegisterPushToken].
type PushTokenRegistered struct {
	ID         string
	InstanceID string
}

// UnregisterPushToken removes the bound instance's push token. Answered by
// [PushTokenUnregistered].
type UnregisterPushToken struct {
	ID string
}

// PushTokenUnregistered answers [UnregisterPushToken].
type PushTokenUnregistered struct {
	ID         string
	InstanceID string
}

// ErrorMessage answers any request the server refuses, or reports a problem
// not tied to a request (ID "").
type ErrorMessage struct {
	ID    string
	Error Error
}

// InstanceRevoked tells the client that its connection is no longer bound to
// the instance: Code is CodeInstanceExpired (its TTL ran out),
// CodeInstanceNotFound (an admin revoked it) or CodeInstanceReplaced
// (another connection took the instance over, or a new registration of the
// same user and device replaced it). The connection stays open.
type InstanceRevoked struct {
	InstanceID string
	Code       string
	Message    string
}

// MessageType implements Message.
func (*Welcome) MessageType() string { return TypeWelcome }

// MessageType implements Message.
func (*CreateInstance) MessageType() string { return TypeCreateInstance }

// MessageType implements Message.
func (*InstanceCreated) MessageType() string { return TypeInstanceCreated }

// MessageType implements Message.
func (*Authenticate) MessageType() string { return TypeAuthenticate }

// MessageType implements Message.
func (*Authenticated) MessageType() string { return TypeAuthenticated }

// MessageType implements Message.
func (*UpdateInstanceTTL) MessageType() string { return TypeUpdateInstanceTTL }

// MessageType implements Message.
func (*InstanceTTLUpdated) MessageType() string { return TypeInstanceTTLUpdated }

// MessageType implements Message.
func (*LegacyRegister) MessageType() string { return TypeLegacyRegister }

// MessageType implements Message.
func (*RegisterPushToken) MessageType() string { return TypeRegisterPushToken }

// MessageType implements Message.
func (*PushTokenRegistered) MessageType() string { return TypePushTokenRegistered }

// MessageType implements Message.
func (*UnregisterPushToken) MessageType() string { return TypeUnregisterPushToken }

// MessageType implements Message.
func (*PushTokenUnregistered) MessageType() string { return TypePushTokenUnregistered }

// MessageType implements Message.
func (*ErrorMessage) MessageType() string { return TypeError }

// MessageType implements Message.
func (*InstanceRevoked) MessageType() string { return TypeInstanceRevoked }

// RequestID implements Request.
func (m *CreateInstance) RequestID() string { return m.ID }

// RequestID implements Request.
func (m *Authenticate) RequestID() string { return m.ID }

// RequestID implements Request.
func (m *UpdateInstanceTTL) RequestID() string { return m.ID }

// RequestID implements Request.
func (m *LegacyRegister) RequestID() string { return m.ID }

// RequestID implements Request.
func (m *RegisterPushToken) RequestID() string { return m.ID }

// RequestID implements Request.
func (m *UnregisterPushToken) RequestID() string { return m.ID }

// RequestID implements Reply.
func (m *InstanceCreated) RequestID() string { return m.ID }

// RequestID implements Reply.
func (m *Authenticated) RequestID() string { return m.ID }

// RequestID implements Reply.
func (m *InstanceTTLUpdated) RequestID() string { return m.ID }

// RequestID implements Reply.
func (m *PushTokenRegistered) RequestID() string { return m.ID }

// RequestID implements Reply.
func (m *PushTokenUnregistered) RequestID() string { return m.ID }

// RequestID implements Reply.
func (m *ErrorMessage) RequestID() string { return m.ID }

func (*CreateInstance) isRequest()      {}
func (*Authenticate) isRequest()        {}
func (*UpdateInstanceTTL) isRequest()   {}
func (*LegacyRegister) isRequest()      {}
func (*RegisterPushToken) isRequest()   {}
func (*UnregisterPushToken) isRequest() {}

func (*InstanceCreated) isReply()       {}
func (*Authenticated) isReply()         {}
func (*InstanceTTLUpdated) isReply()    {}
func (*PushTokenRegistered) isReply()   {}
func (*PushTokenUnregistered) isReply() {}
func (*ErrorMessage) isReply()          {}

// Members of each message, in wire order. One description serves Encode and
// Decode, so the two cannot drift apart.

func (m *Welcome) fields(c *codec) {
	c.protocol("protocol", &m.Protocol)
	c.str("challenge", &m.Challenge, required)
	c.time("serverTime", &m.ServerTime, required)
}

func (m *Instance) fields(c *codec) {
	c.str("id", &m.ID, required)
	c.str("secret", &m.Secret, required)
	c.str("deviceId", &m.DeviceID, required)
	c.time("expireAt", &m.ExpireAt, optional)
	c.strs("capabilities", &m.Capabilities)
}

func (m *CreateInstance) fields(c *codec) {
	c.id(&m.ID, required)
	c.str("applicationKey", &m.ApplicationKey, required)
	c.str("userId", &m.UserID, required)
	c.str("deviceId", &m.DeviceID, required)
	c.strs("capabilities", &m.Capabilities)
	c.str("sdkVersion", &m.SDKVersion, required)
	c.str("jwt", &m.JWT, required)
}

func (m *InstanceCreated) fields(c *codec) {
	c.id(&m.ID, required)
	c.object("instance", &m.Instance)
}

func (m *Authenticate) fields(c *codec) {
	c.id(&m.ID, required)
	c.str("applicationKey", &m.ApplicationKey, required)
	c.str("userId", &m.UserID, required)
	c.str("instanceId", &m.InstanceID, required)
	c.str("deviceId", &m.DeviceID, required)
	c.str("proof", &m.Proof, required)
}

func (m *Authenticated) fields(c *codec) {
	c.id(&m.ID, required)
	c.str("instanceId", &m.InstanceID, required)
	c.time("expireAt", &m.ExpireAt, optional)
	c.strs("capabilities", &m.Capabilities)
	c.str("pushToken", &m.PushToken, optional)
}

func (m *UpdateInstanceTTL) fields(c *codec) {
	c.id(&m.ID, required)
	c.str("jwt", &m.JWT, required)
}

func (m *InstanceTTLUpdated) fields(c *codec) {
	c.id(&m.ID, required)
	c.str("instanceId", &m.InstanceID, required)
	c.time("expireAt", &m.ExpireAt, optional)
}

func (m *LegacyRegister) fields(c *codec) {
	c.id(&m.ID, required)
	c.str("applicationKey", &m.ApplicationKey, required)
	c.str("userId", &m.UserID, required)
	c.str("deviceId", &m.DeviceID, required)
	c.strs("capabilities", &m.Capabilities)
	c.str("sdkVersion", &m.SDKVersion, required)
	c.str("signature", &m.Signature, required)
	c.uint64("sequence", &m.Sequence)
}

func (m *RegisterPushToken) fields(c *codec) {
	c.id(&m.ID, required)
	c.str("pushToken", &m.PushToken, required)
	c.str("pushType", &m.PushType, optional)
}

func (m *PushTokenRegistered) fields(c *codec) {
	c.id(&m.ID, required)
	c.str("instanceId", &m.InstanceID, required)
}

func (m *UnregisterPushToken) fields(c *codec) {
	c.id(&m.ID, required)
}

func (m *PushTokenUnregistered) fields(c *codec) {
	c.id(&m.ID, required)
	c.str("instanceId", &m.InstanceID, required)
}

func (m *ErrorMessage) fields(c *codec) {
	c.id(&m.ID, optional)
	c.object("error", errorFields{&m.Error})
}

// errorFields describes an Error's fields to the codec (Error is
// codes.Error, which has no method of this package's).
type errorFields struct{ e *Error }

func (f errorFields) fields(c *codec) {
	e := f.e
	c.str("code", &e.Code, nonEmpty)
	c.domain("domain", &e.Domain)
	c.str("message", &e.Message, required)
	c.boolean("retryable", &e.Retryable)
	c.int64("retryAfterMs", &e.RetryAfterMs)
}

func (m *InstanceRevoked) fields(c *codec) {
	c.str("instanceId", &m.InstanceID, required)
	c.str("code", &m.Code, nonEmpty)
	c.str("message", &m.Message, required)
}

// newMessage returns a zero message of the given type, or nil.
func newMessage(typ []byte) Message {
	switch string(typ) {
	case TypeWelcome:
		return new(Welcome)
	case TypeCreateInstance:
		return new(CreateInstance)
	case TypeInstanceCreated:
		return new(InstanceCreated)
	case TypeAuthenticate:
		return new(Authenticate)
	case TypeAuthenticated:
		return new(Authenticated)
	case TypeUpdateInstanceTTL:
		return new(UpdateInstanceTTL)
	case TypeInstanceTTLUpdated:
		return new(InstanceTTLUpdated)
	case TypeLegacyRegister:
		return new(LegacyRegister)
	case TypeRegisterPushToken:
		return new(RegisterPushToken)
	case TypePushTokenRegistered:
		return new(PushTokenRegistered)
	case TypeUnregisterPushToken:
		return new(UnregisterPushToken)
	case TypePushTokenUnregistered:
		return new(PushTokenUnregistered)
	case TypeError:
		return new(ErrorMessage)
	case TypeInstanceRevoked:
		return new(InstanceRevoked)
	case TypeCallUser:
		return new(CallUser)
	case TypeCallProgressing:
		return new(CallProgressing)
	case TypeIncomingCall:
		return new(IncomingCall)
	case TypeAnswerCall:
		return new(AnswerCall)
	case TypeDeclineCall:
		return new(DeclineCall)
	case TypeHangupCall:
		return new(HangupCall)
	case TypeCallEstablished:
		return new(CallEstablished)
	case TypeCallEnded:
		return new(CallEnded)
	}
	return nil
}
