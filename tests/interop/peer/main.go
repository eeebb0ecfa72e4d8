// Command peer is shoal's interop test peer: one HashiCorp memberlist (0.2.2) node driven
// over stdin/stdout, so TypeScript tests can put a real Go node in a cluster with shoal nodes.
//
// Output (stdout): one JSON object per line, each with an "event" field:
//
//	{"event":"ready","name":"go-1","addr":"127.0.0.1","port":7946,"joined":1,"error":""}
//	{"event":"join"|"leave"|"update","node":{"name","addr","port","meta","state","incarnation"}}
//	{"event":"user","text":"...","b64":"..."}               a received user message
//	{"event":"members","members":[{...node...}]}           every node in the table, any state
//	{"event":"result","command":"leave","ok":true,"error":""}  the outcome of a command
//
// memberlist's own log goes to stderr (or to -log FILE): ERR/WARN lines there reveal a
// non-conforming peer.
//
// Commands (stdin, one per line): members | leave | update-meta TEXT | join ADDR[,ADDR] |
// send-best-effort NAME TEXT | send-reliable NAME TEXT | broadcast TEXT | quit
//
// With -nodes N (N > 1) the program instead runs N memberlist nodes in one process for the
// cluster benchmark (bench/cluster), driven by another set of commands: see runBench.
//
// Node states and incarnations are read from memberlist's private table with reflection:
// 0.2.2's public Node.State is never updated, and Members() hides dead and left nodes.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/hashicorp/memberlist"
)

var stateNames = []string{"alive", "suspect", "dead", "left"}

type nodeJSON struct {
	Name        string `json:"name"`
	Addr        string `json:"addr"`
	Port        uint16 `json:"port"`
	Meta        string `json:"meta"`
	State       string `json:"state"`
	Incarnation uint64 `json:"incarnation"`
}

// out serialises JSON lines on stdout.
type out struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (o *out) emit(v map[string]interface{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_ = o.enc.Encode(v)
}

// peer is the delegate and event delegate of the node.
type peer struct {
	out    *out
	mu     sync.Mutex
	meta   []byte
	queue  *memberlist.TransmitLimitedQueue
	events chan memberlist.NodeEvent
	list   *memberlist.Memberlist
}

func (p *peer) NodeMeta(limit int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.meta) > limit {
		return p.meta[:limit]
	}
	return append([]byte(nil), p.meta...)
}

func (p *peer) NotifyMsg(msg []byte) {
	p.out.emit(map[string]interface{}{
		"event": "user",
		"text":  string(msg),
		"b64":   base64.StdEncoding.EncodeToString(msg),
	})
}

func (p *peer) GetBroadcasts(overhead, limit int) [][]byte {
	return p.queue.GetBroadcasts(overhead, limit)
}

func (p *peer) LocalState(join bool) []byte            { return nil }
func (p *peer) MergeRemoteState(buf []byte, join bool) {}

// Events are handed to a goroutine: memberlist calls these with its node lock held.
func (p *peer) NotifyJoin(n *memberlist.Node) { p.events <- event(memberlist.NodeJoin, n) }
func (p *peer) NotifyLeave(n *memberlist.Node) {
	p.events <- event(memberlist.NodeLeave, n)
}
func (p *peer) NotifyUpdate(n *memberlist.Node) {
	p.events <- event(memberlist.NodeUpdate, n)
}

func event(t memberlist.NodeEventType, n *memberlist.Node) memberlist.NodeEvent {
	c := *n
	c.Meta = append([]byte(nil), n.Meta...)
	c.Addr = append([]byte(nil), n.Addr...)
	return memberlist.NodeEvent{Event: t, Node: &c}
}

// broadcast is a user broadcast for the TransmitLimitedQueue; each one is unique.
type broadcast []byte

func (b broadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b broadcast) Message() []byte                       { return b }
func (b broadcast) Finished()                             {}
func (b broadcast) UniqueBroadcast()                      {}

