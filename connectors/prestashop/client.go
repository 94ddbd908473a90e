package prestashop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/sourcegraph/conc/pool"
)

// maxResponse bounds a response body; a page of 1000 full orders is far
// below it.
const maxResponse = 256 << 20

// ClientOptions tune a Client.
type ClientOptions struct {
	// Auth is "basic" (default: the key as HTTP Basic user) or "query"
	// (ws_key in the URL, for hosts whose proxy drops Authorization).
	Auth string
	// Shop is the multistore id_shop sent with every request (0 = none).
	Shop int64
}

// Client is a plain PrestaShop webservice client: XML in and out, typed
// errors, no retries of its own (the http.Client's transport has them).
type Client struct {
	http *http.Client
	api  string // shop root + "/api"
	key  string
	opts ClientOptions

	mu      sync.Mutex
	version string
}

// NewClient returns a client for the shop at baseURL (the shop root; a
// trailing /api is accepted too).
func NewClient(httpClient *http.Client, baseURL, key string, opts ClientOptions) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	base := strings.TrimRight(baseURL, "/")
	base = strings.TrimSuffix(base, "/api")
	return &Client{http: httpClient, api: base + "/api", key: key, opts: opts}
}

// String never shows the key.
func (c *Client) String() string { return "prestashop.Client(" + c.api + ")" }

// APIError is a webservice error: HTTP status, the request's method and
// path (never the query, which may hold ws_key), and the <errors> items.
type APIError struct {
	Status int
	Method string
	Path   string
	// Code and Message are the first <error>; Errors has them all.
	Code    int
	Message string
	Errors  []ErrorItem
	// Body is the start of a body that was not an error document.
	Body string
}

// Error describes the failure with a hint for the common causes.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "prestashop %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	for _, it := range e.Errors {
		fmt.Fprintf(&b, "; [%d] %s", it.Code, it.Message)
	}
	if len(e.Errors) == 0 && e.Body != "" {
		fmt.Fprintf(&b, ": %s", e.Body)
	}
	if h := e.Hint(); h != "" {
		b.WriteString(" (hint: " + h + ")")
	}
	return b.String()
}

// Hint says what usually fixes the error, or "".
func (e *APIError) Hint() string {
	switch {
	case e.Status == http.StatusUnauthorized && len(e.Errors) == 0:
		return "no key reached PrestaShop; if the key is right, a proxy may drop the Authorization header: set auth: query"
	case e.Status == http.StatusUnauthorized:
		return "check the webservice key and that it is active with permissions for this resource"
	case e.Code == 93:
		return "a read-only field was sent; remove it from the mapping"
	case e.Code == 41:
		return "a required field is missing; map it, or check the shop's extra required fields"
	case e.Code == 22:
		return "enable the webservice in the back office (Advanced Parameters > Webservice)"
	case e.Code == 133:
		return "the product uses advanced stock management (depends_on_stock=1); change stock in the warehouse instead"
	}
	return ""
}

// Retryable reports whether the same request may succeed later.
func (e *APIError) Retryable() bool {
	switch e.Code {
	case 127, 133, 85, 84:
		return false
	}
	return e.Status == http.StatusTooManyRequests || e.Status >= 500 && e.Status != http.StatusNotImplemented
}

// Version returns the webservice's PrestaShop version, from the
// PSWS-Version header of the last answer (asking the API index when no
// request was made yet).
func (c *Client) Version(ctx context.Context) (string, error) {
	c.mu.Lock()
	v := c.version
	c.mu.Unlock()
	if v != "" {
		return v, nil
	}
	if _, err := c.do(ctx, http.MethodGet, "", nil, nil); err != nil {
		return "", fmt.Errorf("read webservice version: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version == "" {
		return "", errors.New("read webservice version: no PSWS-Version header")
	}
	return c.version, nil
}

// SupportsPatch reports whether updates may use PATCH (PrestaShop 8 and
// later); 1.7 only knows full-record PUT.
func (c *Client) SupportsPatch(ctx context.Context) (bool, error) {
	v, err := c.Version(ctx)
	if err != nil {
		return false, err
	}
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return false, fmt.Errorf("parse webservice version %q: %w", v, err)
	}
	return n >= 8, nil
}

