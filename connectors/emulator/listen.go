package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Listener serves an emulator's handler over real TCP, as every test and
// `synk emulate` talk to it.
type Listener struct {
	ln       net.Listener
	srv      *http.Server
	serveErr chan error
}

// Listen opens addr (default 127.0.0.1:0, a free port); Serve starts
// answering on it, so that the caller can learn its URL first.
func Listen(addr string) (*Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return &Listener{ln: ln, serveErr: make(chan error, 1)}, nil
}

// Serve answers requests with h until Close, Shutdown or Stop.
func (l *Listener) Serve(h http.Handler) {
	l.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { l.serveErr <- l.srv.Serve(l.ln) }()
}

// URL is http://host:port of the listener.
func (l *Listener) URL() string { return "http://" + l.ln.Addr().String() }

// Close stops serving at once, dropping connections in flight.
func (l *Listener) Close() error {
	err := l.srv.Close()
	if serr := <-l.serveErr; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Shutdown stops serving once the requests in flight are answered, or
// when ctx ends.
func (l *Listener) Shutdown(ctx context.Context) error { return l.srv.Shutdown(ctx) }

// Stop shuts down gracefully for up to 2 s, then closes.
func (l *Listener) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := l.Shutdown(ctx); err != nil {
		return l.Close()
	}
	return nil
}