// table reads memberlist's node table (private) under its lock.
func table(m *memberlist.Memberlist) []nodeJSON {
	v := reflect.ValueOf(m).Elem()
	lock := (*sync.RWMutex)(unsafe.Pointer(v.FieldByName("nodeLock").UnsafeAddr()))
	lock.RLock()
	defer lock.RUnlock()
	nodes := v.FieldByName("nodes")
	res := make([]nodeJSON, 0, nodes.Len())
	for i := 0; i < nodes.Len(); i++ {
		ns := nodes.Index(i).Elem()
		n := (*memberlist.Node)(unsafe.Pointer(ns.FieldByName("Node").UnsafeAddr()))
		st := int(ns.FieldByName("State").Int())
		name := fmt.Sprint(st)
		if st >= 0 && st < len(stateNames) {
			name = stateNames[st]
		}
		res = append(res, nodeJSON{
			Name:        n.Name,
			Addr:        n.Addr.String(),
			Port:        n.Port,
			Meta:        string(n.Meta),
			State:       name,
			Incarnation: ns.FieldByName("Incarnation").Uint(),
		})
	}
	return res
}

func lookup(m *memberlist.Memberlist, name string) (nodeJSON, bool) {
	for _, n := range table(m) {
		if n.Name == name {
			return n, true
		}
	}
	return nodeJSON{}, false
}

