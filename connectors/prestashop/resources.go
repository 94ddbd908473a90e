package prestashop

import (
	"github.com/synk-etl/synk/pipeline"
)

// resSpec is how synk uses one webservice resource.
type resSpec struct {
	name string
	// since is the date field incremental reads filter on ("" = full reads).
	since                  string
	create, update, delete bool
	active                 string
	// writable limits the fields a sink writes; nil = every field the
	// facts allow.
	writable []string
}

func specs() []resSpec {
	return []resSpec{
		{name: "products", since: "date_upd", create: true, update: true, delete: true, active: "active"},
		{name: "combinations", create: true, update: true, delete: true},
		{name: "stock_availables", update: true, writable: []string{"quantity", "out_of_stock", "location"}},
		{name: "customers", since: "date_upd", create: true, update: true, delete: true, active: "active"},
		{name: "addresses", since: "date_upd", create: true, update: true, delete: true},
		{name: "orders", since: "date_upd", update: true, writable: []string{"current_state", "note"}},
		{name: "order_details"},
		{name: "order_states", create: true, update: true},
		{name: "order_histories", since: "date_add", create: true},
		{name: "order_payments", since: "date_add"},
		{name: "currencies"},
		{name: "countries"},
		{name: "taxes"},
		{name: "tax_rules"},
		{name: "tax_rule_groups", since: "date_upd"},
	}
}

// hiddenFields are read but never exposed: password hashes and tokens.
func hiddenField(resource, field string) bool {
	switch field {
	case "passwd", "secure_key", "reset_password_token", "reset_password_validity", "last_passwd_gen":
		return resource == "customers" || resource == "orders"
	}
	return false
}

// computedField reports the fields synk adds to a resource's records;
// they are never sent as such (customers.address is written by Create and
// Update through the addresses resource).
func computedField(resource, field string) bool {
	switch resource + "." + field {
	case "products.tax_rate", "orders.order_rows", "orders.state_name", "orders.currency", "orders.delivery_country", "customers.address", "stock_availables.reference":
		return true
	}
	return false
}

// orderRowFields are the element fields of orders.order_rows.
func orderRowFields() []pipeline.Field {
	return []pipeline.Field{
		{Name: "id", Type: pipeline.TypeInt, ReadOnly: true},
		{Name: "product_id", Type: pipeline.TypeInt, ReadOnly: true},
		{Name: "product_attribute_id", Type: pipeline.TypeInt, ReadOnly: true},
		{Name: "product_quantity", Type: pipeline.TypeInt, ReadOnly: true},
		{Name: "product_name", Type: pipeline.TypeString, ReadOnly: true},
		{Name: "product_reference", Type: pipeline.TypeString, ReadOnly: true},
		{Name: "product_ean13", Type: pipeline.TypeString, ReadOnly: true},
		{Name: "product_isbn", Type: pipeline.TypeString, ReadOnly: true},
		{Name: "product_upc", Type: pipeline.TypeString, ReadOnly: true},
		{Name: "product_price", Type: pipeline.TypeFloat, ReadOnly: true},
		{Name: "id_customization", Type: pipeline.TypeInt, ReadOnly: true},
		{Name: "unit_price_tax_incl", Type: pipeline.TypeFloat, ReadOnly: true},
		{Name: "unit_price_tax_excl", Type: pipeline.TypeFloat, ReadOnly: true},
	}
}

// addressFields are the members of customers.address: the address fields
// a customer's address can be written with (not its id or id_customer,
// which synk keeps).
func addressFields() []pipeline.Field {
	var out []pipeline.Field
	for _, f := range addressFacts(Facts()["addresses"]) {
		out = append(out, pipeline.Field{Name: f.Name, Type: f.PipelineType()})
	}
	return out
}

func addressFacts(fact ResourceFact) []FieldFact {
	var out []FieldFact
	for _, f := range fact.Fields {
		if f.Writable() && f.Name != "id" && f.Name != "id_customer" && f.Kind != KindVirtual {
			out = append(out, f)
		}
	}
	return out
}

// Resources declares the resources and typed fields; no I/O.
func Resources() []pipeline.Resource {
	facts := Facts()
	var out []pipeline.Resource
	for _, sp := range specs() {
		fact := facts[sp.name]
		r := pipeline.Resource{Name: sp.name, Key: "id", Incremental: sp.since != "",
			Create: sp.create, Update: sp.update, Delete: sp.delete, ActiveField: sp.active}
		if _, ok := fact.Field("date_upd"); ok {
			// The shop's local time to the second, no zone in the value:
			// the connection's timezone (default Europe/Oslo) says which.
			r.ModifiedField, r.ModifiedZone = "date_upd", DefaultTimezone
		}
		for _, f := range fact.Fields {
			if f.Hidden || hiddenField(sp.name, f.Name) {
				continue
			}
			ro := !sp.writableField(f)
			r.Fields = append(r.Fields, pipeline.Field{Name: f.Name, Type: f.PipelineType(), ReadOnly: ro})
			if f.I18n {
				r.Fields = append(r.Fields, pipeline.Field{Name: f.Name + "_i18n", Type: pipeline.TypeObject, ReadOnly: ro})
			}
		}
		switch sp.name {
		case "products":
			r.Fields = append(r.Fields, pipeline.Field{Name: "tax_rate", Type: pipeline.TypeFloat, ReadOnly: true})
		case "orders":
			r.Fields = append(r.Fields, pipeline.Field{Name: "order_rows", Type: pipeline.TypeList, ReadOnly: true, Fields: orderRowFields()},
				// The current state's name; writing a name sets the state,
				// creating it in the shop if missing (see SetOrderState).
				pipeline.Field{Name: "state_name", Type: pipeline.TypeString},
				// The order's currency (ISO 4217) and the country its goods
				// were delivered to (ISO 3166 alpha-2): see orderplace.go.
				pipeline.Field{Name: "currency", Type: pipeline.TypeString, ReadOnly: true},
				pipeline.Field{Name: "delivery_country", Type: pipeline.TypeString, ReadOnly: true})
		case "customers":
			r.Fields = append(r.Fields, pipeline.Field{Name: "address", Type: pipeline.TypeObject, Fields: addressFields()})
		case "stock_availables":
			r.Fields = append(r.Fields, pipeline.Field{Name: "reference", Type: pipeline.TypeString, ReadOnly: true})
		}
		out = append(out, r)
	}
	return append(out, slipResource())
}

func (sp resSpec) writableField(f FieldFact) bool {
	if f.Name == "id" || !f.Writable() || f.Kind == KindVirtual || !(sp.create || sp.update) {
		return false
	}
	if sp.writable == nil {
		return true
	}
	for _, w := range sp.writable {
		if w == f.Name {
			return true
		}
	}
	return false
}

func kindOf(t pipeline.FieldType) Kind {
	switch t {
	case pipeline.TypeInt:
		return KindInt
	case pipeline.TypeFloat:
		return KindFloat
	case pipeline.TypeBool:
		return KindBool
	}
	return KindString
}
