package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/flowctl/flowctl/plugins/internal/kafkaconn"
	"github.com/flowctl/flowctl/plugins/sdk"
)

// TestSASL reads from a cluster that requires SASL, with each mechanism;
// a wrong password fails Open with an error that does not show it.
func TestSASL(t *testing.T) {
	t.Parallel()
	const password = "pa55-w0rd-7391"
	_, addr := cluster(t, kfake.EnableSASL(), kfake.SeedTopics(1, "t"),
		kfake.Superuser("PLAIN", "plain-user", password),
		kfake.Superuser("SCRAM-SHA-256", "scram256-user", password),
		kfake.Superuser("SCRAM-SHA-512", "scram512-user", password))
	producer := client(t, addr, kgo.SASL(plain.Auth{User: "plain-user", Pass: password}.AsMechanism()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := producer.ProduceSync(context.Background(), &kgo.Record{Topic: "t", Value: []byte(`{"ok":true}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	users := map[string]string{kafkaconn.SASLPlain: "plain-user", kafkaconn.SASLScram256: "scram256-user", kafkaconn.SASLScram512: "scram512-user"}
	for mech, user := range users {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			good := config(addr, map[string]any{"topics": []string{"t"}, "bounded": true,
				"sasl": map[string]any{"mechanism": mech, "username": user, "password": password}})
			if got := payloads(readToEnd(t, open(t, good))); !slices.Equal(got, []string{`{"ok":true}`}) {
				t.Errorf("read %v", got)
			}
			bad := config(addr, map[string]any{"topics": []string{"t"}, "connect_timeout": "500ms",
				"sasl": map[string]any{"mechanism": mech, "username": user, "password": password + "x"}})
			s := &Source{}
			err := s.Open(context.Background(), sdk.OpenRequest{Config: bad})
			_ = s.Close(context.Background())
			if err == nil {
				t.Fatal("Open with a wrong password succeeded")
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("the error shows the password: %v", err)
			}
			t.Logf("wrong password: %v", err)
		})
	}
}

// TestTLS reads from a cluster that speaks TLS with a certificate of a
// test authority, trusted through ca_file, and from one that also wants
// a client certificate (cert_file and key_file).
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newTestCA(t, dir)
	serverCert := ca.issue(t, x509.ExtKeyUsageServerAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	_, addr := cluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}), kfake.SeedTopics(1, "t"))
	_, mutual := cluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12,
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}), kfake.SeedTopics(1, "t"))
	clientCert := ca.issue(t, x509.ExtKeyUsageClientAuth)
	certFile, keyFile := writeKeyPair(t, dir, clientCert)
	for _, a := range []string{addr, mutual} {
		producer := client(t, a, kgo.DialTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}, MinVersion: tls.VersionTLS12}))
		if err := producer.ProduceSync(context.Background(), &kgo.Record{Topic: "t", Value: []byte(`"secure"`)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	good := map[string]map[string]any{
		"server":  {"ca_file": ca.file},
		"mutual":  {"ca_file": ca.file, "cert_file": certFile, "key_file": keyFile},
		"enabled": {"ca_file": ca.file, "enabled": true},
	}
	for name, tlsCfg := range good {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := addr
			if name == "mutual" {
				a = mutual
			}
			cfg := config(a, map[string]any{"topics": []string{"t"}, "bounded": true, "tls": tlsCfg})
			if got := payloads(readToEnd(t, open(t, cfg))); !slices.Equal(got, []string{`"secure"`}) {
				t.Errorf("read %v", got)
			}
		})
	}
	if err := os.WriteFile(filepath.Join(dir, "not.pem"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		addr string
		tls  map[string]any
		want string
	}{
		{"untrusted", addr, map[string]any{}, "tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{"wrong name", addr, map[string]any{"ca_file": ca.file, "server_name": "kafka.example"}, "x509: certificate is not valid for any names, but wanted to match kafka.example"},
		{"disabled", addr, map[string]any{"ca_file": ca.file, "enabled": false}, "is TLS missing?"},
		{"no client certificate", mutual, map[string]any{"ca_file": ca.file}, "list topics: remote error: tls: certificate required"},
		{"missing ca", addr, map[string]any{"ca_file": filepath.Join(dir, "nope.pem")}, "tls.ca_file: open " + filepath.Join(dir, "nope.pem") + ": no such file or directory"},
		{"not pem", addr, map[string]any{"ca_file": filepath.Join(dir, "not.pem")}, "tls.ca_file: " + filepath.Join(dir, "not.pem") + " holds no PEM certificate"},
		{"bad key pair", addr, map[string]any{"cert_file": certFile, "key_file": filepath.Join(dir, "not.pem")}, "tls.cert_file: tls: failed to find any PEM data in key input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Source{}
			err := s.Open(context.Background(), sdk.OpenRequest{Config: config(tt.addr, map[string]any{"topics": []string{"t"}, "connect_timeout": "10s", "tls": tt.tls})})
			_ = s.Close(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open = %v, want an error with %q", err, tt.want)
			}
			t.Logf("Open: %v", err)
		})
	}
}

// testCA is a certificate authority for tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // its certificate, PEM
	next int64  // serial number of the next certificate
}

// newTestCA makes a certificate authority and writes its certificate to
// ca.pem in dir.
func newTestCA(t *testing.T, dir string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "flowctl test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, file: file, next: 2}
}

// issue makes a certificate for 127.0.0.1 signed by the authority.
func (ca *testCA) issue(t *testing.T, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.next),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	ca.next++
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// writeKeyPair writes a certificate and its key as PEM files in dir.
func writeKeyPair(t *testing.T, dir string, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
