package transport

// The call signalling messages (callUser to callEnded), each with its
// fields, beside the registration messages of message.go.

// Reasons a call ends, carried in [CallEnded.Reason].
const (
	EndDeclined          = "declined"           // the callee declined
	EndHungUp            = "hung_up"            // a party hung up an established call
	EndNoAnswer          = "no_answer"          // nobody answered within the backend's answer timeout
	EndCanceled          = "canceled"           // the caller hung up before an answer; or, on the callee's other connections, another one answered
	EndCalleeUnavailable = "callee_unavailable" // no live instance of the callee can ring
	EndInstanceExpired   = "instance_expired"   // a party's instance expired during the call
)

// EndReasons returns every reason of [CallEnded], in the order of
// docs/PROTOCOL.md.
func EndReasons() []string {
	return []string{EndDeclined, EndHungUp, EndNoAnswer, EndCanceled, EndCalleeUnavailable, EndInstanceExpired}
}

// CallUser calls another user of the application (signalling only: there
// is no media). Answered by [CallProgressing] or an [ErrorMessage]; the call
// then rings on the callee's connections ([IncomingCall]).
type CallUser struct {
	ID           string
	CalleeUserID string
	// Headers travel to the callee unchanged; nil or empty is omitted on
	// the wire. docs/PROTOCOL.md gives their size limit.
	Headers map[string]string
}

// CallProgressing answers [CallUser]: the call exists and has the id CallID.
// Its end arrives as [CallEnded] (at once with callee_unavailable when no
// instance of the callee can ring).
type CallProgressing struct {
	ID     string
	CallID string
}

// IncomingCall tells a connection of the callee that a call rings.
type IncomingCall struct {
	CallID       string
	CallerUserID string
	Headers      map[string]string // nil when the caller sent none
}

// AnswerCall answers a ringing call. Answered by [CallEstablished] (sent to
// the caller too) or an [ErrorMessage].
type AnswerCall struct {
	ID     string
	CallID string
}

// DeclineCall declines a ringing call. Answered by [CallEnded] with reason
// declined (sent to the caller too) or an [ErrorMessage].
type DeclineCall struct {
	ID     string
	CallID string
}

// HangupCall ends a call: the caller cancels a ringing call or hangs up an
// established one; the callee hangs up an established call, or declines a
// ringing one. Answered by [CallEnded] (sent to the other party too) or an
// [ErrorMessage].
type HangupCall struct {
	ID     string
	CallID string
}

// CallEstablished says that the call was answered. ID echoes the
// [AnswerCall] on the connection that answered; it is "" on the caller's.
type CallEstablished struct {
	ID     string
	CallID string
}

// CallEnded says that the call is over, and why (one of the End* reasons).
// ID echoes the [DeclineCall] or [HangupCall] on the connection that sent
// it; it is "" elsewhere.
type CallEnded struct {
	ID     string
	CallID string
	Reason string
}

// MessageType implements Message.
func (*CallUser) MessageType() string { return TypeCallUser }

// MessageType implements Message.
func (*CallProgressing) MessageType() string { return TypeCallProgressing }

// MessageType implements Message.
func (*IncomingCall) MessageType() string { return TypeIncomingCall }

// MessageType implements Message.
func (*AnswerCall) MessageType() string { return TypeAnswerCall }

// MessageType implements Message.
func (*DeclineCall) MessageType() string { return TypeDeclineCall }

// MessageType implements Message.
func (*HangupCall) MessageType() string { return TypeHangupCall }

// MessageType implements Message.
func (*CallEstablished) MessageType() string { return TypeCallEstablished }

// MessageType implements Message.
func (*CallEnded) MessageType() string { return TypeCallEnded }

// RequestID implements Request.
func (m *CallUser) RequestID() string { return m.ID }

// RequestID implements Request.
func (m *AnswerCall) RequestID() string { return m.ID }

// RequestID implements Request.
func (m *DeclineCall) RequestID() string { return m.ID }

// RequestID implements Request.
func (m *HangupCall) RequestID() string { return m.ID }

// RequestID implements Reply.
func (m *CallProgressing) RequestID() string { return m.ID }

// RequestID implements Reply ("" when the message is not an answer).
func (m *CallEstablished) RequestID() string { return m.ID }

// RequestID implements Reply ("" when the message is not an answer).
func (m *CallEnded) RequestID() string { return m.ID }

func (*CallUser) isRequest() {}

func (*AnswerCall) isRequest() {}

func (*DeclineCall) isRequest() {}

func (*HangupCall) isRequest() {}

func (*CallProgressing) isReply() {}

func (*CallEstablished) isReply() {}

func (*CallEnded) isReply() {}

func (m *CallUser) fields(c *codec) {
	c.id(&m.ID, required)
	c.str("calleeUserId", &m.CalleeUserID, required)
	c.strMap("headers", &m.Headers)
}

func (m *CallProgressing) fields(c *codec) {
	c.id(&m.ID, required)
	c.str("callId", &m.CallID, nonEmpty)
}

func (m *IncomingCall) fields(c *codec) {
	c.str("callId", &m.CallID, nonEmpty)
	c.str("callerUserId", &m.CallerUserID, required)
	c.strMap("headers", &m.Headers)
}

func (m *AnswerCall) fields(c *codec) {
	c.id(&m.ID, required)
	c.str("callId", &m.CallID, required)
}

func (m *DeclineCall) fields(c *codec) {
	c.id(&m.ID, required)
	c.str("callId", &m.CallID, required)
}

func (m *HangupCall) fields(c *codec) {
	c.id(&m.ID, required)
	c.str("callId", &m.CallID, required)
}

func (m *CallEstablished) fields(c *codec) {
	c.id(&m.ID, optional)
	c.str("callId", &m.CallID, nonEmpty)
}

func (m *CallEnded) fields(c *codec) {
	c.id(&m.ID, optional)
	c.str("callId", &m.CallID, nonEmpty)
	c.str("reason", &m.Reason, nonEmpty)
}