// Ping asks for the API index: it proves the key and reads the version.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "", nil, nil)
	return err
}

// ListQuery is one list request.
type ListQuery struct {
	// Display is "full" (default), or "[f1,f2]".
	Display string
	// Filters maps a field to a filter value ("[1|2]", "[a,b]", ">[5]").
	Filters map[string]string
	// Sort is e.g. "[id_ASC]"; Date must be set to sort or filter on
	// date_add/date_upd.
	Sort string
	Date bool
	// Offset and Limit page the list; Limit 0 means no limit.
	Offset, Limit int
}

func (q ListQuery) values() url.Values {
	v := url.Values{}
	d := q.Display
	if d == "" {
		d = "full"
	}
	v.Set("display", d)
	for f, x := range q.Filters {
		v.Set("filter["+f+"]", x)
	}
	if q.Sort != "" {
		v.Set("sort", q.Sort)
	}
	if q.Date {
		v.Set("date", "1")
	}
	if q.Limit > 0 {
		if q.Offset > 0 {
			v.Set("limit", strconv.Itoa(q.Offset)+","+strconv.Itoa(q.Limit))
		} else {
			v.Set("limit", strconv.Itoa(q.Limit))
		}
	}
	return v
}

// List reads one page of a resource.
func (c *Client) List(ctx context.Context, resource string, q ListQuery) ([]Object, error) {
	doc, err := c.do(ctx, http.MethodGet, resource, q.values(), nil)
	if err != nil {
		return nil, err
	}
	if !doc.List && len(doc.Objects) > 0 {
		return nil, fmt.Errorf("list %s: answer is one <%s>, not a list", resource, doc.Node)
	}
	return doc.Objects, nil
}

// listPagesFrom reads every page of a resource from record offset start,
// sorted by id, pageSize records a page with up to parallel pages in
// flight. There is no total count, so it stops at the first short page;
// the pages in flight at once double from one up to parallel, so a list
// that ends soon is not read past its end by parallel-1 empty pages.
// prep runs on each page as soon as it arrives, concurrently like the page
// requests themselves (so a page's follow-up request, such as its
// customers' addresses, overlaps the other pages), and fn gets the page
// with prep's result, in page order.
func (c *Client) listPagesFrom(ctx context.Context, resource string, q ListQuery, start, pageSize, parallel int,
	prep func(context.Context, []Object) (any, error), fn func([]Object, any) error) error {
	if pageSize <= 0 {
		pageSize = 100
	}
	if parallel <= 0 {
		parallel = 1
	}
	if q.Sort == "" {
		q.Sort = "[id_ASC]"
	}
	for first, batch := 0, 1; ; first, batch = first+batch, min(2*batch, parallel) {
		pages := make([][]Object, batch)
		extras := make([]any, batch)
		p := pool.New().WithErrors().WithContext(ctx).WithCancelOnError()
		for i := range batch {
			pq := q
			pq.Offset, pq.Limit = start+(first+i)*pageSize, pageSize
			p.Go(func(ctx context.Context) error {
				objs, err := c.List(ctx, resource, pq)
				if err != nil {
					return fmt.Errorf("list %s offset %d: %w", resource, pq.Offset, err)
				}
				pages[i] = objs
				if prep != nil && len(objs) > 0 {
					if extras[i], err = prep(ctx, objs); err != nil {
						return fmt.Errorf("list %s offset %d: %w", resource, pq.Offset, err)
					}
				}
				return nil
			})
		}
		if err := p.Wait(); err != nil {
			return err
		}
		for i, page := range pages {
			if len(page) > 0 {
				if err := fn(page, extras[i]); err != nil {
					return err
				}
			}
			if len(page) < pageSize {
				return nil
			}
		}
	}
}

// Get reads one object; found is false on 404.
func (c *Client) Get(ctx context.Context, resource string, id int64) (obj Object, found bool, err error) {
	doc, err := c.do(ctx, http.MethodGet, resource+"/"+strconv.FormatInt(id, 10), nil, nil)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return Object{}, false, nil
	}
	if err != nil {
		return Object{}, false, err
	}
	if len(doc.Objects) != 1 {
		return Object{}, false, fmt.Errorf("get %s %d: %d objects in answer", resource, id, len(doc.Objects))
	}
	return doc.Objects[0], true, nil
}