func (p *peer) pumpEvents() {
	kinds := map[memberlist.NodeEventType]string{
		memberlist.NodeJoin: "join", memberlist.NodeLeave: "leave", memberlist.NodeUpdate: "update",
	}
	for e := range p.events {
		node := nodeJSON{Name: e.Node.Name, Addr: e.Node.Addr.String(), Port: e.Node.Port,
			Meta: string(e.Node.Meta)}
		if p.list != nil {
			if cur, ok := lookup(p.list, e.Node.Name); ok {
				node.State, node.Incarnation = cur.State, cur.Incarnation
			}
		}
		p.out.emit(map[string]interface{}{"event": kinds[e.Event], "node": node})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func main() {
	name := flag.String("name", "go-peer", "node name")
	bind := flag.String("bind", "127.0.0.1", "bind address")
	port := flag.Int("port", 0, "bind port (UDP and TCP); 0 picks one")
	join := flag.String("join", "", "comma-separated addresses to join")
	keys := flag.String("keys", "", "comma-separated base64 keys, the first is primary")
	compress := flag.Bool("compress", true, "EnableCompression")
	verifyIn := flag.Bool("verify-incoming", true, "GossipVerifyIncoming")
	verifyOut := flag.Bool("verify-outgoing", true, "GossipVerifyOutgoing")
	protocol := flag.Int("protocol", 2, "ProtocolVersion (1 encrypts with version 0)")
	preset := flag.String("preset", "local", "base config: lan, wan or local")
	probeInterval := flag.Duration("probe-interval", 0, "ProbeInterval (0: preset)")
	probeTimeout := flag.Duration("probe-timeout", 0, "ProbeTimeout (0: preset)")
	gossipInterval := flag.Duration("gossip-interval", 0, "GossipInterval (0: preset)")
	pushPull := flag.Duration("push-pull-interval", 0, "PushPullInterval (0: preset, <0: off)")
	tcpTimeout := flag.Duration("tcp-timeout", 0, "TCPTimeout (0: preset)")
	suspicionMult := flag.Int("suspicion-mult", 0, "SuspicionMult (0: preset)")
	meta := flag.String("meta", "", "node metadata")
	logPath := flag.String("log", "", "write memberlist's log here instead of stderr")
	nodes := flag.Int("nodes", 1, "run this many nodes in one process (benchmark mode, see runBench)")
	joinGap := flag.Duration("join-gap", 0, "benchmark mode: pause between starting two nodes")
	convergeTimeout := flag.Duration("converge-timeout", 90*time.Second,
		"benchmark mode: how long to wait for every node to see all")
	flag.Parse()

	var conf *memberlist.Config
	switch *preset {
	case "lan":
		conf = memberlist.DefaultLANConfig()
	case "wan":
		conf = memberlist.DefaultWANConfig()
	default:
		conf = memberlist.DefaultLocalConfig()
	}
	conf.Name = *name
	conf.BindAddr = *bind
	conf.BindPort = *port
	conf.AdvertisePort = *port
	conf.EnableCompression = *compress
	conf.GossipVerifyIncoming = *verifyIn
	conf.GossipVerifyOutgoing = *verifyOut
	conf.ProtocolVersion = uint8(*protocol)
	if *probeInterval > 0 {
		conf.ProbeInterval = *probeInterval
	}
	if *probeTimeout > 0 {
		conf.ProbeTimeout = *probeTimeout
	}
	if *gossipInterval > 0 {
		conf.GossipInterval = *gossipInterval
	}
	if *pushPull > 0 {
		conf.PushPullInterval = *pushPull
	} else if *pushPull < 0 {
		conf.PushPullInterval = 0
	}
	if *tcpTimeout > 0 {
		conf.TCPTimeout = *tcpTimeout
	}
	if *suspicionMult > 0 {
		conf.SuspicionMult = *suspicionMult
	}
	var logOut io.Writer = os.Stderr
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			log.Fatalf("open log: %v", err)
		}
		defer f.Close()
		logOut = f
	}
	conf.LogOutput = logOut
	if *keys != "" {
		var ring [][]byte
		for _, k := range strings.Split(*keys, ",") {
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k))
			if err != nil {
				log.Fatalf("bad key %q: %v", k, err)
			}
			ring = append(ring, b)
		}
		kr, err := memberlist.NewKeyring(ring, ring[0])
		if err != nil {
			log.Fatalf("keyring: %v", err)
		}
		conf.Keyring = kr
	}

	if *nodes > 1 {
		if *logPath == "" {
			conf.LogOutput = io.Discard
		}
		runBench(conf, *nodes, *joinGap, *convergeTimeout)
		return
	}

	o := &out{enc: json.NewEncoder(os.Stdout)}
	p := &peer{out: o, meta: []byte(*meta), events: make(chan memberlist.NodeEvent, 4096)}
	conf.Delegate = p
	conf.Events = p
	m, err := memberlist.Create(conf)
	if err != nil {
		o.emit(map[string]interface{}{"event": "fatal", "error": err.Error()})
		os.Exit(1)
	}
	p.list = m
	p.queue = &memberlist.TransmitLimitedQueue{NumNodes: m.NumMembers, RetransmitMult: 3}
	go p.pumpEvents()

	joined, jerr := 0, error(nil)
	if *join != "" {
		joined, jerr = m.Join(strings.Split(*join, ","))
	}
	local := m.LocalNode()
	o.emit(map[string]interface{}{"event": "ready", "name": local.Name,
		"addr": local.Addr.String(), "port": local.Port, "joined": joined, "error": errText(jerr)})

	result := func(cmd string, err error) {
		o.emit(map[string]interface{}{"event": "result", "command": cmd, "ok": err == nil,
			"error": errText(err)})
	}
	target := func(name string) (*memberlist.Node, error) {
		for _, n := range m.Members() {
			if n.Name == name {
				return n, nil
			}
		}
		return nil, fmt.Errorf("no live member %q", name)
	}

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		cmd, rest := line, ""
		if i := strings.IndexByte(line, ' '); i >= 0 {
			cmd, rest = line[:i], line[i+1:]
		}
		switch cmd {
		case "":
		case "members":
			o.emit(map[string]interface{}{"event": "members", "members": table(m)})
		case "leave":
			result(cmd, m.Leave(5*time.Second))
		case "update-meta":
			p.mu.Lock()
			p.meta = []byte(rest)
			p.mu.Unlock()
			result(cmd, m.UpdateNode(5*time.Second))
		case "join":
			_, err := m.Join(strings.Split(rest, ","))
			result(cmd, err)
		case "send-best-effort", "send-reliable":
			to, text := rest, ""
			if i := strings.IndexByte(rest, ' '); i >= 0 {
				to, text = rest[:i], rest[i+1:]
			}
			n, err := target(to)
			if err == nil {
				if cmd == "send-reliable" {
					err = m.SendReliable(n, []byte(text))
				} else {
					err = m.SendBestEffort(n, []byte(text))
				}
			}
			result(cmd, err)
		case "broadcast":
			p.queue.QueueBroadcast(broadcast(rest))
			result(cmd, nil)
		case "quit":
			result(cmd, m.Shutdown())
			os.Exit(0)
		default:
			result(cmd, fmt.Errorf("unknown command %q", cmd))
		}
	}
	// stdin closed: the test is gone, stop without leaving (like a crash)
	_ = m.Shutdown()
}

// MARK: benchmark mode (-nodes N)

