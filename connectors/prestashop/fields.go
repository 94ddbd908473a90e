package prestashop

// Field facts for the PrestaShop webservice resources synk uses. The tables
// are derived from the project's PrestaShop 8.2.4 resource spec (types,
// required, read-only, max sizes, multilingual); countries and order_slip
// are not in that spec and are written by hand from PrestaShop's source
// (ResourceFact.Source names the file).

import (
	"slices"

	"github.com/synk-etl/synk/pipeline"
)

// Kind is how PrestaShop stores a field.
type Kind uint8

// Storage kinds, as in PrestaShop's ObjectModel definitions. KindVirtual
// fields exist only in the webservice layer (computed on read, or written
// through a hook).
const (
	KindInt Kind = iota
	KindBool
	KindString
	KindFloat
	KindDate
	KindHTML
	KindVirtual
)

// FieldFact is what PrestaShop says about one field of a resource.
type FieldFact struct {
	Name string
	Kind Kind
	// Virtual is the value type of a KindVirtual field: "int" or "string".
	Virtual string
	// Required fields must be present on POST and PUT (else error 41).
	Required bool
	// ReadOnly fields are refused on writes (error 93).
	ReadOnly bool
	// I18n fields hold one value per language.
	I18n bool
	// ServerSets fields (date_add, date_upd) are set by PrestaShop on save.
	ServerSets bool
	// NotFilterable fields give error 34 in filter[...].
	NotFilterable bool
	// Hidden fields are neither output nor filterable.
	Hidden bool
	// MaxSize is the maximum length in characters (0 = unlimited).
	MaxSize int
	// Nullable fields may be written empty.
	Nullable bool
	// Min and Max bound an int field when both are not zero.
	Min, Max int64
	// Enum lists the accepted values of a string field, when restricted.
	Enum []string
}

// AssocField is one field of an association item.
type AssocField struct {
	Name     string
	Required bool
	ReadOnly bool
}

// AssocFact describes one association of a resource (categories of a
// product, order rows of an order).
type AssocFact struct {
	Name     string
	ItemNode string
	// Writable is false for associations the server computes.
	Writable bool
	// Virtual associations (order_rows) are not backed by an API resource.
	Virtual bool
	Fields  []AssocField
}

// ResourceFact describes one webservice resource.
type ResourceFact struct {
	Name     string
	Node     string
	ListNode string
	// Source names the PrestaShop source file the facts were written from
	// by hand; empty for resources taken from the resource spec.
	Source string
	// Methods are the HTTP methods the resource accepts on 8.x.
	Methods      []string
	Fields       []FieldFact
	Associations []AssocFact
}

// Field returns the named field.
func (r ResourceFact) Field(name string) (FieldFact, bool) {
	for _, f := range r.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return FieldFact{}, false
}

// Association returns the named association.
func (r ResourceFact) Association(name string) (AssocFact, bool) {
	for _, a := range r.Associations {
		if a.Name == name {
			return a, true
		}
	}
	return AssocFact{}, false
}

// Allows reports whether the resource accepts the HTTP method on 8.x.
func (r ResourceFact) Allows(method string) bool { return slices.Contains(r.Methods, method) }

// Writable reports whether a client may send the field: not read-only, not
// hidden and not set by the server.
func (f FieldFact) Writable() bool { return !f.ReadOnly && !f.Hidden && !f.ServerSets }

// PipelineType is the pipeline type a field's values are exposed as.
// Dates stay PrestaShop's "2006-01-02 15:04:05" strings.
func (f FieldFact) PipelineType() pipeline.FieldType {
	switch f.Kind {
	case KindInt:
		return pipeline.TypeInt
	case KindBool:
		return pipeline.TypeBool
	case KindFloat:
		return pipeline.TypeFloat
	case KindVirtual:
		if f.Virtual == "int" {
			return pipeline.TypeInt
		}
	}
	return pipeline.TypeString
}

// Facts returns the field facts of every resource synk knows, as a new
// table the caller may keep.
func Facts() map[string]ResourceFact {
	m := make(map[string]ResourceFact, 16)
	for _, r := range factTable() {
		m[r.Name] = r
	}
	return m
}