// Create POSTs a new object and returns it as saved.
func (c *Client) Create(ctx context.Context, resource, node string, o Object, order []string) (Object, error) {
	return c.write(ctx, http.MethodPost, resource, node, o, order)
}

// Patch sends only o's fields (PrestaShop 8); o must carry its id.
func (c *Client) Patch(ctx context.Context, resource, node string, o Object, order []string) (Object, error) {
	return c.write(ctx, http.MethodPatch, resource, node, o, order)
}

// Put replaces the object with o: writable fields o lacks are emptied.
func (c *Client) Put(ctx context.Context, resource, node string, o Object, order []string) (Object, error) {
	return c.write(ctx, http.MethodPut, resource, node, o, order)
}

func (c *Client) write(ctx context.Context, method, resource, node string, o Object, order []string) (Object, error) {
	path := resource
	if method != http.MethodPost {
		id := o.Fields["id"]
		if id == "" {
			return Object{}, fmt.Errorf("%s %s: no id", method, resource)
		}
		path += "/" + id
	}
	doc, err := c.do(ctx, method, path, nil, EncodeXML(node, o, order))
	if err != nil {
		return Object{}, err
	}
	if len(doc.Objects) != 1 {
		return Object{}, fmt.Errorf("%s %s: %d objects in answer", method, resource, len(doc.Objects))
	}
	return doc.Objects[0], nil
}

// Delete removes one object.
func (c *Client) Delete(ctx context.Context, resource string, id int64) error {
	_, err := c.do(ctx, http.MethodDelete, resource+"/"+strconv.FormatInt(id, 10), nil, nil)
	return err
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte) (Document, error) {
	if q == nil {
		q = url.Values{}
	}
	if c.opts.Auth == "query" {
		q.Set("ws_key", c.key)
	}
	if c.opts.Shop > 0 {
		q.Set("id_shop", strconv.FormatInt(c.opts.Shop, 10))
	}
	u := c.api + "/" + path
	if len(q) > 0 {
		u += "?" + encodeQuery(q)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return Document{}, fmt.Errorf("prestashop %s /api/%s: %w", method, path, redact(err, c.key))
	}
	if c.opts.Auth != "query" {
		req.SetBasicAuth(c.key, "")
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	}
	req.Header.Set("Accept", "text/xml")
	resp, err := c.http.Do(req)
	if err != nil {
		return Document{}, fmt.Errorf("prestashop %s /api/%s: %w", method, path, redact(err, c.key))
	}
	defer resp.Body.Close()
	if v := resp.Header.Get("PSWS-Version"); v != "" {
		c.mu.Lock()
		c.version = v
		c.mu.Unlock()
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return Document{}, fmt.Errorf("prestashop %s /api/%s: read body: %w", method, path, redact(err, c.key))
	}
	if resp.StatusCode >= 300 {
		e := &APIError{Status: resp.StatusCode, Method: method, Path: "/api/" + path}
		if doc, derr := DecodeXML(data); derr == nil && len(doc.Errors) > 0 {
			e.Errors = doc.Errors
			e.Code, e.Message = doc.Errors[0].Code, doc.Errors[0].Message
		} else {
			e.Body = strings.ReplaceAll(truncate(strings.TrimSpace(string(data)), 300), c.key, "<key>")
		}
		return Document{}, e
	}
	if len(bytes.TrimSpace(data)) == 0 || path == "" {
		// The API index lists resources, not objects; callers only need
		// its status and headers.
		return Document{}, nil
	}
	doc, err := DecodeXML(data)
	if err != nil {
		return Document{}, fmt.Errorf("prestashop %s /api/%s: %w", method, path, err)
	}
	return doc, nil
}

// encodeQuery writes a query with brackets left readable, as PrestaShop
// examples do; both forms are accepted.
func encodeQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	return b.String()
}

// redact removes the key from an error that may quote the URL (ws_key).
func redact(err error, key string) error {
	if key == "" || !strings.Contains(err.Error(), key) {
		return err
	}
	return redactedError{msg: strings.ReplaceAll(err.Error(), key, "<key>"), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }

// Unwrap keeps errors.Is working (context.Canceled, net errors) while the
// message stays free of the key.
func (e redactedError) Unwrap() error { return e.err }
