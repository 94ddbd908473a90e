package prestashop

import "strings"

// Account names the shop this connection reaches, so connections to one
// shop in one process share its limits.
func (c *Config) Account() string {
	return "prestashop " + strings.TrimRight(strings.ToLower(c.URL), "/")
}
