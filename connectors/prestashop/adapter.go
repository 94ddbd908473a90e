package prestashop

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/synk-etl/synk/pipeline"
)

// Register adds the "prestashop" connector type.
func Register(reg *pipeline.Registry) {
	reg.Register(pipeline.ConnectorType{
		Name:      "prestashop",
		NewConfig: func() any { return &Config{} },
		Resources: func(config any) ([]pipeline.Resource, error) {
			cfg, ok := config.(*Config)
			if !ok {
				return nil, fmt.Errorf("prestashop: config is %T, want *prestashop.Config", config)
			}
			res := Resources()
			for i := range res {
				if res[i].ModifiedField != "" && cfg.Timezone != "" {
					res[i].ModifiedZone = cfg.Timezone
				}
			}
			return res, nil
		},
		Open: func(ctx context.Context, env pipeline.Env, config any) (pipeline.Connector, error) {
			cfg, ok := config.(*Config)
			if !ok {
				return nil, fmt.Errorf("prestashop: config is %T, want *prestashop.Config", config)
			}
			return Open(ctx, env, cfg)
		},
		DefaultLimits: pipeline.Limits{MaxInFlight: DefaultConcurrency},
	})
}

// Connector is an open PrestaShop connection. It implements
// pipeline.Source, Sink, Finder, Getter and Checker.
type Connector struct {
	client   *Client
	s        settings
	facts    map[string]ResourceFact
	specs    map[string]resSpec
	log      *slog.Logger
	parallel int

	mu       sync.Mutex
	taxRates map[int64]float64
	// currencyCodes and countryCodes map the shop's ids to ISO codes,
	// read once per connection (see orderplace.go).
	currencyCodes, countryCodes map[int64]string
	languages                   []string

	stateMu sync.Mutex
	states  map[string]int64 // order state name → id, found or created
}

// Open opens a connection; it makes no request.
func Open(_ context.Context, env pipeline.Env, cfg *Config) (*Connector, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, fmt.Errorf("prestashop %s: %w", env.Connection, err)
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	parallel := s.Concurrency
	if env.Limiter != nil {
		if m := env.Limiter.Limits().MaxInFlight; m > 0 {
			parallel = m
		}
	}
	c := &Connector{
		client:   NewClient(env.HTTP, s.URL, s.Key, ClientOptions{Auth: s.Auth, Shop: s.Shop}),
		s:        s,
		facts:    Facts(),
		specs:    map[string]resSpec{},
		log:      log,
		parallel: parallel,
		states:   map[string]int64{},
	}
	for _, sp := range specs() {
		c.specs[sp.name] = sp
	}
	return c, nil
}

// Client returns the connection's webservice client.
func (c *Connector) Client() *Client { return c.client }

func (c *Connector) lookup(resource string) (resSpec, ResourceFact, error) {
	sp, ok := c.specs[resource]
	if !ok {
		return resSpec{}, ResourceFact{}, fmt.Errorf("prestashop: unknown resource %q", resource)
	}
	return sp, c.facts[resource], nil
}

// The capabilities the engine finds by type assertion.
var (
	_ pipeline.Source  = (*Connector)(nil)
	_ pipeline.Sink    = (*Connector)(nil)
	_ pipeline.Finder  = (*Connector)(nil)
	_ pipeline.Getter  = (*Connector)(nil)
	_ pipeline.Checker = (*Connector)(nil)
)
