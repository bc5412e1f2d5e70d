// Package kafkaconn is what the kafka source and the kafka sink share: the
// connection part of their config (brokers, client id, SASL, TLS), its
// checks, and the franz-go client options it makes.
package kafkaconn

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// The SASL mechanisms.
const (
	SASLPlain     = "plain"
	SASLScram256  = "scram-sha-256"
	SASLScram512  = "scram-sha-512"
	DefaultClient = "flowctl"
)

// Conn is how to reach the brokers: the connection part of the config.
type Conn struct {
	// Brokers are the seed brokers, host:port each.
	Brokers []string `json:"brokers"`
	// ClientID is the client id the brokers see (logs, quotas).
	ClientID string `json:"client_id"`
	// ConnectTimeout bounds how long Open waits for the brokers.
	ConnectTimeout string `json:"connect_timeout"`
	// SASL, if set, authenticates the connection.
	SASL *SASL `json:"sasl"`
	// TLS, if set, encrypts the connection.
	TLS *TLS `json:"tls"`
}

// SASL is the sasl block of the config.
type SASL struct {
	Mechanism string `json:"mechanism"`
	Username  string `json:"username"`
	Password  string `json:"password"`
}

// TLS is the tls block of the config.
type TLS struct {
	Enabled            *bool  `json:"enabled"`
	CAFile             string `json:"ca_file"`
	CertFile           string `json:"cert_file"`
	KeyFile            string `json:"key_file"`
	ServerName         string `json:"server_name"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify"`
}

// BrokersField is the spec of the brokers field.
func BrokersField() sdk.FieldSpec {
	return sdk.FieldSpec{
		Name:     "brokers",
		Type:     sdk.TypeList,
		Elem:     sdk.TypeString,
		Required: true,
		Doc:      "Seed brokers, each `host:port` (`127.0.0.1:9092`); the others are found from them.",
	}
}

// Fields are the specs of the connection fields after brokers.
func Fields() []sdk.FieldSpec {
	return []sdk.FieldSpec{{
		Name:    "client_id",
		Type:    sdk.TypeString,
		Default: DefaultClient,
		Doc:     "The client id the brokers see in their logs and quotas.",
	}, {
		Name:    "connect_timeout",
		Type:    sdk.TypeDuration,
		Default: "10s",
		Doc: "How long to wait for a broker to accept a connection, or to answer beyond a request's own time; " +
			"opening fails if the brokers do not answer within it.",
	}, {
		Name: "sasl",
		Type: sdk.TypeObject,
		Doc:  "SASL authentication: `mechanism`, `username`, `password` (see below). Absent: none.",
		Fields: []sdk.FieldSpec{{
			Name:     "mechanism",
			Type:     sdk.TypeString,
			Required: true,
			Enum:     []string{SASLPlain, SASLScram256, SASLScram512},
			Doc:      "The SASL mechanism.",
		}, {
			Name:     "username",
			Type:     sdk.TypeString,
			Required: true,
			Doc:      "The user name.",
		}, {
			Name:     "password",
			Type:     sdk.TypeString,
			Required: true,
			Secret:   true,
			Doc:      "The password; use `${ENV_NAME}` to take it from the environment.",
		}},
	}, {
		Name: "tls",
		Type: sdk.TypeObject,
		Doc:  "TLS to the brokers (see below). Absent: plain TCP.",
		Fields: []sdk.FieldSpec{{
			Name:    "enabled",
			Type:    sdk.TypeBool,
			Default: true,
			Doc:     "Use TLS; `false` turns it off without removing the block.",
		}, {
			Name: "ca_file",
			Type: sdk.TypeString,
			Doc:  "PEM file of the certificate authorities to trust; empty: the system's.",
		}, {
			Name: "cert_file",
			Type: sdk.TypeString,
			Doc:  "PEM file of the client certificate, for mutual TLS; needs `key_file`.",
		}, {
			Name: "key_file",
			Type: sdk.TypeString,
			Doc:  "PEM file of the client certificate's private key.",
		}, {
			Name: "server_name",
			Type: sdk.TypeString,
			Doc:  "The name to verify the brokers' certificates against; empty: each broker's host.",
		}, {
			Name:    "insecure_skip_verify",
			Type:    sdk.TypeBool,
			Default: false,
			Doc:     "Do not verify the brokers' certificates (tests only).",
		}},
	}}
}