// countingTransport is memberlist's UDP/TCP transport, counting the datagrams it sends.
type countingTransport struct {
	*memberlist.NetTransport
	packets, bytes *int64
}

func (t *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	atomic.AddInt64(t.packets, 1)
	atomic.AddInt64(t.bytes, int64(len(b)))
	return t.NetTransport.WriteTo(b, addr)
}

func (t *countingTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	atomic.AddInt64(t.packets, 1)
	atomic.AddInt64(t.bytes, int64(len(b)))
	return t.NetTransport.WriteToAddress(b, a)
}

// benchEvents counts dead/left notifications about members that were not killed, and
// remembers which members they were about.
type benchEvents struct {
	killed     *sync.Map
	falseDead  *int64
	falseNames *sync.Map
}

func (e *benchEvents) NotifyJoin(*memberlist.Node)   {}
func (e *benchEvents) NotifyUpdate(*memberlist.Node) {}
func (e *benchEvents) NotifyLeave(n *memberlist.Node) {
	if _, ok := e.killed.Load(n.Name); !ok {
		atomic.AddInt64(e.falseDead, 1)
		e.falseNames.Store(n.Name, true)
	}
}

// stateOf reads one member's state in m's private table: 0 alive, 1 suspect, 2 dead,
// 3 left, -1 unknown.
func stateOf(m *memberlist.Memberlist, name string) int {
	v := reflect.ValueOf(m).Elem()
	lock := (*sync.RWMutex)(unsafe.Pointer(v.FieldByName("nodeLock").UnsafeAddr()))
	lock.RLock()
	defer lock.RUnlock()
	ns := v.FieldByName("nodeMap").MapIndex(reflect.ValueOf(name))
	if !ns.IsValid() {
		return -1
	}
	return int(ns.Elem().FieldByName("State").Int())
}

