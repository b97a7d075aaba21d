package transport_test

import (
	"fmt"
	"time"

	"github.com/sinchsim/sinchsim/transport"
)

func ExampleEncode() {
	data, err := transport.Encode(&transport.InstanceTTLUpdated{
		ID:         "req-7",
		InstanceID: "inst-42",
		ExpireAt:   time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(data))
	// Output:
	// {"type":"instanceTtlUpdated","id":"req-7","instanceId":"inst-42","expireAt":"2025-03-14T15:09:26Z"}
}

func ExampleDecode() {
	m, err := transport.Decode([]byte(`{"type":"unregisterPushToken","id":"req-8"}`))
	fmt.Printf("%T %v\n", m, err)

	_, err = transport.Decode([]byte(`{"type":"unregisterPushToken","id":"req-9","id":"req-10"}`))
	fmt.Println(err)
	// Output:
	// *transport.UnregisterPushToken <nil>
	// protocol_error: message has the member "id" twice
}

func ExampleProof() {
	// Fixed values for a reproducible output; use NewInstanceSecret and
	// NewChallenge in real code.
	secret := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" // bytes 0..31
	challenge := "c2luY2hzaW0tY2hhbGxlbmdlLWV4YW1wbGUtMDAwMDA"
	proof, err := transport.Proof(secret, challenge, "inst-42", "device-1")
	if err != nil {
		panic(err)
	}
	fmt.Println(proof)
	fmt.Println(transport.VerifyProof(secret, challenge, "inst-42", "device-1", proof))
	fmt.Println(transport.VerifyProof(secret, challenge, "inst-42", "device-2", proof))
	// Output:
	// Ay7kIzjUDsylBQHJz_JRcNJSE0AAEvRiYFvTuFbScuM
	// true
	// false
}