// validate appends the problems of c to diags.
func (c *Conn) Validate(diags []sdk.Diagnostic) []sdk.Diagnostic {
	if len(c.Brokers) == 0 {
		diags = append(diags, sdk.Diagnostic{Path: "brokers", Msg: "must list at least one broker"})
	}
	for i, b := range c.Brokers {
		if msg := CheckBroker(b); msg != "" {
			diags = append(diags, sdk.Diagnostic{Path: fmt.Sprintf("brokers[%d]", i), Msg: msg})
		}
	}
	if c.ConnectTimeout != "" {
		if d, err := time.ParseDuration(c.ConnectTimeout); err != nil || d <= 0 {
			diags = append(diags, sdk.Diagnostic{Path: "connect_timeout", Msg: fmt.Sprintf("%q is not a positive duration such as \"10s\"", c.ConnectTimeout)})
		}
	}
	if s := c.SASL; s != nil {
		switch s.Mechanism {
		case SASLPlain, SASLScram256, SASLScram512:
		default:
			diags = append(diags, sdk.Diagnostic{Path: "sasl.mechanism", Msg: fmt.Sprintf("%q is not one of %s, %s, %s", s.Mechanism, SASLPlain, SASLScram256, SASLScram512)})
		}
		if s.Username == "" {
			diags = append(diags, sdk.Diagnostic{Path: "sasl.username", Msg: "must not be empty"})
		}
		if s.Password == "" {
			diags = append(diags, sdk.Diagnostic{Path: "sasl.password", Msg: "must not be empty"})
		}
	}
	if t := c.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		diags = append(diags, sdk.Diagnostic{Path: "tls", Msg: "cert_file and key_file go together: set both or neither"})
	}
	return diags
}

// CheckBroker says what is wrong with a broker address, or "".
func CheckBroker(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not host:port (such as \"127.0.0.1:9092\")", addr)
	}
	if host == "" {
		return fmt.Sprintf("%q has no host", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("%q has no valid port (1 to 65535)", addr)
	}
	return ""
}

// CheckTopic says what is wrong with a topic name, or "": Kafka allows
// 1 to 249 ASCII letters, digits, '.', '_' and '-', but not "." or "..".
func CheckTopic(name string) string {
	if name == "" {
		return "must not be empty"
	}
	if name == "." || name == ".." {
		return fmt.Sprintf("%q is not a valid topic name", name)
	}
	if len(name) > 249 {
		return fmt.Sprintf("topic name %.20q... is longer than 249 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Sprintf("%q is not a valid topic name: only ASCII letters, digits, '.', '_' and '-' are allowed", name)
		}
	}
	return ""
}

// Timeout returns the connect timeout; c must be valid.
func (c *Conn) Timeout() time.Duration {
	d, err := time.ParseDuration(c.ConnectTimeout)
	if err != nil || d <= 0 {
		return 10 * time.Second
	}
	return d
}

// ClientOpts returns the franz-go options that reach the brokers as c
// says. It reads the TLS files; its errors name the field, never a
// secret's value.
func (c *Conn) ClientOpts() ([]kgo.Opt, error) {
	id := c.ClientID
	if id == "" {
		id = DefaultClient
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(id),
		// Connecting (TCP, TLS, SASL, version negotiation) does not heed
		// a request's context; these bound it.
		kgo.DialTimeout(c.Timeout()),
		kgo.RequestTimeoutOverhead(c.Timeout()),
	}
	if s := c.SASL; s != nil {
		switch s.Mechanism {
		case SASLPlain:
			opts = append(opts, kgo.SASL(plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism()))
		case SASLScram256:
			opts = append(opts, kgo.SASL(scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism()))
		case SASLScram512:
			opts = append(opts, kgo.SASL(scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism()))
		default:
			return nil, &sdk.ConfigError{Path: "sasl.mechanism", Msg: fmt.Sprintf("unknown mechanism %q", s.Mechanism)}
		}
	}
	if t := c.TLS; t != nil && (t.Enabled == nil || *t.Enabled) {
		cfg, err := t.config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	return opts, nil
}

// config builds the TLS configuration.
func (t *TLS) config() (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // the user's explicit choice, documented as for tests
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, &sdk.ConfigError{Path: "tls.ca_file", Msg: err.Error()}
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, &sdk.ConfigError{Path: "tls.ca_file", Msg: fmt.Sprintf("%s holds no PEM certificate", t.CAFile)}
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			// The error of LoadX509KeyPair names files and formats,
			// never key material.
			return nil, &sdk.ConfigError{Path: "tls.cert_file", Msg: err.Error()}
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