// runBench runs n nodes (bench-0 … bench-(n-1)) in this process, every one joining the first,
// for bench/cluster. Output, one JSON object per line on stdout:
//
//	{"event":"converged","ms":T,"minSeen":K}   every node sees all n alive (ms null: timed out)
//	{"event":"ok","falseDeadBefore":F}   answers stats-begin: false deads since the start
//	{"event":"stats","packets":P,"bytes":B,"falseDead":F,"falseDeadMembers":M}   since the
//	                                     last stats-begin (M: distinct live members declared dead)
//	{"event":"detected","victim":V,"firstSuspectMs":S,"firstDeadMs":D,"allDeadMs":A,"deadMs":[…]}
//	                                     (deadMs: when each survivor held it dead, sorted)
//
// Commands (stdin): stats-begin | stats-end | kill INDEX | quit.
func runBench(base *memberlist.Config, n int, joinGap, convergeTimeout time.Duration) {
	o := &out{enc: json.NewEncoder(os.Stdout)}
	var packets, bytes, falseDead int64
	killed := &sync.Map{}
	falseNames := &sync.Map{}
	logger := log.New(base.LogOutput, "", log.LstdFlags)
	lists := make([]*memberlist.Memberlist, n)
	names := make([]string, n)
	start := time.Now()
	ms := func(since time.Time) float64 { return float64(time.Since(since).Microseconds()) / 1000 }
	deadline := start.Add(convergeTimeout)
	joined := 0
	for i := 0; i < n; i++ {
		names[i] = fmt.Sprintf("bench-%d", i)
		if time.Now().After(deadline) {
			// Joining alone took too long (an overloaded process): start no more nodes.
			killed.Store(names[i], true)
			continue
		}
		var m *memberlist.Memberlist
		var err error
		for attempt := 0; attempt < 10; attempt++ {
			var nt *memberlist.NetTransport
			nt, err = memberlist.NewNetTransport(&memberlist.NetTransportConfig{
				BindAddrs: []string{base.BindAddr}, BindPort: 0, Logger: logger,
			})
			if err != nil {
				continue
			}
			conf := *base
			conf.Name = names[i]
			conf.BindPort = nt.GetAutoBindPort()
			conf.AdvertisePort = conf.BindPort
			conf.Transport = &countingTransport{nt, &packets, &bytes}
			conf.Events = &benchEvents{killed, &falseDead, falseNames}
			conf.Delegate = nil
			if m, err = memberlist.Create(&conf); err == nil {
				break
			}
			_ = nt.Shutdown()
		}
		if err != nil {
			o.emit(map[string]interface{}{"event": "fatal", "error": err.Error()})
			os.Exit(1)
		}
		lists[i] = m
		if i > 0 {
			seed := lists[0].LocalNode()
			if _, err := m.Join([]string{fmt.Sprintf("%s:%d", seed.Addr, seed.Port)}); err != nil {
				o.emit(map[string]interface{}{"event": "fatal", "error": err.Error()})
				os.Exit(1)
			}
		}
		joined++
		time.Sleep(joinGap)
	}
	// Convergence is timed from the last node's start.
	joinedAt := time.Now()
	alive := func() []int {
		var idx []int
		for i := range lists {
			if _, dead := killed.Load(names[i]); !dead && lists[i] != nil {
				idx = append(idx, i)
			}
		}
		return idx
	}
	converged, minSeen := false, 0
	for !converged && joined == n && time.Now().Before(deadline) {
		minSeen = n
		for _, i := range alive() {
			if k := lists[i].NumMembers(); k < minSeen {
				minSeen = k
			}
		}
		if minSeen == n {
			converged = true
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if converged {
		o.emit(map[string]interface{}{"event": "converged", "ms": ms(joinedAt), "minSeen": minSeen,
			"joinMs": float64(joinedAt.Sub(start).Microseconds()) / 1000})
	} else {
		// Why not: how many members each node holds in each state (alive/suspect/dead/left, and
		// never heard of), summed over all nodes.
		counts := map[string]int{}
		for _, i := range alive() {
			known := 0
			for _, nd := range table(lists[i]) {
				counts[nd.State]++
				known++
			}
			counts["unknown"] += n - known
		}
		o.emit(map[string]interface{}{"event": "converged", "ms": nil, "minSeen": minSeen,
			"views": counts, "joined": joined})
	}

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fields := strings.Fields(in.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "stats-begin":
			atomic.StoreInt64(&packets, 0)
			atomic.StoreInt64(&bytes, 0)
			falseNames.Range(func(k, _ interface{}) bool { falseNames.Delete(k); return true })
			o.emit(map[string]interface{}{"event": "ok",
				"falseDeadBefore": atomic.SwapInt64(&falseDead, 0)})
		case "stats-end":
			distinct := 0
			falseNames.Range(func(_, _ interface{}) bool { distinct++; return true })
			o.emit(map[string]interface{}{"event": "stats", "packets": atomic.LoadInt64(&packets),
				"bytes": atomic.LoadInt64(&bytes), "falseDead": atomic.LoadInt64(&falseDead),
				"falseDeadMembers": distinct})
		case "kill":
			var victim int
			fmt.Sscan(fields[1], &victim)
			name := names[victim]
			killed.Store(name, true)
			_ = lists[victim].Shutdown()
			t0 := time.Now()
			var firstSuspect, firstDead, allDead interface{}
			deadAt := map[int]float64{}
			// Survivors that hold the victim as a live member (all of them, once converged).
			var survivors []int
			for _, i := range alive() {
				if st := stateOf(lists[i], name); st == 0 || st == 1 {
					survivors = append(survivors, i)
				}
			}
			for time.Since(t0) < 30*time.Second {
				all := true
				for _, i := range survivors {
					st := stateOf(lists[i], name)
					if st >= 1 && firstSuspect == nil {
						firstSuspect = ms(t0)
					}
					if st >= 2 && firstDead == nil {
						firstDead = ms(t0)
					}
					if _, seen := deadAt[i]; st >= 2 && !seen {
						deadAt[i] = ms(t0)
					}
					if st < 2 {
						all = false
					}
				}
				if all {
					allDead = ms(t0)
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			deadMs := make([]float64, 0, len(deadAt))
			for _, t := range deadAt {
				deadMs = append(deadMs, t)
			}
			sort.Float64s(deadMs)
			o.emit(map[string]interface{}{"event": "detected", "victim": name,
				"firstSuspectMs": firstSuspect, "firstDeadMs": firstDead, "allDeadMs": allDead,
				"deadMs": deadMs})
		case "quit":
			for _, i := range alive() {
				_ = lists[i].Shutdown()
			}
			os.Exit(0)
		}
	}
	os.Exit(0)
}
