// Package pipelines holds synk's ready pipelines; the flagship one is
// embedded so `synk init` can write a copy anywhere.
package pipelines

import _ "embed"

//go:embed prestashop-fiken.yaml
var prestashopFiken string

// PrestashopFiken is the text of prestashop-fiken.yaml, the PrestaShop ⇄
// Fiken pipeline.
func PrestashopFiken() string { return prestashopFiken }
