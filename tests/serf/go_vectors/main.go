// Prints the bytes go-msgpack 0.5.5 (Debian's golang-github-hashicorp-go-msgpack-dev, which
// Debian's serf 0.8.2 is built with) writes for serf's message structs, encoded as serf encodes
// them: the vectors in tests/serf/messages.test.ts. The struct layouts are serf's (messages.go).
//
//   cd tests/serf/go_vectors && GOPATH=/usr/share/gocode GO111MODULE=off go run main.go
package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-msgpack/codec"
)

type LamportTime uint64
type messageJoin struct {
	LTime LamportTime
	Node  string
}
type messageUserEvent struct {
	LTime   LamportTime
	Name    string
	Payload []byte
	CC      bool
}
type messageQuery struct {
	LTime       LamportTime
	ID          uint32
	Addr        []byte
	Port        uint16
	Filters     [][]byte
	Flags       uint32
	RelayFactor uint8
	Timeout     time.Duration
	Name        string
	Payload     []byte
}
type messageQueryResponse struct {
	LTime   LamportTime
	ID      uint32
	From    string
	Flags   uint32
	Payload []byte
}
type userEvent struct {
	Name    string
	Payload []byte
}
type userEvents struct {
	LTime  LamportTime
	Events []userEvent
}
type messagePushPull struct {
	LTime        LamportTime
	StatusLTimes map[string]LamportTime
	LeftMembers  []string
	EventLTime   LamportTime
	Events       []*userEvents
	QueryLTime   LamportTime
}
type relayHeader struct {
	DestAddr net.UDPAddr
}
type filterTag struct {
	Tag  string
	Expr string
}

func enc(t byte, v interface{}) string {
	buf := bytes.NewBuffer(nil)
	buf.WriteByte(t)
	h := codec.MsgpackHandle{}
	if err := codec.NewEncoder(buf, &h).Encode(v); err != nil {
		panic(err)
	}
	return hex.EncodeToString(buf.Bytes())
}

func main() {
	fmt.Println("join", enc(1, &messageJoin{LTime: 3, Node: "a"}))
	fmt.Println("leave", enc(0, &messageJoin{LTime: 1 << 40, Node: "shoal-1"}))
	fmt.Println("event", enc(3, &messageUserEvent{LTime: 17, Name: "purge", Payload: []byte("/x"), CC: true}))
	fmt.Println("event40", enc(3, &messageUserEvent{LTime: 1, Name: "n", Payload: bytes.Repeat([]byte("a"), 40)}))
	nodeFilter := enc(0, []string{"a", "b"})
	tagFilter := enc(1, &filterTag{"role", "^web$"})
	nf, _ := hex.DecodeString(nodeFilter)
	tf, _ := hex.DecodeString(tagFilter)
	fmt.Println("nodefilter", nodeFilter)
	fmt.Println("tagfilter", tagFilter)
	fmt.Println("query", enc(4, &messageQuery{LTime: 5, ID: 0x7fffffff, Addr: []byte{127, 0, 0, 1}, Port: 7946,
		Filters: [][]byte{nf, tf}, Flags: 1, RelayFactor: 2, Timeout: 3 * time.Second, Name: "who-has", Payload: []byte("k")}))
	fmt.Println("querynofilter", enc(4, &messageQuery{LTime: 5, ID: 9, Addr: []byte{127, 0, 0, 1}, Port: 7946,
		Timeout: 3 * time.Second, Name: "q", Payload: []byte("")}))
	fmt.Println("response", enc(5, &messageQueryResponse{LTime: 5, ID: 9, From: "b", Payload: []byte("yes")}))
	fmt.Println("ack", enc(5, &messageQueryResponse{LTime: 5, ID: 9, From: "b", Flags: 1}))
	fmt.Println("pushpull", enc(2, &messagePushPull{LTime: 10, StatusLTimes: map[string]LamportTime{"a": 1},
		LeftMembers: []string{"c"}, EventLTime: 8, Events: []*userEvents{{LTime: 7, Events: []userEvent{{"e", []byte("p")}}}}, QueryLTime: 3}))
	fmt.Println("tags", enc(255, map[string]string{"role": "web"}))
	fmt.Println("relayhdr", enc(9, relayHeader{DestAddr: net.UDPAddr{IP: []byte{127, 0, 0, 1}, Port: 7946}}))
}