func factTable() []ResourceFact {
	return []ResourceFact{
		{Name: "products", Node: "product", ListNode: "products", Methods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "id_manufacturer", Kind: KindInt},
			{Name: "id_supplier", Kind: KindInt},
			{Name: "id_category_default", Kind: KindInt},
			{Name: "new", Kind: KindVirtual, Virtual: "string"},
			{Name: "cache_default_attribute", Kind: KindInt},
			{Name: "id_default_image", Kind: KindVirtual, Virtual: "int", NotFilterable: true},
			{Name: "id_default_combination", Kind: KindVirtual, Virtual: "int", NotFilterable: true},
			{Name: "id_tax_rules_group", Kind: KindInt},
			{Name: "position_in_category", Kind: KindVirtual, Virtual: "int", NotFilterable: true},
			{Name: "manufacturer_name", Kind: KindVirtual, Virtual: "string", ReadOnly: true, NotFilterable: true},
			{Name: "quantity", Kind: KindVirtual, Virtual: "int", ReadOnly: true, NotFilterable: true},
			{Name: "type", Kind: KindVirtual, Virtual: "string", NotFilterable: true},
			{Name: "id_shop_default", Kind: KindInt},
			{Name: "reference", Kind: KindString, MaxSize: 64},
			{Name: "supplier_reference", Kind: KindString, MaxSize: 64},
			{Name: "location", Kind: KindString, MaxSize: 255},
			{Name: "width", Kind: KindFloat},
			{Name: "height", Kind: KindFloat},
			{Name: "depth", Kind: KindFloat},
			{Name: "weight", Kind: KindFloat},
			{Name: "quantity_discount", Kind: KindBool},
			{Name: "ean13", Kind: KindString, MaxSize: 13},
			{Name: "isbn", Kind: KindString, MaxSize: 32},
			{Name: "upc", Kind: KindString, MaxSize: 12},
			{Name: "mpn", Kind: KindString, MaxSize: 40},
			{Name: "cache_is_pack", Kind: KindBool},
			{Name: "cache_has_attachments", Kind: KindBool},
			{Name: "is_virtual", Kind: KindBool},
			{Name: "state", Kind: KindInt},
			{Name: "additional_delivery_times", Kind: KindInt},
			{Name: "delivery_in_stock", Kind: KindString, I18n: true, MaxSize: 255},
			{Name: "delivery_out_stock", Kind: KindString, I18n: true, MaxSize: 255},
			{Name: "product_type", Kind: KindString, Enum: []string{"standard", "pack", "virtual", "combinations", ""}},
			{Name: "on_sale", Kind: KindBool},
			{Name: "online_only", Kind: KindBool},
			{Name: "ecotax", Kind: KindFloat},
			{Name: "minimal_quantity", Kind: KindInt},
			{Name: "low_stock_threshold", Kind: KindInt, Nullable: true},
			{Name: "low_stock_alert", Kind: KindBool},
			{Name: "price", Kind: KindFloat, Required: true},
			{Name: "wholesale_price", Kind: KindFloat},
			{Name: "unity", Kind: KindString},
			{Name: "unit_price", Kind: KindFloat},
			{Name: "unit_price_ratio", Kind: KindFloat},
			{Name: "additional_shipping_cost", Kind: KindFloat},
			{Name: "customizable", Kind: KindInt},
			{Name: "text_fields", Kind: KindInt},
			{Name: "uploadable_files", Kind: KindInt},
			{Name: "active", Kind: KindBool},
			{Name: "redirect_type", Kind: KindString},
			{Name: "id_type_redirected", Kind: KindInt},
			{Name: "available_for_order", Kind: KindBool},
			{Name: "available_date", Kind: KindDate},
			{Name: "show_condition", Kind: KindBool},
			{Name: "condition", Kind: KindString, Enum: []string{"new", "used", "refurbished"}},
			{Name: "show_price", Kind: KindBool},
			{Name: "indexed", Kind: KindBool},
			{Name: "visibility", Kind: KindString, Enum: []string{"both", "catalog", "search", "none"}},
			{Name: "advanced_stock_management", Kind: KindBool},
			{Name: "date_add", Kind: KindDate, ServerSets: true},
			{Name: "date_upd", Kind: KindDate, ServerSets: true},
			{Name: "pack_stock_type", Kind: KindInt},
			{Name: "meta_description", Kind: KindString, I18n: true, MaxSize: 512},
			{Name: "meta_keywords", Kind: KindString, I18n: true, MaxSize: 255},
			{Name: "meta_title", Kind: KindString, I18n: true, MaxSize: 255},
			{Name: "link_rewrite", Kind: KindString, I18n: true, MaxSize: 128},
			{Name: "name", Kind: KindString, I18n: true, MaxSize: 128},
			{Name: "description", Kind: KindHTML, I18n: true, MaxSize: 4194303},
			{Name: "description_short", Kind: KindHTML, I18n: true, MaxSize: 4194303},
			{Name: "available_now", Kind: KindString, I18n: true, MaxSize: 255},
			{Name: "available_later", Kind: KindString, I18n: true, MaxSize: 255},
		}, Associations: []AssocFact{
			{Name: "categories", ItemNode: "category", Writable: true, Virtual: false, Fields: []AssocField{{Name: "id", Required: true}}},
			{Name: "images", ItemNode: "image", Writable: true, Virtual: false, Fields: []AssocField{{Name: "id"}}},
			{Name: "combinations", ItemNode: "combination", Writable: true, Virtual: false, Fields: []AssocField{{Name: "id", Required: true}}},
			{Name: "product_option_values", ItemNode: "product_option_value", Writable: true, Virtual: false, Fields: []AssocField{{Name: "id", Required: true}}},
			{Name: "product_features", ItemNode: "product_feature", Writable: true, Virtual: false, Fields: []AssocField{{Name: "id", Required: true}, {Name: "id_feature_value", Required: true}}},
			{Name: "tags", ItemNode: "tag", Writable: true, Virtual: false, Fields: []AssocField{{Name: "id", Required: true}}},
			{Name: "stock_availables", ItemNode: "stock_available", Writable: false, Virtual: false, Fields: []AssocField{{Name: "id", Required: true}, {Name: "id_product_attribute", Required: true}}},
			{Name: "attachments", ItemNode: "attachment", Writable: true, Virtual: false, Fields: []AssocField{{Name: "id", Required: true}}},
			{Name: "accessories", ItemNode: "product", Writable: true, Virtual: false, Fields: []AssocField{{Name: "id", Required: true}}},
			{Name: "product_bundle", ItemNode: "product", Writable: true, Virtual: false, Fields: []AssocField{{Name: "id", Required: true}, {Name: "id_product_attribute"}, {Name: "quantity"}}},
		}},
		{Name: "combinations", Node: "combination", ListNode: "combinations", Methods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "id_product", Kind: KindInt, Required: true},
			{Name: "ean13", Kind: KindString, MaxSize: 13},
			{Name: "isbn", Kind: KindString, MaxSize: 32},
			{Name: "upc", Kind: KindString, MaxSize: 12},
			{Name: "mpn", Kind: KindString, MaxSize: 40},
			{Name: "reference", Kind: KindString, MaxSize: 64},
			{Name: "supplier_reference", Kind: KindString, MaxSize: 64},
			{Name: "wholesale_price", Kind: KindFloat, MaxSize: 27},
			{Name: "price", Kind: KindFloat, MaxSize: 20},
			{Name: "ecotax", Kind: KindFloat, MaxSize: 20},
			{Name: "weight", Kind: KindFloat},
			{Name: "unit_price_impact", Kind: KindFloat, MaxSize: 20},
			{Name: "minimal_quantity", Kind: KindInt, Required: true},
			{Name: "low_stock_threshold", Kind: KindInt, Nullable: true},
			{Name: "low_stock_alert", Kind: KindBool},
			{Name: "default_on", Kind: KindBool, Nullable: true},
			{Name: "available_date", Kind: KindDate},
			{Name: "available_now", Kind: KindString, I18n: true, MaxSize: 255},
			{Name: "available_later", Kind: KindString, I18n: true, MaxSize: 255},
		}, Associations: []AssocFact{
			{Name: "product_option_values", ItemNode: "product_option_value", Writable: true, Virtual: false, Fields: []AssocField{{Name: "id"}}},
			{Name: "images", ItemNode: "image", Writable: true, Virtual: false, Fields: []AssocField{{Name: "id"}}},
		}},
		{Name: "stock_availables", Node: "stock_available", ListNode: "stock_availables", Methods: []string{"GET", "HEAD", "PUT", "PATCH"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "id_product", Kind: KindInt, Required: true},
			{Name: "id_product_attribute", Kind: KindInt, Required: true},
			{Name: "id_shop", Kind: KindInt},
			{Name: "id_shop_group", Kind: KindInt},
			{Name: "quantity", Kind: KindInt, Required: true, Min: -2147483648, Max: 2147483647},
			{Name: "depends_on_stock", Kind: KindBool, Required: true},
			{Name: "out_of_stock", Kind: KindInt, Required: true},
			{Name: "location", Kind: KindString, MaxSize: 255},
		}, Associations: []AssocFact{}},
		{Name: "customers", Node: "customer", ListNode: "customers", Methods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "id_default_group", Kind: KindInt},
			{Name: "id_lang", Kind: KindInt},
			{Name: "newsletter_date_add", Kind: KindDate},
			{Name: "ip_registration_newsletter", Kind: KindString},
			{Name: "last_passwd_gen", Kind: KindString},
			{Name: "secure_key", Kind: KindString},
			{Name: "deleted", Kind: KindBool},
			{Name: "passwd", Kind: KindString, Required: true, MaxSize: 255},
			{Name: "lastname", Kind: KindString, Required: true, MaxSize: 255},
			{Name: "firstname", Kind: KindString, Required: true, MaxSize: 255},
			{Name: "email", Kind: KindString, Required: true, MaxSize: 255},
			{Name: "id_gender", Kind: KindInt},
			{Name: "birthday", Kind: KindDate},
			{Name: "newsletter", Kind: KindBool},
			{Name: "optin", Kind: KindBool},
			{Name: "website", Kind: KindString},
			{Name: "company", Kind: KindString},
			{Name: "siret", Kind: KindString},
			{Name: "ape", Kind: KindString},
			{Name: "outstanding_allow_amount", Kind: KindFloat},
			{Name: "show_public_prices", Kind: KindBool},
			{Name: "id_risk", Kind: KindInt},
			{Name: "max_payment_days", Kind: KindInt},
			{Name: "active", Kind: KindBool},
			{Name: "note", Kind: KindHTML, MaxSize: 4194303},
			{Name: "is_guest", Kind: KindBool},
			{Name: "id_shop", Kind: KindInt},
			{Name: "id_shop_group", Kind: KindInt},
			{Name: "date_add", Kind: KindDate, ServerSets: true},
			{Name: "date_upd", Kind: KindDate, ServerSets: true},
			{Name: "reset_password_token", Kind: KindString, MaxSize: 40},
			{Name: "reset_password_validity", Kind: KindDate},
		}, Associations: []AssocFact{
			{Name: "groups", ItemNode: "group", Writable: true, Virtual: false, Fields: []AssocField{{Name: "id"}}},
		}},
		{Name: "addresses", Node: "address", ListNode: "addresses", Methods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "id_customer", Kind: KindInt},
			{Name: "id_manufacturer", Kind: KindInt},
			{Name: "id_supplier", Kind: KindInt},
			{Name: "id_warehouse", Kind: KindInt},
			{Name: "id_country", Kind: KindInt, Required: true},
			{Name: "id_state", Kind: KindInt},
			{Name: "alias", Kind: KindString, Required: true, MaxSize: 32},
			{Name: "company", Kind: KindString, MaxSize: 255},
			{Name: "lastname", Kind: KindString, Required: true, MaxSize: 255},
			{Name: "firstname", Kind: KindString, Required: true, MaxSize: 255},
			{Name: "vat_number", Kind: KindString},
			{Name: "address1", Kind: KindString, Required: true, MaxSize: 128},
			{Name: "address2", Kind: KindString, MaxSize: 128},
			{Name: "postcode", Kind: KindString, MaxSize: 12},
			{Name: "city", Kind: KindString, Required: true, MaxSize: 64},
			{Name: "other", Kind: KindString, MaxSize: 4194303},
			{Name: "phone", Kind: KindString, MaxSize: 32},
			{Name: "phone_mobile", Kind: KindString, MaxSize: 32},
			{Name: "dni", Kind: KindString, MaxSize: 16},
			{Name: "deleted", Kind: KindBool},
			{Name: "date_add", Kind: KindDate, ServerSets: true},
			{Name: "date_upd", Kind: KindDate, ServerSets: true},
		}, Associations: []AssocFact{}},
		{Name: "orders", Node: "order", ListNode: "orders", Methods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "id_address_delivery", Kind: KindInt, Required: true},
			{Name: "id_address_invoice", Kind: KindInt, Required: true},
			{Name: "id_cart", Kind: KindInt, Required: true},
			{Name: "id_currency", Kind: KindInt, Required: true},
			{Name: "id_lang", Kind: KindInt, Required: true},
			{Name: "id_customer", Kind: KindInt, Required: true},
			{Name: "id_carrier", Kind: KindInt, Required: true},
			{Name: "current_state", Kind: KindInt},
			{Name: "module", Kind: KindString, Required: true},
			{Name: "invoice_number", Kind: KindInt},
			{Name: "invoice_date", Kind: KindDate},
			{Name: "delivery_number", Kind: KindInt},
			{Name: "delivery_date", Kind: KindDate},
			{Name: "valid", Kind: KindBool},
			{Name: "date_add", Kind: KindDate, ServerSets: true},
			{Name: "date_upd", Kind: KindDate, ServerSets: true},
			{Name: "shipping_number", Kind: KindVirtual, Virtual: "string", NotFilterable: true},
			{Name: "note", Kind: KindHTML, MaxSize: 4194303},
			{Name: "id_shop_group", Kind: KindInt},
			{Name: "id_shop", Kind: KindInt},
			{Name: "secure_key", Kind: KindString},
			{Name: "payment", Kind: KindString, Required: true},
			{Name: "recyclable", Kind: KindBool},
			{Name: "gift", Kind: KindBool},
			{Name: "gift_message", Kind: KindString, MaxSize: 4194303},
			{Name: "mobile_theme", Kind: KindBool},
			{Name: "total_discounts", Kind: KindFloat},
			{Name: "total_discounts_tax_incl", Kind: KindFloat},
			{Name: "total_discounts_tax_excl", Kind: KindFloat},
			{Name: "total_paid", Kind: KindFloat, Required: true},
			{Name: "total_paid_tax_incl", Kind: KindFloat},
			{Name: "total_paid_tax_excl", Kind: KindFloat},
			{Name: "total_paid_real", Kind: KindFloat, Required: true},
			{Name: "total_products", Kind: KindFloat, Required: true},
			{Name: "total_products_wt", Kind: KindFloat, Required: true},
			{Name: "total_shipping", Kind: KindFloat},
			{Name: "total_shipping_tax_incl", Kind: KindFloat},
			{Name: "total_shipping_tax_excl", Kind: KindFloat},
			{Name: "carrier_tax_rate", Kind: KindFloat},
			{Name: "total_wrapping", Kind: KindFloat},
			{Name: "total_wrapping_tax_incl", Kind: KindFloat},
			{Name: "total_wrapping_tax_excl", Kind: KindFloat},
			{Name: "round_mode", Kind: KindInt},
			{Name: "round_type", Kind: KindInt},
			{Name: "conversion_rate", Kind: KindFloat, Required: true},
			{Name: "reference", Kind: KindString},
		}, Associations: []AssocFact{
			{Name: "order_rows", ItemNode: "order_row", Writable: false, Virtual: true, Fields: []AssocField{{Name: "id"}, {Name: "product_id", Required: true}, {Name: "product_attribute_id", Required: true}, {Name: "product_quantity", Required: true}, {Name: "product_name", ReadOnly: true}, {Name: "product_reference", ReadOnly: true}, {Name: "product_ean13", ReadOnly: true}, {Name: "product_isbn", ReadOnly: true}, {Name: "product_upc", ReadOnly: true}, {Name: "product_price", ReadOnly: true}, {Name: "id_customization"}, {Name: "unit_price_tax_incl", ReadOnly: true}, {Name: "unit_price_tax_excl", ReadOnly: true}}},
		}},
		{Name: "order_details", Node: "order_detail", ListNode: "order_details", Methods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "id_order", Kind: KindInt, Required: true},
			{Name: "product_id", Kind: KindInt},
			{Name: "product_attribute_id", Kind: KindInt},
			{Name: "product_quantity_reinjected", Kind: KindInt},
			{Name: "group_reduction", Kind: KindFloat},
			{Name: "discount_quantity_applied", Kind: KindInt},
			{Name: "download_hash", Kind: KindString},
			{Name: "download_deadline", Kind: KindDate},
			{Name: "id_order_invoice", Kind: KindInt},
			{Name: "id_warehouse", Kind: KindInt, Required: true},
			{Name: "id_shop", Kind: KindInt, Required: true},
			{Name: "id_customization", Kind: KindInt},
			{Name: "product_name", Kind: KindString, Required: true, MaxSize: 4194303},
			{Name: "product_quantity", Kind: KindInt, Required: true},
			{Name: "product_quantity_in_stock", Kind: KindInt},
			{Name: "product_quantity_return", Kind: KindInt},
			{Name: "product_quantity_refunded", Kind: KindInt},
			{Name: "product_price", Kind: KindFloat, Required: true},
			{Name: "reduction_percent", Kind: KindFloat},
			{Name: "reduction_amount", Kind: KindFloat},
			{Name: "reduction_amount_tax_incl", Kind: KindFloat},
			{Name: "reduction_amount_tax_excl", Kind: KindFloat},
			{Name: "product_quantity_discount", Kind: KindFloat},
			{Name: "product_ean13", Kind: KindString},
			{Name: "product_isbn", Kind: KindString},
			{Name: "product_upc", Kind: KindString},
			{Name: "product_mpn", Kind: KindString},
			{Name: "product_reference", Kind: KindString},
			{Name: "product_supplier_reference", Kind: KindString},
			{Name: "product_weight", Kind: KindFloat},
			{Name: "tax_name", Kind: KindString, Hidden: true},
			{Name: "tax_rate", Kind: KindFloat, Hidden: true},
			{Name: "tax_computation_method", Kind: KindInt},
			{Name: "id_tax_rules_group", Kind: KindInt},
			{Name: "ecotax", Kind: KindFloat},
			{Name: "ecotax_tax_rate", Kind: KindFloat},
			{Name: "download_nb", Kind: KindInt},
			{Name: "unit_price_tax_incl", Kind: KindFloat},
			{Name: "unit_price_tax_excl", Kind: KindFloat},
			{Name: "total_price_tax_incl", Kind: KindFloat},
			{Name: "total_price_tax_excl", Kind: KindFloat},
			{Name: "total_shipping_price_tax_excl", Kind: KindFloat},
			{Name: "total_shipping_price_tax_incl", Kind: KindFloat},
			{Name: "purchase_supplier_price", Kind: KindFloat},
			{Name: "original_product_price", Kind: KindFloat},
			{Name: "original_wholesale_price", Kind: KindFloat},
			{Name: "total_refunded_tax_excl", Kind: KindFloat},
			{Name: "total_refunded_tax_incl", Kind: KindFloat},
		}, Associations: []AssocFact{
			{Name: "taxes", ItemNode: "tax", Writable: false, Virtual: false, Fields: []AssocField{{Name: "id"}}},
		}},
		{Name: "order_states", Node: "order_state", ListNode: "order_states", Methods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "unremovable", Kind: KindBool},
			{Name: "delivery", Kind: KindBool},
			{Name: "hidden", Kind: KindBool},
			{Name: "send_email", Kind: KindBool},
			{Name: "module_name", Kind: KindString},
			{Name: "invoice", Kind: KindBool},
			{Name: "color", Kind: KindString},
			{Name: "logable", Kind: KindBool},
			{Name: "shipped", Kind: KindBool},
			{Name: "paid", Kind: KindBool},
			{Name: "pdf_delivery", Kind: KindBool},
			{Name: "pdf_invoice", Kind: KindBool},
			{Name: "deleted", Kind: KindBool},
			{Name: "name", Kind: KindString, Required: true, I18n: true, MaxSize: 64},
			{Name: "template", Kind: KindString, I18n: true, MaxSize: 64},
		}, Associations: []AssocFact{}},
		{Name: "order_histories", Node: "order_history", ListNode: "order_histories", Methods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "id_employee", Kind: KindInt},
			{Name: "id_order_state", Kind: KindInt, Required: true},
			{Name: "id_order", Kind: KindInt, Required: true},
			{Name: "date_add", Kind: KindDate, ServerSets: true},
		}, Associations: []AssocFact{}},
		{Name: "order_payments", Node: "order_payment", ListNode: "order_payments", Methods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "order_reference", Kind: KindString, MaxSize: 9},
			{Name: "id_currency", Kind: KindInt, Required: true},
			{Name: "amount", Kind: KindFloat, Required: true},
			{Name: "payment_method", Kind: KindString},
			{Name: "conversion_rate", Kind: KindFloat},
			{Name: "transaction_id", Kind: KindString, MaxSize: 254},
			{Name: "card_number", Kind: KindString, MaxSize: 254},
			{Name: "card_brand", Kind: KindString, MaxSize: 254},
			{Name: "card_expiration", Kind: KindString, MaxSize: 254},
			{Name: "card_holder", Kind: KindString, MaxSize: 254},
			{Name: "date_add", Kind: KindDate, ServerSets: true},
			{Name: "id_employee", Kind: KindInt, Nullable: true},
		}, Associations: []AssocFact{}},
		{Name: "currencies", Node: "currency", ListNode: "currencies", Methods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "names", Kind: KindVirtual, Virtual: "string", I18n: true, NotFilterable: true},
			{Name: "name", Kind: KindString, I18n: true, NotFilterable: true, MaxSize: 255},
			{Name: "symbol", Kind: KindString, I18n: true, NotFilterable: true, MaxSize: 255},
			{Name: "iso_code", Kind: KindString, Required: true, MaxSize: 3},
			{Name: "numeric_iso_code", Kind: KindString, MaxSize: 3, Nullable: true},
			{Name: "precision", Kind: KindInt},
			{Name: "conversion_rate", Kind: KindFloat, Required: true},
			{Name: "deleted", Kind: KindBool},
			{Name: "active", Kind: KindBool},
			{Name: "unofficial", Kind: KindBool},
			{Name: "modified", Kind: KindBool},
			{Name: "pattern", Kind: KindString, I18n: true, MaxSize: 255},
		}, Associations: []AssocFact{}},
		{Name: "taxes", Node: "tax", ListNode: "taxes", Methods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "rate", Kind: KindFloat, Required: true},
			{Name: "active", Kind: KindBool},
			{Name: "deleted", Kind: KindBool},
			{Name: "name", Kind: KindString, Required: true, I18n: true, MaxSize: 32},
		}, Associations: []AssocFact{}},
		{Name: "tax_rules", Node: "tax_rule", ListNode: "tax_rules", Methods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "id_tax_rules_group", Kind: KindInt, Required: true},
			{Name: "id_state", Kind: KindInt},
			{Name: "id_country", Kind: KindInt, Required: true},
			{Name: "zipcode_from", Kind: KindString},
			{Name: "zipcode_to", Kind: KindString},
			{Name: "id_tax", Kind: KindInt, Required: true},
			{Name: "behavior", Kind: KindInt},
			{Name: "description", Kind: KindString},
		}, Associations: []AssocFact{}},
		{Name: "tax_rule_groups", Node: "tax_rule_group", ListNode: "tax_rule_groups", Methods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "name", Kind: KindString, Required: true, MaxSize: 64},
			{Name: "active", Kind: KindBool},
			{Name: "deleted", Kind: KindBool},
			{Name: "date_add", Kind: KindDate, ServerSets: true},
			{Name: "date_upd", Kind: KindDate, ServerSets: true},
		}, Associations: []AssocFact{}},
		{Name: "languages", Node: "language", ListNode: "languages", Methods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "name", Kind: KindString, Required: true, MaxSize: 32},
			{Name: "iso_code", Kind: KindString, Required: true, MaxSize: 2},
			{Name: "locale", Kind: KindString, MaxSize: 5},
			{Name: "language_code", Kind: KindString, MaxSize: 5},
			{Name: "active", Kind: KindBool},
			{Name: "is_rtl", Kind: KindBool},
			{Name: "date_format_lite", Kind: KindString, Required: true, MaxSize: 32},
			{Name: "date_format_full", Kind: KindString, Required: true, MaxSize: 32},
		}, Associations: []AssocFact{}},
		{Name: "countries", Node: "country", ListNode: "countries", Source: "classes/Country.php", Methods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "id_zone", Kind: KindInt, Required: true},
			{Name: "id_currency", Kind: KindInt},
			{Name: "call_prefix", Kind: KindInt},
			{Name: "iso_code", Kind: KindString, Required: true, MaxSize: 3},
			{Name: "active", Kind: KindBool},
			{Name: "contains_states", Kind: KindBool, Required: true},
			{Name: "need_identification_number", Kind: KindBool, Required: true},
			{Name: "need_zip_code", Kind: KindBool},
			{Name: "zip_code_format", Kind: KindString, MaxSize: 12},
			{Name: "display_tax_label", Kind: KindBool, Required: true},
			{Name: "name", Kind: KindString, Required: true, I18n: true, MaxSize: 64},
		}},
		// A credit slip: the shop's refund of units and/or shipping of an
		// order. From OrderSlip::$definition and $webserviceParameters in
		// PrestaShop's classes/order/OrderSlip.php (1.7 and 8.x alike). The
		// webservice resource is singular, order_slip, its list node
		// order_slips. order_slip_details is a virtual association (no API
		// resource, no setter): getWsOrderSlipDetails selects
		// "id_order_slip as id", so an item's id is the slip's id, not the
		// detail's. amount_tax_excl/incl of a detail are its refunded
		// amounts (total_price_tax_excl/incl in OrderSlip::create).
		{Name: "order_slip", Node: "order_slip", ListNode: "order_slips", Source: "classes/order/OrderSlip.php", Methods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, Fields: []FieldFact{
			{Name: "id", Kind: KindInt},
			{Name: "id_customer", Kind: KindInt, Required: true},
			{Name: "id_order", Kind: KindInt, Required: true},
			{Name: "conversion_rate", Kind: KindFloat, Required: true},
			{Name: "total_products_tax_excl", Kind: KindFloat, Required: true},
			{Name: "total_products_tax_incl", Kind: KindFloat, Required: true},
			{Name: "total_shipping_tax_excl", Kind: KindFloat, Required: true},
			{Name: "total_shipping_tax_incl", Kind: KindFloat, Required: true},
			{Name: "amount", Kind: KindFloat},
			{Name: "shipping_cost", Kind: KindInt},
			{Name: "shipping_cost_amount", Kind: KindFloat},
			{Name: "partial", Kind: KindInt},
			{Name: "date_add", Kind: KindDate, ServerSets: true},
			{Name: "date_upd", Kind: KindDate, ServerSets: true},
			{Name: "order_slip_type", Kind: KindInt},
		}, Associations: []AssocFact{
			{Name: "order_slip_details", ItemNode: "order_slip_detail", Writable: false, Virtual: true, Fields: []AssocField{{Name: "id"}, {Name: "id_order_detail", Required: true}, {Name: "product_quantity", Required: true}, {Name: "amount_tax_excl", Required: true}, {Name: "amount_tax_incl", Required: true}}},
		}},
	}
}
