package fiken

// Account names the Fiken company this connection reaches, so connections
// to one company in one process share its limits (one request in flight).
func (c *Config) Account() string { return "fiken " + c.baseURL() + " " + c.Company }
