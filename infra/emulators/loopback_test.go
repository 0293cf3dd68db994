package emulators_test

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/spapi-auth-keeper/keeper/infra/emulators"
)

// listeners reads the kernel's table of listening TCP sockets (/proc/net/tcp and
// tcp6) and returns the local addresses listening on port.
func listeners(t *testing.T, port int) []net.IP {
	t.Helper()
	var out []net.IP
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			if os.IsNotExist(err) && file == "/proc/net/tcp6" {
				continue // no IPv6 on this machine
			}
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // 0A: TCP_LISTEN
				continue
			}
			addr, portHex, ok := strings.Cut(fields[1], ":")
			p, err := strconv.ParseUint(portHex, 16, 16)
			if !ok || err != nil || int(p) != port {
				continue
			}
			ip, err := procIP(addr)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			out = append(out, ip)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// procIP decodes an address of /proc/net/tcp{,6}: 32-bit words in host (little-endian) order.
func procIP(s string) (net.IP, error) {
	b, err := hex.DecodeString(s)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil, fmt.Errorf("address %q", s)
	}
	ip := make(net.IP, len(b))
	for w := 0; w < len(b); w += 4 {
		for i := 0; i < 4; i++ {
			ip[w+i] = b[w+3-i]
		}
	}
	return ip, nil
}

func portOf(t *testing.T, endpoint string) int {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("endpoint %q has no port", endpoint)
	}
	return p
}

// TestEmulatorsListenOnLoopbackOnly: DynamoDB Local (which by itself listens on every
// interface), the SES and the SQS emulators accept connections on 127.0.0.1 only, so
// nothing on this machine's other addresses reaches them. Checked in the kernel's
// socket table rather than by connecting to those addresses: a listener bound to
// 127.0.0.1 is unreachable from any other address by construction, and the test sends
// no traffic off the loopback interface.
func TestEmulatorsListenOnLoopbackOnly(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp: the kernel's socket table is read on Linux only")
	}
	others := nonLoopbackAddrs(t)
	if len(others) == 0 {
		t.Skip("this machine has no non-loopback address: nothing could reach the emulators from elsewhere")
	}
	// The check itself must be able to fail: a listener on every interface is seen as one.
	wild, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer wild.Close()
	if ips := listeners(t, wild.Addr().(*net.TCPAddr).Port); len(ips) == 0 || ips[0].IsLoopback() {
		t.Fatalf("a listener on every interface reads as %v", ips)
	}

	eps := running(t).Endpoints()
	for _, name := range []string{emulators.EnvDynamoDB, emulators.EnvSES, emulators.EnvSQS} {
		port := portOf(t, eps[name])
		ips := listeners(t, port)
		if len(ips) == 0 {
			t.Errorf("%s: nothing listens on port %d", name, port)
		}
		for _, ip := range ips {
			if !ip.IsLoopback() {
				t.Errorf("%s listens on %s port %d: reachable from %v", name, ip, port, others)
			}
		}
	}
}

func nonLoopbackAddrs(t *testing.T) []string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			out = append(out, n.IP.String())
		}
	}
	return out
}
