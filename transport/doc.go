// Package transport is protocol v1 of sinchsim: the wire messages that a
// SinchClient and the fake backend exchange, and the WebSocket connection
// that carries them. docs/PROTOCOL.md is the specification.
//
// Framing is kept apart from protocol. [Encode] and [Decode] are pure
// functions over bytes — strict, allocation-light, testable without a
// network — and [Conn] moves their output over a gorilla/websocket
// connection: one text frame per message, a writer that also sends pings
// and runs on a goroutine only while there is something to write (an idle
// connection holds just its reader), a bounded send queue that drops a
// slow consumer, a read limit, and a clean close handshake. Both sides use Conn:
// the server gets one from [Upgrader.Upgrade], the client from [Dial].
//
// Client side, shortest working use:
//
//	conn, welcome, err := transport.Dial(ctx, "127.0.0.1:8080", transport.DialConfig{})
//	if err != nil { ... }
//	proof, _ := transport.Proof(secret, welcome.Challenge, instanceID, deviceID)
//	_ = conn.Send(&transport.Authenticate{ID: transport.NewID("req-"), ..., Proof: proof})
//	for {
//		m, err := conn.Read()
//		var pe *transport.ProtocolError
//		if errors.As(err, &pe) { continue } // a bad message; the connection goes on
//		if err != nil { break }             // the connection has ended
//		switch m := m.(type) { case *transport.Authenticated: ... }
//	}
//	conn.Close(transport.CloseNormal, "bye") // and keep reading until Read fails
//
// Server side:
//
//	up := transport.NewUpgrader(transport.UpgradeConfig{})
//	http.HandleFunc(transport.Path, func(w http.ResponseWriter, r *http.Request) {
//		conn, err := up.Upgrade(w, r)
//		if err != nil { return }
//		go serve(conn) // and return: net/http then frees ~10 KiB of request state
//	})
//
//	func serve(conn *transport.Conn) {
//		conn.Send(&transport.Welcome{Protocol: transport.Protocol,
//			Challenge: transport.NewChallenge(), ServerTime: time.Now()})
//		for { m, err := conn.Read(); ... answer requests with conn.Send ... }
//	}
//
// Deadlines (ping, pong, write, close grace) are wall-clock socket
// deadlines on purpose; the virtual clock of the simulations never drives
// them. Over an in-memory pipe (ListenMem, DialConfig.InMemory) there are
// no pings, and a deadline only bounds a wait that a full or empty pipe
// imposes.
package transport
