package prestashoptest

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/synk-etl/synk/connectors/emulator"
	"github.com/synk-etl/synk/connectors/prestashop"
)

const maxBody = 8 << 20

// table is one resource's rows by id.
type table struct {
	next int64
	rows map[int64]prestashop.Object
}

// ids are the table's ids in order. Ids come from next, so counting up to
// it finds them all without a sort; views call this once per listed row, so
// a sort here made big lists quadratic with a large constant.
func (t *table) ids() []int64 {
	ids := make([]int64, 0, len(t.rows))
	if int64(len(t.rows)) <= t.next {
		for id := int64(1); id <= t.next && len(ids) < len(t.rows); id++ {
			if _, ok := t.rows[id]; ok {
				ids = append(ids, id)
			}
		}
		if len(ids) == len(t.rows) {
			return ids
		}
		ids = ids[:0]
	}
	for id := range t.rows {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (t *table) insert(o prestashop.Object) int64 {
	t.next++
	id := t.next
	o.Fields["id"] = strconv.FormatInt(id, 10)
	t.rows[id] = o
	return id
}

func wantsJSON(r *http.Request) bool {
	q := r.URL.Query()
	for _, v := range []string{r.Header.Get("Io-Format"), r.Header.Get("Output-Format"), q.Get("output_format"), q.Get("io_format")} {
		if strings.EqualFold(v, "JSON") {
			return true
		}
	}
	return false
}

const realm = `Basic realm="Welcome to PrestaShop Webservice, please enter the authentication key as the login. No password required."`

func (s *Server) handle(r *http.Request, method string) response {
	jsonOut := wantsJSON(r)
	q := r.URL.Query()
	key := q.Get("ws_key")
	if u, _, ok := r.BasicAuth(); ok {
		key = u
	}
	if key == "" {
		return response{status: http.StatusUnauthorized,
			header: http.Header{"Content-Type": {"text/plain"}, "Www-Authenticate": {realm}},
			body:   []byte("401 Unauthorized")}
	}
	if len(key) != 32 || key != s.opts.Key {
		resp := errorResponse(wsErr(http.StatusUnauthorized, 18, "Invalid authentication key format"), jsonOut)
		resp.header.Set("WWW-Authenticate", realm)
		return resp
	}
	resp := s.route(r, method, jsonOut)
	if resp.header == nil {
		resp.header = http.Header{}
	}
	resp.header.Set("PSWS-Version", s.opts.Version)
	return resp
}

func (s *Server) route(r *http.Request, method string, jsonOut bool) response {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete:
	case http.MethodPatch:
		if s.opts.Version == Version17 {
			return errorResponse(wsErr(http.StatusMethodNotAllowed, 23, "Method %s is not valid", method), jsonOut)
		}
	default:
		return errorResponse(wsErr(http.StatusMethodNotAllowed, 23, "Method %s is not valid", method), jsonOut)
	}
	path := strings.Trim(strings.TrimPrefix(r.URL.Path, "/api"), "/")
	if path == "" {
		return s.apiIndex(jsonOut)
	}
	parts := strings.Split(path, "/")
	fact, ok := s.facts[parts[0]]
	if !ok || len(parts) > 2 {
		return errorResponse(wsErr(http.StatusBadRequest, 27, "Resource of type \"%s\" does not exists. Did you mean: \"%s\"? The full list is: \"%s\"",
			parts[0], closest(parts[0], s.resourceNames()), strings.Join(s.resourceNames(), "\", \"")), jsonOut)
	}
	if !fact.Allows(method) {
		return errorResponse(wsErr(http.StatusMethodNotAllowed, 101, "Method %s is not allowed for the resource %s", method, fact.Name), jsonOut)
	}
	var urlID int64
	if len(parts) == 2 && parts[1] != "" {
		id, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil || id <= 0 {
			return response{status: http.StatusNotFound}
		}
		urlID = id
	}
	var body []byte
	if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			return errorResponse(wsErr(http.StatusBadRequest, 127, "XML error : %v", err), jsonOut)
		}
		body = b
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	write := emulator.IsWrite(method)
	s.kit.Count(method, fact.Name)
	var resp response
	var apiErr *apiError
	switch method {
	case http.MethodGet, http.MethodHead:
		if urlID != 0 {
			resp, apiErr = s.getOne(fact, urlID, r, jsonOut)
		} else {
			resp, apiErr = s.list(fact, r, jsonOut)
		}
	case http.MethodPost:
		resp, apiErr = s.create(fact, body, r, jsonOut)
	case http.MethodPut, http.MethodPatch:
		resp, apiErr = s.update(fact, method, urlID, body, r, jsonOut)
	case http.MethodDelete:
		resp, apiErr = s.remove(fact, urlID, r)
	}
	if apiErr != nil {
		if len(apiErr.items) == 0 {
			resp = response{status: apiErr.status}
		} else {
			resp = errorResponse(apiErr, jsonOut)
		}
	}
	if write {
		s.writes = append(s.writes, RecordedWrite{Method: method, Resource: fact.Name, Path: r.URL.Path, Body: body, Status: resp.status})
	}
	return resp
}

