package prestashop

import (
	"errors"
	"os"
	"testing"

	"github.com/goccy/go-yaml"
)

// resourcesSpec is PrestaShop's webservice facts as kept in the shared folder
// of the work tree; absent in a plain checkout, where the test skips.
const resourcesSpec = "../../../shared/specs/prestashop/resources.yaml"

// TestFactsFollowTheSpec: the field facts the connector and the emulator
// share (Facts) say what resources.yaml says of every field: present,
// required, read-only, hidden (never output), multilingual. A resource the
// spec does not document must name the PrestaShop source it was written
// from (Source), and one the spec documents must not.
func TestFactsFollowTheSpec(t *testing.T) {
	b, err := os.ReadFile(resourcesSpec)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s not present", resourcesSpec)
	}
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Resources map[string]struct {
			Fields []struct {
				Name     string `yaml:"name"`
				Type     string `yaml:"type"`
				Required bool   `yaml:"required"`
				ReadOnly bool   `yaml:"read_only"`
				Hidden   bool   `yaml:"hidden"`
				I18n     bool   `yaml:"i18n"`
			} `yaml:"fields"`
		} `yaml:"resources"`
	}
	if err := yaml.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for name, fact := range Facts() {
		res, ok := spec.Resources[name]
		switch {
		case !ok && fact.Source == "":
			t.Errorf("%s: not in the spec, and its facts name no PrestaShop source", name)
			continue
		case !ok:
			continue // written by hand from fact.Source
		case fact.Source != "":
			t.Errorf("%s: in the spec, but its facts say they come from %s", name, fact.Source)
		}
		for _, sf := range res.Fields {
			f, ok := fact.Field(sf.Name)
			if !ok {
				t.Errorf("%s.%s: in the spec, not in the facts", name, sf.Name)
				continue
			}
			checked++
			if sf.Name == "id" {
				continue
			}
			if f.Hidden != sf.Hidden || f.ReadOnly != sf.ReadOnly || f.I18n != sf.I18n || f.Required != sf.Required {
				t.Errorf("%s.%s: facts hidden=%v read-only=%v i18n=%v required=%v, spec %v %v %v %v", name, sf.Name,
					f.Hidden, f.ReadOnly, f.I18n, f.Required, sf.Hidden, sf.ReadOnly, sf.I18n, sf.Required)
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d fields compared", checked)
	}
}
