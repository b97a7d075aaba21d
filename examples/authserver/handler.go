package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/sinchsim/sinchsim/credentials"
)

// maxBody bounds a POST body: a user id is at most 255 bytes.
const maxBody = 4 << 10

// tokenRequest is the POST body. applicationKey is optional; when present
// it must be ours. instanceTtl (as credentials.HTTPProvider's default body
// carries it) asks for a token that limits the instance: this server's
// --instance-ttl, or twelve months when that is 0.
type tokenRequest struct {
	UserID         string `json:"userId"`
	ApplicationKey string `json:"applicationKey"`
	InstanceTTL    bool   `json:"instanceTtl"`
}

type tokenResponse struct {
	Token string `json:"token"`
}

type errorResponse struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// Codes of the error responses besides credentials' user_id_invalid and
// unknown_application.
const (
	codeBadRequest       = "bad_request"
	codeMethodNotAllowed = "method_not_allowed"
	codeInternal         = "internal_error"
)

// newHandler serves registration tokens minted by m:
//
//	GET  /token?userId=U[&instanceTtl=true] -> 200 {"token": "<jwt>"}
//	POST /token {"userId": "U"}     -> 200 {"token": "<jwt>"}
//	POST /token userId=U (a form)   -> 200 {"token": "<jwt>"}
//
// A bad user id is refused with 400 {"error":"user_id_invalid",...},
// other methods with 405. A real auth server first checks that the caller
// is signed in as U; this example trusts the caller.
func newHandler(m *credentials.Minter) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/token", &tokenHandler{m: m})
	return mux
}

type tokenHandler struct {
	m *credentials.Minter
}

func (h *tokenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		req.UserID, req.ApplicationKey = q.Get("userId"), q.Get("applicationKey")
		req.InstanceTTL = q.Get("instanceTtl") == "true"
	case http.MethodPost:
		if err := decodeBody(w, r, &req); err != nil {
			h.refuse(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		h.refuse(w, r, http.StatusMethodNotAllowed, codeMethodNotAllowed, "use GET /token?userId=U or POST /token with {\"userId\":\"U\"}")
		return
	}
	if req.ApplicationKey != "" && req.ApplicationKey != h.m.ApplicationKey() {
		h.refuse(w, r, http.StatusBadRequest, credentials.CodeUnknownApplication, "this server issues tokens for application "+h.m.ApplicationKey())
		return
	}
	// The user id goes into the token's sub claim: refuse what the backend
	// would refuse, with the same code.
	if err := credentials.ValidateUserID(req.UserID); err != nil {
		var ce *credentials.Error
		errors.As(err, &ce)
		h.refuse(w, r, http.StatusBadRequest, ce.Code, ce.Message)
		return
	}
	jwt, err := h.m.MintWith(credentials.MintParams{UserID: req.UserID, RequireInstanceTTL: req.InstanceTTL})
	if err != nil {
		slog.Error("minting failed", "user", req.UserID, "err", err)
		writeJSON(w, http.StatusInternalServerError, errorResponse{Error: codeInternal, Message: "could not mint a token"})
		return
	}
	// The token itself is a credential: it is never logged.
	slog.Info("token issued", "user", req.UserID, "method", r.Method, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, tokenResponse{Token: jwt})
}

func (h *tokenHandler) refuse(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	slog.Warn("token refused", "code", code, "reason", msg, "method", r.Method, "remote", r.RemoteAddr)
	writeJSON(w, status, errorResponse{Error: code, Message: msg})
}

// decodeBody reads a POST body: JSON, or a form (what curl -d sends).
func decodeBody(w http.ResponseWriter, r *http.Request, v *tokenRequest) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	mt := "application/json"
	if ct := r.Header.Get("Content-Type"); ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return errors.New("unreadable Content-Type")
		}
	}
	var tooLarge *http.MaxBytesError
	switch mt {
	case "application/json":
		if err := json.NewDecoder(r.Body).Decode(v); err != nil {
			if errors.As(err, &tooLarge) {
				return errors.New("the body is larger than 4 KiB")
			}
			return errors.New("the body is not a JSON object like {\"userId\":\"U\"}: " + strings.TrimPrefix(err.Error(), "json: "))
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			if errors.As(err, &tooLarge) {
				return errors.New("the body is larger than 4 KiB")
			}
			return errors.New("the form does not parse")
		}
		v.UserID, v.ApplicationKey = r.PostForm.Get("userId"), r.PostForm.Get("applicationKey")
		v.InstanceTTL = r.PostForm.Get("instanceTtl") == "true"
	default:
		return errors.New("the body must be JSON or a form, not " + mt)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	// Tokens carry a single-use nonce: no cache may keep or replay one.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