func (s *Server) resourceNames() []string {
	names := make([]string, 0, len(s.facts))
	for n := range s.facts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *Server) apiIndex(jsonOut bool) response {
	names := s.resourceNames()
	if jsonOut {
		var b strings.Builder
		b.WriteString(`{"api":{`)
		for i, n := range names {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `%s:{"description":%s}`, jsonString(n), jsonString("The "+strings.ReplaceAll(n, "_", " ")))
		}
		b.WriteString("}}")
		return response{status: http.StatusOK, header: http.Header{"Content-Type": {"application/json"}}, body: []byte(b.String())}
	}
	var b strings.Builder
	b.WriteString(xmlHeader + "<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n<api shopName=\"Nordlys Handel\">\n")
	for _, n := range names {
		f := s.facts[n]
		fmt.Fprintf(&b, "<%s xlink:href=\"%s/api/%s\" get=\"true\" put=\"%t\" post=\"%t\" patch=\"%t\" delete=\"%t\" head=\"true\">\n<description xlink:href=\"%s/api/%s\">The %s</description>\n</%s>\n",
			n, s.url, n, f.Allows("PUT"), f.Allows("POST"), f.Allows("PATCH") && s.opts.Version != Version17, f.Allows("DELETE"), s.url, n, strings.ReplaceAll(n, "_", " "), n)
	}
	b.WriteString("</api>\n</prestashop>\n")
	return response{status: http.StatusOK, header: http.Header{"Content-Type": {"text/xml;charset=utf-8"}}, body: []byte(b.String())}
}

func (s *Server) getOne(fact prestashop.ResourceFact, id int64, r *http.Request, jsonOut bool) (response, *apiError) {
	row, ok := s.tables[fact.Name].rows[id]
	if !ok {
		return response{}, &apiError{status: http.StatusNotFound}
	}
	disp, err := parseDisplay(fact, r.URL.Query().Get("display"), true)
	if err != nil {
		return response{}, err
	}
	lang, err := s.parseLanguage(r.URL.Query().Get("language"))
	if err != nil {
		return response{}, err
	}
	return s.renderOne(fact, s.view(fact.Name, row), disp, lang, jsonOut, http.StatusOK), nil
}

func (s *Server) list(fact prestashop.ResourceFact, r *http.Request, jsonOut bool) (response, *apiError) {
	lq, apiErr := s.parseListQuery(fact, r.URL.Query())
	if apiErr != nil {
		return response{}, apiErr
	}
	t := s.tables[fact.Name]
	idx := s.newViewIndex(fact.Name)
	var rows []prestashop.Object
	for _, id := range t.ids() {
		v := s.viewWith(fact.Name, t.rows[id], idx)
		if lq.match(v) {
			rows = append(rows, v)
		}
	}
	lq.sortRows(rows)
	if lq.offset > 0 {
		if lq.offset >= len(rows) {
			rows = nil
		} else {
			rows = rows[lq.offset:]
		}
	}
	if lq.limit >= 0 && lq.limit < len(rows) {
		rows = rows[:lq.limit]
	}
	return s.renderList(fact, rows, lq.display, lq.lang, jsonOut), nil
}

func (s *Server) remove(fact prestashop.ResourceFact, id int64, r *http.Request) (response, *apiError) {
	ids := []int64{}
	if id != 0 {
		ids = append(ids, id)
	} else if f := r.URL.Query().Get("filter[id]"); f != "" {
		for _, p := range strings.Split(strings.Trim(f, "[]"), "|") {
			n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
			if err != nil {
				return response{}, wsErr(http.StatusBadRequest, 33, "The filter \"id\" is malformed.")
			}
			ids = append(ids, n)
		}
	}
	if len(ids) == 0 {
		return response{}, wsErr(http.StatusBadRequest, 90, "id is required when modifying a resource")
	}
	t := s.tables[fact.Name]
	var missing []string
	for _, id := range ids {
		if _, ok := t.rows[id]; !ok {
			missing = append(missing, strconv.FormatInt(id, 10))
		}
	}
	if len(missing) > 0 {
		return response{}, wsErr(http.StatusNotFound, 87, "Id(s) not exists: %s", strings.Join(missing, ", "))
	}
	for _, id := range ids {
		s.deleteRow(fact.Name, id)
	}
	return response{status: http.StatusOK}, nil
}

func (s *Server) deleteRow(resource string, id int64) {
	delete(s.tables[resource].rows, id)
	switch resource {
	case "products":
		for sid, st := range s.tables["stock_availables"].rows {
			if st.Fields["id_product"] == strconv.FormatInt(id, 10) {
				delete(s.tables["stock_availables"].rows, sid)
			}
		}
	case "combinations":
		for sid, st := range s.tables["stock_availables"].rows {
			if st.Fields["id_product_attribute"] == strconv.FormatInt(id, 10) {
				delete(s.tables["stock_availables"].rows, sid)
			}
		}
	}
}

// closest returns the candidate nearest to name by edit distance, for
// PrestaShop's "Did you mean" hints.
func closest(name string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
