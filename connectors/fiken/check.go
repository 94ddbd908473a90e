package fiken

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/synk-etl/synk/pipeline"
)

// Check implements pipeline.Checker: token, company and API module,
// accounts, bank account, invoice counter.
func (c *Connector) Check(ctx context.Context) []pipeline.CheckResult {
	var out []pipeline.CheckResult
	add := func(name string, err error, okDetail string) bool {
		if err != nil {
			out = append(out, pipeline.CheckResult{Name: name, OK: false, Detail: err.Error()})
			return false
		}
		out = append(out, pipeline.CheckResult{Name: name, OK: true, Detail: okDetail})
		return true
	}
	if _, err := c.client.User(ctx); !add("fiken token", err, "accepted") {
		return out
	}
	co, err := c.client.GetCompany(ctx)
	if err == nil && !co.HasAPIAccess {
		err = errors.New("the company has no API access: activate Fiken's API module (Innstillinger → Moduler → API)")
	}
	if !add("fiken company", err, fmt.Sprintf("%s (%s)", co.Name, c.client.Company())) {
		return out
	}
	accounts, err := c.client.ListAccounts(ctx, nil)
	if err == nil {
		var missing []string
		for _, want := range []string{"1500", "3000"} {
			found := false
			for _, a := range accounts {
				if a.Code == want {
					found = true
				}
			}
			if !found {
				missing = append(missing, want)
			}
		}
		if len(missing) > 0 {
			err = fmt.Errorf("accounts %s are missing from the chart of accounts", strings.Join(missing, ", "))
		}
	}
	add("fiken accounts", err, fmt.Sprintf("%d accounts, 1500 and 3000 present", len(accounts)))
	banks, err := c.client.ListBankAccounts(ctx, url.Values{"inactive": {"false"}})
	var codes []string
	for _, b := range banks {
		codes = append(codes, b.AccountCode)
	}
	if err == nil && len(banks) == 0 {
		err = errors.New("no active bank account: invoices need a bankAccountCode (1920:xxxxx)")
	}
	add("fiken bank account", err, strings.Join(codes, ", "))
	counter, err := c.client.GetInvoiceCounter(ctx)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		err = errors.New("the invoice counter is not initialised, so the first invoice will fail: " + hintFor(0, "invoice counter"))
	}
	add("fiken invoice counter", err, fmt.Sprintf("next invoice number %d", counter.Value+1))
	return out
}
